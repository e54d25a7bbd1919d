import { type GuestPhysAddr, type IoPortAddr, iova } from '@emuhost/sdk';
import { describe, expect, it } from 'vitest';
import { MsiSink } from '../irq/msi-sink.js';
import { createMachine, type Machine } from '../machine.js';
import { recordingDevice } from '../memory/test-util.js';
import { attachConfigMechanism1 } from './config-mechanism.js';
import { PCI_CFG } from './config-space.js';
import { PciBus } from './pci-bus.js';
import type { PciFunction } from './pci-function.js';

const port = (n: number) => n as IoPortAddr;
const phys = (n: number) => n as GuestPhysAddr;

/** A pc-shaped machine: RAM, a PCI bus whose memory shows below RAM's priority, CF8/CFC. */
function pcLike() {
  const m = createMachine();
  const ms = m.memorySystem;
  const ram = ms.createRam('ram', 16 << 20);
  const pciMem = ms.createContainer('pci-memory', 2 ** 53);
  const levels: number[] = [0, 0, 0, 0];
  const bus = new PciBus('pci.0', {
    memory: pciMem,
    io: m.systemIo,
    dma: m.dma,
    setIrq: (line, level) => {
      levels[line] = level;
    },
  });
  m.pciBuses.set('pci.0', bus);
  ms.transaction(() => {
    m.systemMemory.addSubregion(ram, 0);
    m.systemMemory.addSubregion(pciMem, 0, { priority: -1 });
    attachConfigMechanism1(ms, m.systemIo, (n) => (n === 0 ? bus : undefined));
  });
  return { m, bus, ram, levels };
}

/** Config access exactly as libqos's pci-pc.c does it: offset unmasked, always port 0xcfc. */
function libqos(m: Machine) {
  const addr = (devfn: number, off: number) => (0x80000000 | (devfn << 8) | off) >>> 0;
  const read = (devfn: number, off: number, size: 1 | 2 | 4) => {
    m.io.store(port(0xcf8), 4, addr(devfn, off));
    return m.io.load(port(0xcfc), size);
  };
  return {
    readb: (devfn: number, off: number) => read(devfn, off, 1),
    readw: (devfn: number, off: number) => read(devfn, off, 2),
    readl: (devfn: number, off: number) => read(devfn, off, 4),
    writew: (devfn: number, off: number, v: number) => {
      m.io.store(port(0xcf8), 4, addr(devfn, off));
      m.io.store(port(0xcfc), 2, v);
    },
    writel: (devfn: number, off: number, v: number) => {
      m.io.store(port(0xcf8), 4, addr(devfn, off));
      m.io.store(port(0xcfc), 4, v);
    },
  };
}

function demoDevice(m: Machine, bus: PciBus, devfn: number, id = 'demo') {
  let fn!: PciFunction;
  const dev = recordingDevice(0x1000);
  m.attachDevice(id, (scope) => {
    fn = scope.attachPci(bus, devfn, {
      vendorId: 0x1234,
      deviceId: 0x11e8,
      revision: 0x10,
      classCode: 0x00ff00,
      interruptPin: 1,
    });
    const mmio = m.memorySystem.createMmio(
      `${id}-mmio`,
      0x1000,
      dev.ops,
      { valid: { min: 4, max: 4 } },
      { guard: scope.guard },
    );
    fn.addBar(0, { kind: 'memory', size: 0x1000 }, mmio);
    const big = m.memorySystem.createRam(`${id}-bar2`, 0x100000);
    fn.addBar(2, { kind: 'memory', size: 0x100000, is64: true, prefetchable: true }, big);
    const ioRegion = m.memorySystem.createMmio(
      `${id}-io`,
      0x20,
      dev.ops,
      {},
      { guard: scope.guard },
    );
    fn.addBar(4, { kind: 'io', size: 0x20 }, ioRegion);
    fn.addMsi();
    return {};
  });
  return { fn, dev };
}

