/**
 * virtio-blk's transports and its life: bad descriptors (DEVICE_NEEDS_RESET, then a reset
 * brings it back), ACCESS_PLATFORM and the IOMMU bypass the kernel records, faulting buffers
 * failing only their request, MSI-X and INTx, EVENT_IDX, virtio-mmio in a machine slot, a hot
 * reload between requests, and the device conformance kit.
 */
import {
  bareMachine,
  Emulator,
  inProcessPlugin,
  mmioSlotMachine,
  reloadDevice,
} from '@emuhost/host';
import { definePlugin, type GuestPhysAddr, iova } from '@emuhost/sdk';
import {
  createDriver,
  deviceConformance,
  VIRTIO_F,
  VIRTIO_STATUS,
  virtioConformance,
  virtioMmioGuest,
  virtioPciGuest,
} from '@emuhost/testing';
import { describe, expect, it } from 'vitest';
import {
  FEATURES,
  loadBlk,
  makeImage,
  PLUGIN_DIR,
  pattern,
  request,
  S,
  SECTOR,
  setup,
  T,
} from './test-support/setup.js';

const NEEDS_RESET = VIRTIO_STATUS.NEEDS_RESET;
const ACCESS_PLATFORM = 1n << BigInt(VIRTIO_F.ACCESS_PLATFORM);

describe('bad descriptors', { timeout: 60_000 }, () => {
  const cases: [string, (t: Awaited<ReturnType<typeof setup>>) => void][] = [
    ['a head past the queue', (t) => t.q.publish(t.q.size + 3)],
    [
      'a chain that loops',
      (t) => {
        t.q.writeDesc(0, { addr: t.g.alloc(16), len: 16, flags: 1, next: 1 });
        t.q.writeDesc(1, { addr: t.g.alloc(16), len: 16, flags: 1, next: 0 });
        t.q.publish(0);
      },
    ],
    [
      'a next index past the queue',
      (t) => {
        t.q.writeDesc(0, { addr: t.g.alloc(16), len: 16, flags: 1, next: 999 });
        t.q.publish(0);
      },
    ],
    [
      'a readable descriptor after a writable one',
      (t) => {
        t.q.writeDesc(0, { addr: t.g.alloc(1), len: 1, flags: 3, next: 1 });
        t.q.writeDesc(1, { addr: t.g.alloc(16), len: 16, flags: 0, next: 0 });
        t.q.publish(0);
      },
    ],
    [
      'an indirect table of 17 bytes',
      (t) => {
        t.q.writeDesc(0, { addr: t.g.alloc(32), len: 17, flags: 4, next: 0 });
        t.q.publish(0);
      },
    ],
    [
      'a chain longer than 4 GiB',
      (t) => {
        t.q.writeDesc(0, { addr: 0x1000, len: 0xffffffff, flags: 1, next: 1 });
        t.q.writeDesc(1, { addr: 0x1000, len: 16, flags: 2, next: 0 });
        t.q.publish(0);
      },
    ],
    ['avail->idx moved past the queue', (t) => t.q.setAvailIdx(t.q.size + 5)],
    [
      'a request without a status byte',
      (t) => {
        t.q.writeDesc(0, { addr: t.g.alloc(16), len: 16, flags: 0, next: 0 });
        t.q.publish(0);
      },
    ],
  ];
  it.each(cases)(
    '%s: DEVICE_NEEDS_RESET and a config interrupt, then a reset recovers',
    async (_, bad) => {
      const t = await setup();
      bad(t);
      t.g.notify(0);
      expect(t.g.status & NEEDS_RESET).toBe(NEEDS_RESET);
      expect(t.g.isr() & 2, 'configuration interrupt').toBe(2);
      expect(t.emu.devices.get('blk0')!.slot.scope.guard.quarantined).toBe(false);
      // Until reset the device serves nothing.
      expect(t.q.takeUsed()).toBeUndefined();
      t.g.negotiate(FEATURES);
      const q = t.g.setupQueue(0);
      t.g.driverOk();
      expect(t.g.status & NEEDS_RESET).toBe(0);
      const buf = t.g.alloc(SECTOR);
      expect(request({ ...t, q }, T.IN, 0, { addr: buf, len: SECTOR, write: true }).status).toBe(
        S.OK,
      );
    },
  );
});

