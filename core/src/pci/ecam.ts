/**
 * PCI Express enhanced configuration access (ECAM, "MMCONFIG"): config space as memory, 4 KiB
 * per function at `bus << 20 | devfn << 12 | offset`. What QEMU's generic ECAM host bridge
 * (`pci-host-ecam-generic`) and q35's MMCONFIG window decode.
 *
 * Functions here have conventional 256-byte config space: offsets 0x100..0xfff of a present
 * function read 0 (so a capability walk at 0x100 finds no extended capability, as Linux
 * expects of a conventional function) and ignore writes; an absent function reads all-ones.
 * Accesses are 1, 2 or 4 bytes, naturally aligned (the PCIe rule); others are refused.
 */
import type { MemorySystem } from '../memory/memory-system.js';
import type { MemoryRegion } from '../memory/region.js';
import type { PciBus } from './pci-bus.js';

/** One bus of ECAM space: 32 devices x 8 functions x 4 KiB. */
export const ECAM_BUS_SIZE = 1 << 20;

/** Makes the ECAM region (`size`: a multiple of 1 MiB, one bus each); the caller places it. */
export function createEcam(
  ms: MemorySystem,
  name: string,
  size: number,
  buses: (n: number) => PciBus | undefined,
): MemoryRegion {
  const decode = (offset: number) => ({
    bus: buses(Math.floor(offset / ECAM_BUS_SIZE)),
    devfn: (offset >>> 12) & 0xff,
    reg: offset & 0xfff,
  });
  return ms.createMmio(
    name,
    size,
    {
      read: (offset, size) => {
        const t = decode(offset);
        if (t.bus === undefined) return size >= 4 ? 0xffffffff : (1 << (8 * size)) - 1;
        if (t.bus.find(t.devfn) === undefined) return t.bus.configRead(t.devfn, 0, size);
        return t.reg >= 0x100 ? 0 : t.bus.configRead(t.devfn, t.reg, size);
      },
      write: (offset, size, value) => {
        const t = decode(offset);
        if (t.bus !== undefined && t.reg < 0x100)
          t.bus.configWrite(t.devfn, t.reg, size, Number(value));
        return undefined;
      },
    },
    { valid: { min: 1, max: 4 }, impl: { min: 1, max: 4 } },
  );
}