describe('PCI through CF8/CFC, as a libqos client does it', () => {
  it('enumerates, sizes and assigns a BAR, enables MEM and MASTER, reads a register, and loses DMA with MASTER', () => {
    const { m, bus, ram } = pcLike();
    const { fn, dev } = demoDevice(m, bus, 2 << 3);
    const q = libqos(m);
    const found: number[] = [];
    for (let devfn = 0; devfn < 256; devfn++)
      if (q.readw(devfn, PCI_CFG.VENDOR_ID) !== 0xffff) found.push(devfn);
    expect(found).toEqual([0x10]);
    expect(q.readl(0x10, 0)).toBe(0x11e81234);
    expect(q.readl(0x10, 8)).toBe(0x00ff0010);
    expect(q.readl(0x10, 0x3c)).toBe(0x00000100);

    q.writel(0x10, 0x10, 0xffffffff);
    const probe = q.readl(0x10, 0x10) as number;
    expect(probe).toBe(0xfffff000);
    const size = probe & -probe; // libqos: 1 << ctz32(probe)
    expect(size).toBe(0x1000);
    q.writel(0x10, 0x10, 0xe0000000);
    expect(m.memory.load(phys(0xe0000000), 4)).toBe('decode-error');
    q.writew(0x10, PCI_CFG.COMMAND, (q.readw(0x10, PCI_CFG.COMMAND) as number) | 0x7);
    expect(q.readw(0x10, PCI_CFG.COMMAND)).toBe(0x7);
    dev.regs.set([0xed, 0, 0, 1], 0);
    expect(m.memory.load(phys(0xe0000000), 4)).toBe(0x010000ed);

    expect(fn.dma.writeU32LE(iova(0x1000), 0xfeedface)).toBe('ok');
    expect(ram.bytes![0x1000]).toBe(0xce);
    q.writew(0x10, PCI_CFG.COMMAND, 0x2);
    expect(fn.dma.writeU32LE(iova(0x1000), 0)).toMatchObject({ result: 'bus-master-disabled' });
    expect(ram.bytes![0x1000]).toBe(0xce);
    q.writew(0x10, PCI_CFG.COMMAND, 0x0);
    expect(m.memory.load(phys(0xe0000000), 4)).toBe('decode-error');
  });

  it('keeps CONFIG_ADDRESS low bits and ORs in the data port offset; ignores narrow address writes', () => {
    const { m, bus } = pcLike();
    demoDevice(m, bus, 0x10);
    m.io.store(port(0xcf8), 4, 0x80001002);
    expect(m.io.load(port(0xcfc), 2)).toBe(0x11e8);
    m.io.store(port(0xcf8), 4, 0x80001000);
    expect(m.io.load(port(0xcfe), 2)).toBe(0x11e8);
    expect(m.io.load(port(0xcfd), 1)).toBe(0x12);
    m.io.store(port(0xcf8), 2, 0);
    m.io.store(port(0xcf9), 1, 0);
    expect(m.io.load(port(0xcf8), 4)).toBe(0x80001000);
    m.io.store(port(0xcf8), 4, 0x00001000);
    expect(m.io.load(port(0xcfc), 4)).toBe(0xffffffff);
    m.io.store(port(0xcf8), 4, 0x80001800);
    expect(m.io.load(port(0xcfc), 4)).toBe(0xffffffff);
    expect(m.io.load(port(0xcfc), 1)).toBe(0xff);
  });

  it('enforces read-only and write-1-to-clear bits', () => {
    const { m, bus } = pcLike();
    const { fn } = demoDevice(m, bus, 0x10);
    const q = libqos(m);
    q.writel(0x10, 0, 0);
    expect(q.readl(0x10, 0)).toBe(0x11e81234);
    fn.config.set16(PCI_CFG.STATUS, fn.config.get16(PCI_CFG.STATUS) | 0x2000);
    q.writew(0x10, PCI_CFG.STATUS, 0x0010);
    expect((q.readw(0x10, PCI_CFG.STATUS) as number) & 0x2000).toBe(0x2000);
    q.writew(0x10, PCI_CFG.STATUS, 0x2000);
    expect((q.readw(0x10, PCI_CFG.STATUS) as number) & 0x2000).toBe(0);
    expect((q.readw(0x10, PCI_CFG.STATUS) as number) & 0x10).toBe(0x10);
    q.writew(0x10, PCI_CFG.COMMAND, 0xffff);
    expect(q.readw(0x10, PCI_CFG.COMMAND)).toBe(0x0507);
  });

  it('walks the capability list to MSI', () => {
    const { m, bus } = pcLike();
    demoDevice(m, bus, 0x10);
    const q = libqos(m);
    const cap = q.readb(0x10, PCI_CFG.CAPABILITY_LIST) as number;
    expect(cap).toBe(0x40);
    expect(q.readb(0x10, cap)).toBe(0x05);
    expect(q.readb(0x10, cap + 1)).toBe(0);
    expect(q.readw(0x10, cap + 2)).toBe(0x0080);
  });

  it('sizes and places a 64-bit BAR above 4 GiB, and an I/O BAR', () => {
    const { m, bus } = pcLike();
    const { fn } = demoDevice(m, bus, 0x10);
    const q = libqos(m);
    q.writel(0x10, 0x18, 0xffffffff);
    q.writel(0x10, 0x1c, 0xffffffff);
    expect(q.readl(0x10, 0x18)).toBe(0xfff0000c);
    expect(q.readl(0x10, 0x1c)).toBe(0xffffffff);
    q.writel(0x10, 0x18, 0x0000000c);
    q.writel(0x10, 0x1c, 0x1);
    q.writel(0x10, 0x20, 0xffffffff);
    expect(q.readl(0x10, 0x20)).toBe(0xffffffe1);
    q.writel(0x10, 0x20, 0xc001);
    q.writew(0x10, PCI_CFG.COMMAND, 0x3);
    expect(fn.bars[2]!.mappedAt).toBe(0x1_0000_0000);
    expect(m.memory.store(phys(0x1_0000_0010), 4, 0xabcd)).toBe('ok');
    expect(m.memory.load(phys(0x1_0000_0010), 4)).toBe(0xabcd);
    expect(fn.bars[4]!.mappedAt).toBe(0xc000);
    expect(m.io.store(port(0xc004), 4, 0x55)).toBe('ok');
    expect(m.io.load(port(0xc004), 4)).toBe(0x55);
    // Moving the BAR remaps it.
    q.writel(0x10, 0x1c, 0x2);
    expect(m.memory.load(phys(0x1_0000_0010), 4)).toBe('decode-error');
    expect(m.memory.load(phys(0x2_0000_0010), 4)).toBe(0xabcd);
  });

  it('swizzles INTx to bus lines, wired-OR, masked by INTX_DISABLE', () => {
    const { m, bus, levels } = pcLike();
    const a = demoDevice(m, bus, 3 << 3, 'a').fn;
    const b = demoDevice(m, bus, 7 << 3, 'b').fn;
    a.setIntx(1);
    expect(levels).toEqual([0, 0, 0, 1]);
    b.setIntx(1);
    expect(levels).toEqual([0, 0, 0, 1]);
    a.setIntx(0);
    expect(levels).toEqual([0, 0, 0, 1]);
    b.setIntx(0);
    expect(levels).toEqual([0, 0, 0, 0]);
    a.setIntx(1);
    expect(a.config.get16(PCI_CFG.STATUS) & 0x8).toBe(0x8);
    libqos(m).writew(3 << 3, PCI_CFG.COMMAND, 0x400);
    expect(levels[3]).toBe(0);
    libqos(m).writew(3 << 3, PCI_CFG.COMMAND, 0);
    expect(levels[3]).toBe(1);
  });

  it('delivers MSI as a memory write through the function’s DMA context', () => {
    const { m, bus } = pcLike();
    const sink = new MsiSink(m.memorySystem, 'msi', 0xfee00000);
    m.systemMemory.addSubregion(sink.region, 0xfee00000);
    const { fn } = demoDevice(m, bus, 0x10);
    const q = libqos(m);
    expect(fn.msi!.notify()).toBeUndefined();
    q.writel(0x10, 0x44, 0xfee01000);
    q.writel(0x10, 0x48, 0);
    q.writew(0x10, 0x4c, 0x4041);
    q.writew(0x10, 0x42, 0x0001);
    q.writew(0x10, PCI_CFG.COMMAND, 0x4);
    expect(fn.msi!.notify()).toBe('ok');
    expect(sink.messages).toEqual([{ address: 0xfee01000, data: 0x4041, requesterId: 0x10 }]);
    q.writew(0x10, PCI_CFG.COMMAND, 0x0);
    expect(fn.msi!.notify()).toMatchObject({ result: 'bus-master-disabled' });
    expect(sink.messages).toHaveLength(1);
  });

  it('sets the multifunction bit when a slot has several functions', () => {
    const { m, bus } = pcLike();
    demoDevice(m, bus, 0x20, 'f0');
    expect(libqos(m).readb(0x20, PCI_CFG.HEADER_TYPE)).toBe(0);
    demoDevice(m, bus, 0x21, 'f1');
    expect(libqos(m).readb(0x20, PCI_CFG.HEADER_TYPE)).toBe(0x80);
    m.detachDevice('f1');
    expect(libqos(m).readb(0x20, PCI_CFG.HEADER_TYPE)).toBe(0);
  });

  it('resets a function: command, BARs and MSI cleared, INTx lowered', () => {
    const { m, bus, levels } = pcLike();
    const { fn } = demoDevice(m, bus, 0x10);
    const q = libqos(m);
    q.writel(0x10, 0x10, 0xe0000000);
    q.writew(0x10, PCI_CFG.COMMAND, 0x7);
    q.writew(0x10, 0x42, 1);
    fn.setIntx(1);
    expect(levels[2]).toBe(1);
    m.resetDevice('demo');
    expect(q.readw(0x10, PCI_CFG.COMMAND)).toBe(0);
    expect(q.readl(0x10, 0x10)).toBe(0);
    expect(fn.bars[0]!.mappedAt).toBe(-1);
    expect(fn.msi!.enabled).toBe(false);
    expect(levels[2]).toBe(0);
  });
});