describe('DMA and the IOMMU', { timeout: 60_000 }, () => {
  /** An IOMMU that maps IOVA 0x4000_0000 + x to x, for x below 16 MiB, and refuses the rest. */
  const addWindowIommu = (emu: Emulator) => {
    emu.machine.dma.addIommu('window', () => ({
      translate: (a) =>
        a >= 0x40000000 && a < 0x41000000
          ? {
              kind: 'entry',
              iova: iova(a - (a % 4096)),
              translated: (a - 0x40000000 - (a % 4096)) as GuestPhysAddr,
              pageSize: 4096,
              perm: 'read-write',
            }
          : { kind: 'fault', reason: 'not-present' },
    }));
    emu.machine.dma.bind({ bus: 'pci.0' }, 'window');
  };

  it('without iommu_platform the device bypasses the IOMMU, and info says so', async () => {
    const t = await setup();
    addWindowIommu(t.emu);
    const row = t.emu.machine.dma.info().find((c) => c.device === 'blk0')!;
    expect(row).toMatchObject({ bypass: true, iommu: null, boundIommu: 'window' });
    const buf = t.g.alloc(SECTOR);
    expect(request(t, T.IN, 0, { addr: buf, len: SECTOR, write: true }).status).toBe(S.OK);
  });

  it('with iommu_platform=on the driver must accept ACCESS_PLATFORM', async () => {
    const file = makeImage(1 << 20);
    const emu = new Emulator({
      machine: bareMachine(),
      ramSize: 64 << 20,
      log: () => {},
      backends: { drives: [{ id: 'd0', file }] },
    });
    emu.addDevice(await loadBlk(), { id: 'blk0', options: { drive: 'd0', iommu_platform: true } });
    const d = createDriver(emu);
    const g = virtioPciGuest(d, d.pciFind(0x1af4, 0x1042)!, 0x100000);
    expect((g.deviceFeatures() & ACCESS_PLATFORM) !== 0n).toBe(true);
    expect(g.negotiate(FEATURES), 'FEATURES_OK refused without ACCESS_PLATFORM').toBe(false);
    expect(g.negotiate(FEATURES | ACCESS_PLATFORM)).toBe(true);
    expect(emu.machine.dma.info().find((c) => c.device === 'blk0')!.bypass).toBe(false);
  });

  it('translates rings and buffers, and a buffer that faults fails only its request', async () => {
    const file = makeImage(1 << 20, (i) => (i * 3) & 0xff);
    const emu = new Emulator({
      machine: bareMachine(),
      ramSize: 64 << 20,
      log: () => {},
      backends: { drives: [{ id: 'd0', file }] },
    });
    emu.addDevice(await loadBlk(), { id: 'blk0', options: { drive: 'd0', iommu_platform: true } });
    addWindowIommu(emu);
    const d = createDriver(emu);
    // The guest lays rings out at GPA 1 MiB+ and gives the device IOVAs 0x4000_0000 above them:
    // only the IOMMU makes them reach the rings.
    const g = virtioPciGuest(d, d.pciFind(0x1af4, 0x1042)!, 0x100000);
    expect(g.negotiate(FEATURES | ACCESS_PLATFORM)).toBe(true);
    const W = 0x40000000;
    const q = g.setupQueue(0, undefined, W);
    g.driverOk();
    const hdr = g.alloc(16);
    d.writel(hdr, T.IN);
    d.writeq(hdr + 8, 1n);
    const buf = g.alloc(SECTOR);
    const st = g.alloc(1);
    q.add([
      { addr: W + hdr, len: 16, write: false },
      { addr: W + buf, len: SECTOR, write: true },
      { addr: W + st, len: 1, write: true },
    ]);
    g.notify(0);
    expect(q.takeUsed()).toMatchObject({ len: SECTOR + 1 });
    expect(d.readb(st)).toBe(S.OK);
    expect(d.memread(buf, 4)).toEqual(
      Uint8Array.from([0, 3, 6, 9].map((x) => (x + 3 * SECTOR) & 0xff)),
    );
    // Now a data buffer outside the IOMMU's window: IOERR, the device goes on.
    q.add([
      { addr: W + hdr, len: 16, write: false },
      { addr: 0x7000000, len: SECTOR, write: true },
      { addr: W + st, len: 1, write: true },
    ]);
    g.notify(0);
    expect(q.takeUsed()).toBeDefined();
    expect(d.readb(st)).toBe(S.IOERR);
    expect(g.status & NEEDS_RESET).toBe(0);
    expect(emu.machine.dma.iommu('window').faults).toBeGreaterThan(0);
  });
});

