/**
 * PCI configuration mechanism #1: CONFIG_ADDRESS at I/O port 0xcf8 and CONFIG_DATA at
 * 0xcfc, with QEMU's exact behaviour (hw/pci/pci_host.c), because QEMU's test clients depend
 * on it:
 * - only a 4-byte write at 0xcf8 latches CONFIG_ADDRESS; narrower writes, or writes at
 *   0xcf9..0xcfb, are ignored; any read returns the latched value (truncated to the access);
 * - a data access uses CONFIG_ADDRESS with its low two bits kept and ORed with the data
 *   port offset (libqos writes unaligned offsets to 0xcf8 and always uses port 0xcfc);
 * - with bit 31 clear, data reads are all-ones and writes are dropped; an absent function
 *   reads all-ones.
 */
import type { MemorySystem } from '../memory/memory-system.js';
import type { MemoryRegion } from '../memory/region.js';
import type { PciBus } from './pci-bus.js';

export const CONFIG_ADDRESS_PORT = 0xcf8;
export const CONFIG_DATA_PORT = 0xcfc;

export interface ConfigMechanism {
  readonly address: MemoryRegion;
  readonly data: MemoryRegion;
  /** The latched CONFIG_ADDRESS. */
  readonly configAddress: () => number;
}

/** Creates the two port regions and maps them into `io` (the port I/O root). */
export function attachConfigMechanism1(
  ms: MemorySystem,
  io: MemoryRegion,
  buses: (n: number) => PciBus | undefined,
): ConfigMechanism {
  // A typed-array register: a latched value with bit 31 set would otherwise box a number per write.
  const latch = new Uint32Array(1);
  const address = ms.createMmio('pci-conf-idx', 4, {
    read: () => latch[0]!,
    write: (offset, size, value) => {
      if (offset === 0 && size === 4) latch[0] = Number(value);
      return undefined;
    },
  });
  const target = (port: number) => {
    const a = (latch[0]! | port) >>> 0;
    return { bus: buses((a >>> 16) & 0xff), devfn: (a >>> 8) & 0xff, offset: a & 0xff };
  };
  const data = ms.createMmio('pci-conf-data', 4, {
    read: (offset, size) => {
      if (!(latch[0]! & 0x80000000)) return 0xffffffff;
      const t = target(offset);
      return t.bus === undefined ? 0xffffffff : t.bus.configRead(t.devfn, t.offset, size);
    },
    write: (offset, size, value) => {
      if (!(latch[0]! & 0x80000000)) return undefined;
      const t = target(offset);
      t.bus?.configWrite(t.devfn, t.offset, size, Number(value));
      return undefined;
    },
  });
  io.addSubregion(address, CONFIG_ADDRESS_PORT);
  io.addSubregion(data, CONFIG_DATA_PORT);
  return { address, data, configAddress: () => latch[0]! };
}
