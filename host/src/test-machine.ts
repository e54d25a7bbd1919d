/**
 * A small pc-shaped machine for host tests (and the SDK conformance kits until the pc plugin
 * exists): 16 MiB RAM at 0, PCI memory below it at priority -1, bus `pci.0` with config
 * mechanism #1 and first slot 2, an `ioapic` whose inputs 16..19 take the bus's INTx lines.
 */
import { attachConfigMechanism1, createMachine, type Machine, PciBus } from '@emuhost/core';
import type { GuestPhysAddr, IoPortAddr } from '@emuhost/sdk';

export function testMachine(): Machine {
  const m = createMachine({ name: 'test' });
  const ms = m.memorySystem;
  const ioapic = m.addInterruptController('ioapic', 24);
  const pciMem = ms.createContainer('pci-memory', 2 ** 53);
  const bus = new PciBus('pci.0', {
    memory: pciMem,
    io: m.systemIo,
    dma: m.dma,
    firstSlot: 2,
    setIrq: (line, level) => ioapic.setInput(16 + line, level),
  });
  m.pciBuses.set(bus.name, bus);
  ms.transaction(() => {
    m.systemMemory.addSubregion(ms.createRam('ram', 16 << 20), 0);
    m.systemMemory.addSubregion(pciMem, 0, { priority: -1 });
    attachConfigMechanism1(ms, m.systemIo, (n) => (n === 0 ? bus : undefined));
  });
  return m;
}

/** Config space through 0xcf8/0xcfc, as libqos does it. */
export function configIo(m: Machine) {
  const port = (n: number) => n as IoPortAddr;
  const select = (devfn: number, off: number) =>
    m.io.store(port(0xcf8), 4, (0x80000000 | (devfn << 8) | off) >>> 0);
  return {
    read(devfn: number, off: number, size: 1 | 2 | 4): number {
      select(devfn, off);
      return m.io.load(port(0xcfc + (off & 3)), size) as number;
    },
    write(devfn: number, off: number, size: 1 | 2 | 4, v: number): void {
      select(devfn, off);
      m.io.store(port(0xcfc + (off & 3)), size, v);
    },
  };
}

/**
 * Places `dev`'s BAR 0 at `bar`, enables memory decoding and bus mastering (as a driver's
 * probe does), and gives 32-bit register access to it.
 */
export function enableBar0(m: Machine, devfn: number, bar: number) {
  const cfg = configIo(m);
  cfg.write(devfn, 0x10, 4, bar);
  cfg.write(devfn, 0x04, 2, 0x6);
  const at = (off: number) => (bar + off) as GuestPhysAddr;
  return {
    rd: (off: number) => m.memory.load(at(off), 4) as number,
    wr: (off: number, v: number) => void m.memory.store(at(off), 4, v),
  };
}