describe('interrupts', { timeout: 60_000 }, () => {
  it('MSI-X: the queue vector writes its message; masked, it waits in the PBA', async () => {
    const t = await setup();
    const dev = t.d.pciFind(0x1af4, 0x1042)!;
    // MSI-X capability (id 0x11): table in BAR 1.
    let cap = 0;
    for (let p = dev.configRead(0x34, 1); p !== 0; p = dev.configRead(p + 1, 1))
      if (dev.configRead(p, 1) === 0x11) cap = p;
    expect(cap).not.toBe(0);
    expect((dev.configRead(cap + 2, 2) & 0x7ff) + 1).toBe(2);
    const table = dev.iomap(1).addr;
    const target = t.g.alloc(4, 4);
    t.d.writel(table + 16, target); // vector 1: address
    t.d.writel(table + 20, 0);
    t.d.writel(table + 24, 0xbeef); // data
    t.d.writel(table + 28, 0); // unmasked
    dev.configWrite(cap + 2, 2, 0x8000); // MSI-X enable
    t.g.setQueueVector(0, 1);
    const buf = t.g.alloc(SECTOR);
    request(t, T.IN, 0, { addr: buf, len: SECTOR, write: true });
    expect(t.d.readl(target)).toBe(0xbeef);
    t.d.writel(target, 0);
    t.d.writel(table + 28, 1); // mask vector 1
    request(t, T.IN, 0, { addr: buf, len: SECTOR, write: true });
    expect(t.d.readl(target)).toBe(0);
    const pba = table + (dev.configRead(cap + 8, 4) & ~7);
    expect(t.d.readl(pba) & 2).toBe(2);
    t.d.writel(table + 28, 0); // unmask: the pending message goes
    expect(t.d.readl(target)).toBe(0xbeef);
    expect(t.d.readl(pba) & 2).toBe(0);
  });

  it('without an MSI window (RISC-V virt with a PLIC) there is no MSI-X, and INTx serves', async () => {
    const noMsi = inProcessPlugin(
      {
        id: 'no-msi',
        version: '1.0.0',
        kind: 'machine',
        sdk: '^1.4.0',
        entry: '<in-process>',
        capabilities: [],
      },
      definePlugin({
        kind: 'machine',
        create(ctx) {
          const plic = ctx.interruptController('plic', 16);
          const pciMemory = ctx.container('pci-memory', 2 ** 53);
          ctx.place(ctx.system, ctx.ram('ram', ctx.ramSize), 0);
          ctx.place(ctx.system, pciMemory, 0, -1);
          ctx.pciHost({
            name: 'pcie.0',
            memory: pciMemory,
            io: ctx.io,
            firstSlot: 1,
            setIrq: (line, level) => plic.setInput(3 + line, level),
          });
          return { defaultPciBus: 'pcie.0' };
        },
      }),
    );
    const emu = new Emulator({
      machine: noMsi,
      ramSize: 64 << 20,
      log: () => {},
      backends: { drives: [{ id: 'd0', file: makeImage(1 << 20) }] },
    });
    emu.addDevice(await loadBlk(), { id: 'blk0', options: { drive: 'd0' } });
    const d = createDriver(emu);
    const dev = d.pciFind(0x1af4, 0x1042)!;
    const caps: number[] = [];
    for (let p = dev.configRead(0x34, 1); p !== 0; p = dev.configRead(p + 1, 1))
      caps.push(dev.configRead(p, 1));
    expect(caps).not.toContain(0x11);
    const g = virtioPciGuest(d, dev, 0x100000);
    expect(g.negotiate(FEATURES)).toBe(true);
    const q = g.setupQueue(0);
    g.driverOk();
    const buf = g.alloc(SECTOR);
    request({ emu, d, g, q, file: '' }, T.IN, 0, { addr: buf, len: SECTOR, write: true });
    // INTA of slot 1 swizzles to line 1: PLIC source 4.
    expect(d.irqLevel(4, 'plic')).toBe(1);
    expect(g.isr() & 1).toBe(1);
    expect(d.irqLevel(4, 'plic')).toBe(0);
  });

  it('INTx follows the ISR, and reading the ISR lowers it', async () => {
    const t = await setup();
    const buf = t.g.alloc(SECTOR);
    request(t, T.IN, 0, { addr: buf, len: SECTOR, write: true });
    // bare: INTA of slot 1 is ioapic input 16 + 1.
    expect(t.d.irqLevel(17)).toBe(1);
    expect(t.g.isr() & 1).toBe(1);
    expect(t.d.irqLevel(17)).toBe(0);
  });

  it('EVENT_IDX: no interrupt until used_event is passed; avail_event follows', async () => {
    const t = await setup({ features: FEATURES | (1n << BigInt(VIRTIO_F.EVENT_IDX)) });
    const buf = t.g.alloc(SECTOR);
    request(t, T.IN, 0, { addr: buf, len: SECTOR, write: true });
    expect(t.g.isr() & 1, 'the first completion interrupts').toBe(1);
    t.q.setUsedEvent(5);
    for (let i = 0; i < 3; i++) {
      request(t, T.IN, 0, { addr: buf, len: SECTOR, write: true });
      expect(t.g.isr() & 1).toBe(0);
    }
    expect(t.q.availEvent).toBe(4);
    request(t, T.IN, 0, { addr: buf, len: SECTOR, write: true }); // used idx 4 → 5
    request(t, T.IN, 0, { addr: buf, len: SECTOR, write: true }); // passes used_event 5
    expect(t.g.isr() & 1).toBe(1);
  });
});