describe('hotplug', () => {
  it('detaching a device releases its BARs, IRQ levels, timers and DMA', () => {
    const { m, bus, levels } = pcLike();
    const removed: string[] = [];
    m.hooks.device.removed.tap('t', (id) => void removed.push(id));
    let fired = 0;
    const { fn } = demoDevice(m, bus, 0x10);
    const timerDevice = m.attachDevice('ticker', (scope) => {
      scope.createTimer(() => fired++).armIn(1000);
      const line = scope.createIrqLine('out');
      const ic = m.addInterruptController('pic', 16);
      line.connect(ic.input(5));
      line.raise();
      return {};
    });
    const q = libqos(m);
    q.writel(0x10, 0x10, 0xe0000000);
    q.writew(0x10, PCI_CFG.COMMAND, 0x7);
    fn.setIntx(1);
    const rangesBefore = m.memory.flatView().ranges.length;
    m.detachDevice('demo');
    expect(m.memory.flatView().ranges.length).toBe(rangesBefore - 1);
    expect(m.memory.load(phys(0xe0000000), 4)).toBe('decode-error');
    expect(levels[2]).toBe(0);
    expect(q.readw(0x10, 0)).toBe(0xffff);
    expect(fn.dma.writeU8(iova(0), 1)).toMatchObject({ result: 'revoked' });
    expect(m.dma.info()).toHaveLength(0);
    expect(m.interruptControllers.get('pic')!.levels[5]).toBe(1);
    m.detachDevice('ticker');
    expect(m.interruptControllers.get('pic')!.levels[5]).toBe(0);
    expect(timerDevice.scope.timers.size).toBe(0);
    m.clock.step(10_000);
    expect(fired).toBe(0);
    expect(m.clock.pendingTimers).toBe(0);
    expect(removed).toEqual(['demo', 'ticker']);
    // The slot can be reused.
    demoDevice(m, bus, 0x10, 'demo2');
    expect(q.readw(0x10, 0)).toBe(0x1234);
  });

  it('a realize that throws leaves nothing behind', () => {
    const { m, bus } = pcLike();
    expect(() =>
      m.attachDevice('broken', (scope) => {
        scope.attachPci(bus, 0x18, { vendorId: 1, deviceId: 2, classCode: 0 });
        scope.createTimer(() => {}).armIn(5);
        throw new Error('no');
      }),
    ).toThrow(/E_DEVICE_REALIZE.*no.*device broken/);
    expect(bus.find(0x18)).toBeUndefined();
    expect(m.clock.pendingTimers).toBe(0);
    expect(m.deviceIds).toEqual([]);
  });
});