describe('virtio-mmio and reload', { timeout: 60_000 }, () => {
  it('virtio-blk-device serves requests from its slot and interrupts on its PLIC line', async () => {
    const file = makeImage(1 << 20, (i) => i & 0xff);
    const emu = new Emulator({
      machine: mmioSlotMachine(),
      ramSize: 64 << 20,
      log: () => {},
      backends: { drives: [{ id: 'd0', file }] },
    });
    emu.addDevice(await loadBlk(), { id: 'vda', platform: true, options: { drive: 'd0' } });
    const d = createDriver(emu);
    expect(d.readl(0x10001000)).toBe(0x74726976);
    expect(d.readl(0x10001004)).toBe(2);
    expect(d.readl(0x10001008)).toBe(2);
    const g = virtioMmioGuest(d, 0x10001000, 0x80100000);
    expect(g.negotiate(FEATURES)).toBe(true);
    const q = g.setupQueue(0);
    g.driverOk();
    const buf = g.alloc(SECTOR);
    const r = request({ emu, d, g, q, file }, T.IN, 2, { addr: buf, len: SECTOR, write: true });
    expect(r.status).toBe(S.OK);
    expect(d.readb(buf + 5)).toBe(5);
    expect(d.irqLevel(1, 'plic')).toBe(1);
    expect(g.isr() & 1).toBe(1);
    expect(d.irqLevel(1, 'plic')).toBe(0);
    emu.removeDevice('vda');
    emu.addDevice(await loadBlk(), { id: 'vdb', platform: true, options: { drive: 'd0' } });
    expect(d.readl(0x10001008), 'the slot was freed and taken again').toBe(2);
  });

  it('a hot reload between requests loses nothing (queue indexes, negotiated features)', async () => {
    const t = await setup();
    const data = pattern(SECTOR, 4);
    const buf = t.g.alloc(SECTOR);
    t.d.memwrite(buf, data);
    request(t, T.OUT, 3, { addr: buf, len: SECTOR, write: false });
    const report = reloadDevice(t.emu, 'blk0', await loadBlk());
    expect(report.outcome).toBe('reloaded');
    expect(report.warnings).toEqual([]);
    const back = t.g.alloc(SECTOR);
    const r = request(t, T.IN, 3, { addr: back, len: SECTOR, write: true });
    expect(r.status).toBe(S.OK);
    expect(t.d.memread(back, SECTOR)).toEqual(data);
  });
});

describe('conformance', () => {
  const kit = {
    plugin: PLUGIN_DIR,
    options: { drive: 'd0' },
    backends: { drives: [{ id: 'd0', file: makeImage(1 << 20) }] },
  };
  deviceConformance(kit);
  virtioConformance(kit);
});
