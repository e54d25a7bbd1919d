/**
 * Device DMA through VT-d: a PCI device (QEMU's edu, behind `DmaDevice`) moves memory through
 * its DMA context, RAM→buffer (reads) and buffer→RAM (writes), while the guest programs the
 * IOMMU as a driver would. Every transfer's outcome is edu's DMA status register.
 */
import { describe, expect, it } from 'vitest';
import { DMA } from './test-support/dma-device.js';
import { R, VtdGuest, waitDescriptor } from './test-support/guest.js';
import { type MachineOptions, type TestMachine, testMachine } from './test-support/load.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

const pattern = (len: number, seed: number) =>
  Uint8Array.from({ length: len }, (_, i) => (i * 7 + seed) & 0xff);

function put(t: TestMachine, gpa: number, data: Uint8Array): void {
  t.d.memwrite(gpa, data);
}
function get(t: TestMachine, gpa: number, len: number): number[] {
  return [...t.d.memread(gpa, len)];
}

const LAYOUTS = [
  { name: '3-level tables (aw_bits 39)', levels: 3, options: { aw_bits: 39 } },
  { name: '4-level tables (aw_bits 48)', levels: 4, options: { aw_bits: 48 } },
] as const;

describe.each(LAYOUTS)('translation with $name', ({ levels, options }) => {
  const machine = (o: MachineOptions = {}) => testMachine({ levels, options, ...o });

  it('translates non-contiguous 4 KiB pages for reads and writes', async () => {
    const t = await machine();
    const [dev] = t.devices as [(typeof t.devices)[0]];
    t.g.attach(dev.requesterId, 1);
    t.g.map(1, 0x10000000, 0x200000, 'read');
    t.g.map(1, 0x10001000, 0x500000, 'read');
    t.g.map(1, 0x20000000, 0x300000, 'write');
    t.g.map(1, 0x20001000, 0x100000, 'write');
    const src = pattern(0x1800, 1);
    put(t, 0x200800, src.subarray(0, 0x800));
    put(t, 0x500000, src.subarray(0x800));
    // Two rounds through edu's 4 KiB buffer, the first reading and writing across a page.
    expect(dev.copy(0x10000800, 0x20000400, 0x1800)).toBe(DMA.OK);
    expect(get(t, 0x300400, 0xc00)).toEqual([...src.subarray(0, 0xc00)]);
    expect(get(t, 0x100000, 0xc00)).toEqual([...src.subarray(0xc00)]);
    expect(t.g.readl(R.FSTS)).toBe(0);
  });

  it('translates through 2 MiB pages', async () => {
    const t = await machine();
    const [dev] = t.devices as [(typeof t.devices)[0]];
    t.g.attach(dev.requesterId, 1);
    t.g.map(1, 0x40000000, 0x400000, 'read-write', 2 * MiB);
    t.g.map(1, 0x40200000, 0x800000, 'read-write', 2 * MiB);
    const src = pattern(0x200, 2);
    put(t, 0x400000 + 0x1fff00, src.subarray(0, 0x100));
    put(t, 0x800000, src.subarray(0x100));
    // From the end of one 2 MiB page across into the next, to the far end of that one.
    expect(dev.copy(0x40000000 + 0x1fff00, 0x40200000 + 0x1ffe00, 0x200)).toBe(DMA.OK);
    expect(get(t, 0x800000 + 0x1ffe00, 0x200)).toEqual([...src]);
    const info = t.emu.machine.dma.info().find((c) => c.requesterId === dev.requesterId)!;
    expect(info.iotlb.entries).toBe(2); // one entry per 2 MiB page
  });

  it('translates through 1 GiB pages', async () => {
    const t = await machine();
    const [dev] = t.devices as [(typeof t.devices)[0]];
    t.g.attach(dev.requesterId, 1);
    t.g.map(1, 1 * GiB, 0, 'read-write', GiB);
    const src = pattern(0x100, 3);
    put(t, 0x123000, src);
    expect(dev.copy(GiB + 0x123000, GiB + 0x3456780, 0x100)).toBe(DMA.OK);
    expect(get(t, 0x3456780, 0x100)).toEqual([...src]);
  });

  it('refuses a write to a read-only page and records fault 5h', async () => {
    const t = await machine();
    const [dev] = t.devices as [(typeof t.devices)[0]];
    t.g.attach(dev.requesterId, 1);
    t.g.map(1, 0x10000000, 0x200000, 'read-write');
    t.g.map(1, 0x20000000, 0x300000, 'read');
    put(t, 0x200000, pattern(64, 4));
    expect(dev.copy(0x10000000, 0x20000010, 64)).toBe(DMA.IOMMU_FAULT);
    expect(get(t, 0x300010, 64)).toEqual(Array(64).fill(0));
    expect(t.g.fault(0)).toEqual({
      f: true,
      read: false,
      fr: 0x5,
      sid: dev.requesterId,
      fi: 0x20000000,
    });
    expect(t.g.readl(R.FSTS)).toBe(0x2); // PPF, FRI 0
  });

  it("checks each of edu's directions against the page permission", async () => {
    const t = await machine();
    const [dev] = t.devices as [(typeof t.devices)[0]];
    t.g.attach(dev.requesterId, 1);
    t.g.map(1, 0x10000000, 0x200000, 'read');
    t.g.map(1, 0x20000000, 0x300000, 'write');
    const src = pattern(0x1000, 8);
    put(t, 0x200000, src);
    // RAM→EDU from the read-only page and EDU→RAM to the write-only one, the whole buffer.
    expect(dev.toBuffer(0x10000000, 0x1000)).toBe(DMA.OK);
    expect(dev.fromBuffer(0x20000000, 0x1000)).toBe(DMA.OK);
    expect(get(t, 0x300000, 0x1000)).toEqual([...src]);
    // The other way round each is refused, and the fault record names the direction.
    expect(dev.fromBuffer(0x10000000 + 0x40, 0x10, 0x800)).toBe(DMA.IOMMU_FAULT);
    expect(get(t, 0x200040, 0x10)).toEqual([...src.subarray(0x40, 0x50)]);
    expect(t.g.fault(0)).toMatchObject({ f: true, read: false, fr: 0x5, fi: 0x10000000 });
    expect(dev.toBuffer(0x20000000, 0x10)).toBe(DMA.IOMMU_FAULT);
    expect(t.g.fault(1)).toMatchObject({ f: true, read: true, fr: 0x6, fi: 0x20000000 });
    // The buffer kept what the allowed read put there.
    expect(dev.fromBuffer(0x20000000 + 0x10, 0x10, 0x800)).toBe(DMA.OK);
    expect(get(t, 0x300010, 0x10)).toEqual([...src.subarray(0x800, 0x810)]);
  });

  it('refuses a read of a write-only page and records fault 6h', async () => {
    const t = await machine();
    const [dev] = t.devices as [(typeof t.devices)[0]];
    t.g.attach(dev.requesterId, 1);
    t.g.map(1, 0x10000000, 0x200000, 'write');
    t.g.map(1, 0x20000000, 0x300000, 'read-write');
    expect(dev.copy(0x10000000, 0x20000000, 64)).toBe(DMA.IOMMU_FAULT);
    expect(t.g.fault(0)).toMatchObject({ f: true, read: true, fr: 0x6, fi: 0x10000000 });
  });

  it('faults a not-present page (6h for a read) and a missing context (1h, 2h)', async () => {
    const t = await machine({ devices: 2 });
    const [a, b] = t.devices as [(typeof t.devices)[0], (typeof t.devices)[0]];
    // No root entry for bus 0 yet.
    expect(a.copy(0x10000000, 0x20000000, 16)).toBe(DMA.IOMMU_FAULT);
    expect(t.g.fault(0)).toMatchObject({ f: true, fr: 0x1, sid: a.requesterId, read: true });
    // Bus 0 has a context table now, but not an entry for `a`.
    t.g.attach(b.requesterId, 1);
    expect(a.copy(0x10000000, 0x20000000, 16)).toBe(DMA.IOMMU_FAULT);
    expect(t.g.fault(1)).toMatchObject({ f: true, fr: 0x2, sid: a.requesterId });
    // `b` has a context, and nothing mapped.
    expect(b.copy(0x10000000, 0x20000000, 16)).toBe(DMA.IOMMU_FAULT);
    expect(t.g.fault(2)).toMatchObject({ f: true, fr: 0x6, sid: b.requesterId, fi: 0x10000000 });
    expect(t.g.readl(R.FSTS) & 0xff02).toBe(0x0002); // PPF; FRI still names register 0
  });
});

describe.each(['register', 'queued'] as const)('%s invalidation', (mode) => {
  const machine = (o: MachineOptions = {}) => testMachine({ invalidation: mode, ...o });

  it('keeps a stale translation until a page-selective invalidation, then uses the new one', async () => {
    const t = await machine();
    const [dev] = t.devices as [(typeof t.devices)[0]];
    t.g.attach(dev.requesterId, 1);
    t.g.map(1, 0x10000000, 0x200000, 'read');
    t.g.map(1, 0x20000000, 0x300000, 'write');
    put(t, 0x200000, pattern(32, 1));
    put(t, 0x600000, pattern(32, 2));
    expect(dev.copy(0x10000000, 0x20000000, 32)).toBe(DMA.OK);
    expect(get(t, 0x300000, 32)).toEqual([...pattern(32, 1)]);
    // Point the page elsewhere without telling the IOMMU: the old translation stays.
    t.g.setPage(1, 0x10000000, 0x600000, 'read');
    expect(dev.copy(0x10000000, 0x20000000, 32)).toBe(DMA.OK);
    expect(get(t, 0x300000, 32)).toEqual([...pattern(32, 1)]);
    // A page-selective invalidation for another domain changes nothing.
    t.g.invalidateIotlb('page', { did: 2, addr: 0x10000000, am: 0 });
    expect(dev.copy(0x10000000, 0x20000000, 32)).toBe(DMA.OK);
    expect(get(t, 0x300000, 32)).toEqual([...pattern(32, 1)]);
    expect(t.g.invalidateIotlb('page', { did: 1, addr: 0x10000000, am: 0 })).toBe(3);
    expect(dev.copy(0x10000000, 0x20000000, 32)).toBe(DMA.OK);
    expect(get(t, 0x300000, 32)).toEqual([...pattern(32, 2)]);
  });

  it('page-selective invalidation with an address mask covers 2^AM pages and no more', async () => {
    const t = await machine();
    const [dev] = t.devices as [(typeof t.devices)[0]];
    t.g.attach(dev.requesterId, 1);
    t.g.map(1, 0x20000000, 0x300000, 'write');
    const iovas = [0, 1, 2, 3, 4].map((i) => 0x10004000 + i * 0x1000);
    for (const [i, a] of iovas.entries()) {
      t.g.map(1, a, 0x200000 + i * 0x1000, 'read');
      put(t, 0x200000 + i * 0x1000, Uint8Array.of(0x10 + i));
      put(t, 0x700000 + i * 0x1000, Uint8Array.of(0x70 + i));
    }
    const readBack = () =>
      iovas.map((a) => {
        expect(dev.copy(a, 0x20000000, 1)).toBe(DMA.OK);
        return get(t, 0x300000, 1)[0];
      });
    expect(readBack()).toEqual([0x10, 0x11, 0x12, 0x13, 0x14]);
    for (const [i, a] of iovas.entries()) t.g.setPage(1, a, 0x700000 + i * 0x1000, 'read');
    expect(readBack()).toEqual([0x10, 0x11, 0x12, 0x13, 0x14]);
    // AM = 2: the four pages at 0x10004000 (the address is aligned down to 16 KiB).
    t.g.invalidateIotlb('page', { did: 1, addr: 0x10006000, am: 2 });
    expect(readBack()).toEqual([0x70, 0x71, 0x72, 0x73, 0x14]);
  });

  it('domain-selective invalidation refreshes the requesters of that domain only', async () => {
    const t = await machine({ devices: 2 });
    const [a, b] = t.devices as [(typeof t.devices)[0], (typeof t.devices)[0]];
    t.g.attach(a.requesterId, 1);
    t.g.attach(b.requesterId, 2);
    for (const did of [1, 2]) {
      t.g.map(did, 0x10000000, 0x200000, 'read');
      t.g.map(did, 0x20000000, 0x300000 + did * 0x1000, 'write');
    }
    put(t, 0x200000, Uint8Array.of(1));
    put(t, 0x600000, Uint8Array.of(6));
    const seen = () => {
      expect(a.copy(0x10000000, 0x20000000, 1)).toBe(DMA.OK);
      expect(b.copy(0x10000000, 0x20000000, 1)).toBe(DMA.OK);
      return [get(t, 0x301000, 1)[0], get(t, 0x302000, 1)[0]];
    };
    expect(seen()).toEqual([1, 1]);
    for (const did of [1, 2]) t.g.setPage(did, 0x10000000, 0x600000, 'read');
    expect(seen()).toEqual([1, 1]);
    expect(t.g.invalidateIotlb('domain', { did: 1 })).toBe(2);
    expect(seen()).toEqual([6, 1]);
    t.g.invalidateIotlb('domain', { did: 2 });
    expect(seen()).toEqual([6, 6]);
  });

  it('global invalidation refreshes every requester', async () => {
    const t = await machine({ devices: 2 });
    const [a, b] = t.devices as [(typeof t.devices)[0], (typeof t.devices)[0]];
    t.g.attach(a.requesterId, 1);
    t.g.attach(b.requesterId, 2);
    for (const did of [1, 2]) {
      t.g.map(did, 0x10000000, 0x200000, 'read');
      t.g.map(did, 0x20000000, 0x300000 + did * 0x1000, 'write');
    }
    put(t, 0x200000, Uint8Array.of(1));
    put(t, 0x600000, Uint8Array.of(6));
    expect([a, b].map((x) => x.copy(0x10000000, 0x20000000, 1))).toEqual([DMA.OK, DMA.OK]);
    for (const did of [1, 2]) t.g.unmap(did, 0x20000000); // owed invalidation included
    for (const did of [1, 2]) t.g.setPage(did, 0x10000000, 0x600000, 'read');
    for (const did of [1, 2]) t.g.setPage(did, 0x20000000, 0x300000 + did * 0x1000, 'write');
    expect(t.g.invalidateIotlb('global')).toBe(1);
    expect([a, b].map((x) => x.copy(0x10000000, 0x20000000, 1))).toEqual([DMA.OK, DMA.OK]);
    expect([get(t, 0x301000, 1)[0], get(t, 0x302000, 1)[0]]).toEqual([6, 6]);
  });

  it('a narrowed permission stays usable until invalidated', async () => {
    const t = await machine();
    const [dev] = t.devices as [(typeof t.devices)[0]];
    t.g.attach(dev.requesterId, 1);
    t.g.map(1, 0x10000000, 0x200000, 'read');
    t.g.map(1, 0x20000000, 0x300000, 'read-write');
    put(t, 0x200000, Uint8Array.of(9));
    expect(dev.copy(0x10000000, 0x20000000, 1)).toBe(DMA.OK);
    t.g.setPage(1, 0x20000000, 0x300000, 'read'); // narrowed, not yet invalidated
    put(t, 0x200000, Uint8Array.of(10));
    expect(dev.copy(0x10000000, 0x20000000, 1)).toBe(DMA.OK);
    expect(get(t, 0x300000, 1)).toEqual([10]);
    t.g.invalidateIotlb('page', { did: 1, addr: 0x20000000 });
    expect(dev.copy(0x10000000, 0x20000000, 1)).toBe(DMA.IOMMU_FAULT);
    expect(t.g.fault(0)).toMatchObject({ fr: 0x5, read: false });
  });

  it('uses a cached context entry until the context cache is invalidated', async () => {
    const t = await machine({ devices: 2 });
    const [a, b] = t.devices as [(typeof t.devices)[0], (typeof t.devices)[0]];
    t.g.attach(a.requesterId, 1);
    t.g.attach(b.requesterId, 1);
    for (const [did, gpa] of [
      [1, 0x200000],
      [2, 0x600000],
      [3, 0x700000],
    ] as const) {
      t.g.map(did, 0x10000000, gpa, 'read');
      t.g.map(did, 0x20000000, 0x300000, 'write');
      put(t, gpa, Uint8Array.of(did));
    }
    const seen = (d: typeof a) => {
      expect(d.copy(0x10000000, 0x20000000, 1)).toBe(DMA.OK);
      return get(t, 0x300000, 1)[0];
    };
    expect([seen(a), seen(b)]).toEqual([1, 1]);
    // Move both to domain 2 behind the IOMMU's back: the cached context (and IOTLB) stays.
    for (const d of [a, b]) t.g.attach(d.requesterId, 2, { noInvalidate: true });
    expect([seen(a), seen(b)]).toEqual([1, 1]);
    // Device-selective for `a` only (function mask 0).
    expect(t.g.invalidateContext('device', { sid: a.requesterId, did: 1 })).toBe(3);
    expect([seen(a), seen(b)]).toEqual([2, 1]);
    // Domain-selective for domain 1: `b` still had it cached.
    expect(t.g.invalidateContext('domain', { did: 1 })).toBe(2);
    expect([seen(a), seen(b)]).toEqual([2, 2]);
    // Device-selective with FM = 3 (all functions of the slot) and global.
    t.g.attach(a.requesterId, 3, { noInvalidate: true });
    t.g.attach(b.requesterId, 3, { noInvalidate: true });
    expect([seen(a), seen(b)]).toEqual([2, 2]);
    t.g.invalidateContext('device', { sid: a.requesterId | 7, fm: 3, did: 2 });
    expect([seen(a), seen(b)]).toEqual([3, 2]);
    expect(t.g.invalidateContext('global')).toBe(1);
    expect([seen(a), seen(b)]).toEqual([3, 3]);
  });
});

describe('queued invalidation', () => {
  const machine = (o: MachineOptions = {}) => testMachine({ invalidation: 'queued', ...o });

  it('runs descriptors up to IQT and writes the wait descriptor status', async () => {
    const t = await machine();
    const { base, status } = t.g.queueInfo;
    t.d.writel(status, 0);
    t.g.enqueue([
      [1n | (1n << 4n), 0n], // context cache, global
      [2n | (1n << 4n), 0n], // IOTLB, global
      waitDescriptor({ status, data: 0xc0ffee }),
    ]);
    expect(t.d.readl(status)).toBe(0xc0ffee);
    expect(t.g.readl(R.IQH)).toBe(t.g.readl(R.IQT));
    expect(t.g.readl(R.IQH)).toBe((t.g.queueInfo.tail << 4) >>> 0);
    expect(t.g.readl(R.FSTS)).toBe(0);
    expect(t.g.readq(R.IQA)).toBe(BigInt(base));
  });

  it('a wait descriptor with IF raises the invalidation completion event', async () => {
    const t = await machine();
    t.g.writel(R.IEDATA, 0x4041);
    t.g.writel(R.IEADDR, 0xfee01000);
    const msgs = t.emu.msi!.messages;
    // Masked (IECTL.IM is set at reset): IWC and IP, no message.
    t.g.enqueue([waitDescriptor({ interrupt: true })]);
    expect(t.g.readl(R.ICS)).toBe(1);
    expect(t.g.readl(R.IECTL)).toBe(0xc0000000);
    expect(msgs.filter((m) => m.address === 0xfee01000)).toEqual([]);
    // Unmasking sends the pending message and clears IP.
    t.g.writel(R.IECTL, 0);
    expect(msgs.filter((m) => m.address === 0xfee01000).map((m) => m.data)).toEqual([0x4041]);
    expect(t.g.readl(R.IECTL)).toBe(0);
    // IWC still set: a further completion is not a new event.
    t.g.enqueue([waitDescriptor({ interrupt: true })]);
    expect(msgs.filter((m) => m.address === 0xfee01000)).toHaveLength(1);
    t.g.writel(R.ICS, 1);
    t.g.enqueue([waitDescriptor({ interrupt: true, status: t.g.queueInfo.status, data: 5 })]);
    expect(msgs.filter((m) => m.address === 0xfee01000)).toHaveLength(2);
    expect(t.d.readl(t.g.queueInfo.status)).toBe(5);
  });

  it('stops at an invalid descriptor with IQE and a fault event, and resumes when IQE is cleared', async () => {
    const t = await machine();
    t.g.writel(R.FEDATA, 0x31);
    t.g.writel(R.FEADDR, 0xfee00000);
    t.g.writel(R.FECTL, 0);
    const { base, status } = t.g.queueInfo;
    const head = t.g.readl(R.IQH) >>> 4;
    t.d.writel(status, 0);
    t.g.enqueue([
      [3n, 0n], // device-TLB invalidation: DT is not supported
      waitDescriptor({ status, data: 77 }),
    ]);
    expect(t.g.readl(R.FSTS)).toBe(0x10); // IQE
    expect(t.g.readl(R.IQH) >>> 4).toBe(head);
    expect(t.d.readl(status)).toBe(0);
    expect(t.emu.msi!.messages.map((m) => [m.address, m.data])).toEqual([[0xfee00000, 0x31]]);
    // Further IQT writes do nothing while IQE is set.
    t.g.enqueue([waitDescriptor({ status, data: 78 })]);
    expect(t.d.readl(status)).toBe(0);
    // Software replaces the bad descriptor with a harmless one and clears IQE.
    t.d.writeq(base + head * 16, 2n | (1n << 4n));
    t.d.writeq(base + head * 16 + 8, 0n);
    t.g.writel(R.FSTS, 0x10);
    expect(t.g.readl(R.FSTS)).toBe(0);
    expect(t.d.readl(status)).toBe(78);
    expect(t.g.readl(R.IQH)).toBe(t.g.readl(R.IQT));
  });

  it.each([
    ['reserved bits in a context-cache descriptor', [1n | (1n << 4n) | (1n << 8n), 0n]],
    ['an IOTLB descriptor with granularity 0', [2n, 0n]],
    ['an address mask above MAMV', [2n | (3n << 4n), 19n]],
    ['an interrupt-entry-cache descriptor (no IR)', [4n, 0n]],
    ['a wait descriptor with reserved bits', [5n | (1n << 7n), 0n]],
    ['type 0', [0n, 0n]],
  ] as const)('IQE for %s', async (_name, desc) => {
    const t = await machine();
    t.g.enqueue([desc]);
    expect(t.g.readl(R.FSTS) & 0x10).toBe(0x10);
  });

  it('IQE for a tail past the end of the queue', async () => {
    const t = await machine();
    t.g.writel(R.IQT, 256 << 4); // the queue holds 256 descriptors (QS 0)
    expect(t.g.readl(R.FSTS)).toBe(0x10);
  });

  it('ignores register-based invalidation while the queue is enabled', async () => {
    const t = await machine();
    const [dev] = t.devices as [(typeof t.devices)[0]];
    t.g.attach(dev.requesterId, 1);
    t.g.map(1, 0x10000000, 0x200000, 'read');
    t.g.map(1, 0x20000000, 0x300000, 'write');
    put(t, 0x200000, Uint8Array.of(1));
    put(t, 0x600000, Uint8Array.of(6));
    expect(dev.copy(0x10000000, 0x20000000, 1)).toBe(DMA.OK);
    t.g.setPage(1, 0x10000000, 0x600000, 'read');
    const regs = new VtdGuest(t.d, t.alloc, { invalidation: 'register' });
    expect(regs.invalidateIotlb('global')).toBe(0); // IAIG 0: not performed
    expect(regs.invalidateContext('global')).toBe(0);
    expect(dev.copy(0x10000000, 0x20000000, 1)).toBe(DMA.OK);
    expect(get(t, 0x300000, 1)).toEqual([1]);
  });

  it('disabling the queue resets IQH', async () => {
    const t = await machine();
    t.g.invalidateIotlb('global');
    expect(t.g.readl(R.IQH)).not.toBe(0);
    t.g.command(0x04000000, false);
    expect(t.g.readl(R.GSTS) & 0x04000000).toBe(0);
    expect(t.g.readl(R.IQH)).toBe(0);
  });
});

describe('translation enable and pass-through', () => {
  it('with TE clear every requester is passed through', async () => {
    const t = await testMachine({ init: false });
    const [dev] = t.devices as [(typeof t.devices)[0]];
    put(t, 0x200000, pattern(64, 5));
    expect(dev.copy(0x200000, 0x300000, 64)).toBe(DMA.OK);
    expect(get(t, 0x300000, 64)).toEqual([...pattern(64, 5)]);
    // Enabling translation with nothing mapped: the cached identity translations are gone.
    t.g.setRootTable();
    t.g.enableTranslation();
    expect(dev.copy(0x200000, 0x300000, 64)).toBe(DMA.IOMMU_FAULT);
    expect(t.g.fault(0)).toMatchObject({ f: true, fr: 0x1 });
    // And disabling it passes everything through again.
    t.g.enableTranslation(false);
    put(t, 0x200000, pattern(64, 6));
    expect(dev.copy(0x200000, 0x300000, 64)).toBe(DMA.OK);
    expect(get(t, 0x300000, 64)).toEqual([...pattern(64, 6)]);
  });

  it('a pass-through context entry (TT = 10b) translates IOVA to the same address', async () => {
    const t = await testMachine();
    const [dev] = t.devices as [(typeof t.devices)[0]];
    t.g.attach(dev.requesterId, 9, { passThrough: true });
    put(t, 0x200000, pattern(64, 7));
    expect(dev.copy(0x200000, 0x300000, 64)).toBe(DMA.OK);
    expect(get(t, 0x300000, 64)).toEqual([...pattern(64, 7)]);
    // Back to translated (with the owed invalidations): unmapped now.
    t.g.attach(dev.requesterId, 9);
    expect(dev.copy(0x200000, 0x300000, 64)).toBe(DMA.IOMMU_FAULT);
  });
});

describe('fault reporting', () => {
  const faulting = async () => {
    const t = await testMachine({ devices: 1 });
    const [dev] = t.devices as [(typeof t.devices)[0]];
    t.g.attach(dev.requesterId, 1);
    t.g.map(1, 0x20000000, 0x300000, 'write');
    const fault = (page: number) => dev.copy(0x10000000 + page * 0x1000, 0x20000000, 4);
    return { t, dev, fault };
  };

  it('records faults in turn, sets PPF/FRI, then PFO when the next register is still full', async () => {
    const { t, dev, fault } = await faulting();
    for (let i = 0; i < 4; i++) expect(fault(i)).toBe(DMA.IOMMU_FAULT);
    expect([0, 1, 2, 3].map((i) => t.g.fault(i).fi)).toEqual([
      0x10000000, 0x10001000, 0x10002000, 0x10003000,
    ]);
    expect(t.g.fault(3)).toEqual({
      f: true,
      read: true,
      fr: 0x6,
      sid: dev.requesterId,
      fi: 0x10003000,
    });
    expect(t.g.readl(R.FSTS)).toBe(0x2);
    // Register 0 (the next one) is still full: overflow, nothing recorded.
    expect(fault(4)).toBe(DMA.IOMMU_FAULT);
    expect(t.g.readl(R.FSTS)).toBe(0x3);
    expect(t.g.fault(0).fi).toBe(0x10000000);
    // While PFO is set nothing is recorded, even with room.
    t.g.clearFault(0);
    expect(fault(5)).toBe(DMA.IOMMU_FAULT);
    expect(t.g.fault(0).f).toBe(false);
    // Clearing PFO: the next fault goes to register 0, FRI stays (PPF never cleared).
    t.g.writel(R.FSTS, 0x1);
    expect(fault(6)).toBe(DMA.IOMMU_FAULT);
    expect(t.g.fault(0)).toMatchObject({ f: true, fi: 0x10006000 });
    for (let i = 0; i < 4; i++) t.g.clearFault(i);
    expect(t.g.readl(R.FSTS)).toBe(0);
    // The next fault is recorded at register 1; PPF goes 0 → 1 and FRI names it.
    expect(fault(7)).toBe(DMA.IOMMU_FAULT);
    expect(t.g.readl(R.FSTS)).toBe(0x102);
  });

  it('sends the fault event as an MSI (FEDATA to FEADDR) when unmasked', async () => {
    const { t, fault } = await faulting();
    t.g.writel(R.FEDATA, 0x4021);
    t.g.writel(R.FEADDR, 0xfee00000);
    t.g.writel(R.FEUADDR, 0);
    t.g.writel(R.FECTL, 0);
    expect(fault(0)).toBe(DMA.IOMMU_FAULT);
    const msgs = t.emu.msi!.messages;
    expect(msgs.map((m) => [m.address, m.data])).toEqual([[0xfee00000, 0x4021]]);
    expect(t.g.readl(R.FECTL)).toBe(0);
    // PPF already set: the next fault is recorded without a new event.
    expect(fault(1)).toBe(DMA.IOMMU_FAULT);
    expect(msgs).toHaveLength(1);
    // Once software clears every fault, a new one is a new event.
    t.g.clearFault(0);
    t.g.clearFault(1);
    expect(fault(2)).toBe(DMA.IOMMU_FAULT);
    expect(msgs).toHaveLength(2);
  });

  it('holds the event pending (IP) while masked, sends it when unmasked, drops it when serviced', async () => {
    const { t, fault } = await faulting();
    t.g.writel(R.FEDATA, 0x22);
    t.g.writel(R.FEADDR, 0xfee00000);
    expect(t.g.readl(R.FECTL)).toBe(0x80000000); // IM set at reset
    const msgs = t.emu.msi!.messages;
    expect(fault(0)).toBe(DMA.IOMMU_FAULT);
    expect(t.g.readl(R.FECTL)).toBe(0xc0000000);
    expect(msgs).toHaveLength(0);
    t.g.writel(R.FECTL, 0);
    expect(msgs.map((m) => m.data)).toEqual([0x22]);
    expect(t.g.readl(R.FECTL)).toBe(0);
    // Masked again: a new event after servicing; clearing the fault drops the pending event.
    t.g.writel(R.FECTL, 0x80000000);
    t.g.clearFault(0);
    expect(fault(1)).toBe(DMA.IOMMU_FAULT);
    expect(t.g.readl(R.FECTL)).toBe(0xc0000000);
    t.g.clearFault(1);
    expect(t.g.readl(R.FECTL)).toBe(0x80000000);
    t.g.writel(R.FECTL, 0);
    expect(msgs).toHaveLength(1);
  });

  it('records nothing for a context entry with FPD set, and still refuses the DMA', async () => {
    const t = await testMachine({ devices: 2 });
    const [a, b] = t.devices as [(typeof t.devices)[0], (typeof t.devices)[0]];
    t.g.writel(R.FEADDR, 0xfee00000);
    t.g.writel(R.FECTL, 0);
    t.g.attach(a.requesterId, 1, { fpd: true });
    t.g.attach(b.requesterId, 1);
    t.g.map(1, 0x20000000, 0x300000, 'read');
    expect(a.copy(0x10000000, 0x20000000, 4)).toBe(DMA.IOMMU_FAULT); // not present
    expect(a.copy(0x20000000, 0x20000000, 4)).toBe(DMA.IOMMU_FAULT); // no write permission
    expect(t.g.fault(0).f).toBe(false);
    expect(t.g.readl(R.FSTS)).toBe(0);
    expect(t.emu.msi!.messages).toHaveLength(0);
    // The same faults from a requester without FPD are recorded.
    expect(b.copy(0x10000000, 0x20000000, 4)).toBe(DMA.IOMMU_FAULT);
    expect(t.g.fault(0)).toMatchObject({ f: true, sid: b.requesterId, fr: 0x6 });
    expect(t.emu.msi!.messages).toHaveLength(1);
  });

  it('FPD does not hide faults in the root entry', async () => {
    const t = await testMachine({ devices: 1 });
    const [dev] = t.devices as [(typeof t.devices)[0]];
    t.g.attach(dev.requesterId, 1, { fpd: true });
    t.d.writeq(t.g.root + 8, 1n); // reserved bit in the root entry's high half
    t.g.invalidateContext('global');
    expect(dev.copy(0x10000000, 0x20000000, 4)).toBe(DMA.IOMMU_FAULT);
    expect(t.g.fault(0)).toMatchObject({ f: true, fr: 0xa });
  });
});

describe('options and sandboxing', () => {
  it('caching_mode=on reports CAP.CM and translates as usual', async () => {
    const t = await testMachine({ options: { caching_mode: true } });
    const [dev] = t.devices as [(typeof t.devices)[0]];
    expect(t.g.readl(R.CAP) & 0x80).toBe(0x80);
    t.g.attach(dev.requesterId, 1);
    t.g.map(1, 0x10000000, 0x200000, 'read');
    t.g.map(1, 0x20000000, 0x300000, 'write');
    put(t, 0x200000, pattern(8, 9));
    expect(dev.copy(0x10000000, 0x20000000, 8)).toBe(DMA.OK);
    expect(get(t, 0x300000, 8)).toEqual([...pattern(8, 9)]);
  });

  it('works in the confined sandbox', async () => {
    const t = await testMachine({ level: 'confined', invalidation: 'queued' });
    const [dev] = t.devices as [(typeof t.devices)[0]];
    t.g.attach(dev.requesterId, 1);
    t.g.map(1, 0x10000000, 0x200000, 'read', 2 * MiB);
    t.g.map(1, 0x20000000, 0x400000, 'write');
    put(t, 0x200000, pattern(8, 10));
    expect(dev.copy(0x10000000, 0x20000000, 8)).toBe(DMA.OK);
    expect(get(t, 0x400000, 8)).toEqual([...pattern(8, 10)]);
    expect(dev.copy(0x10400000, 0x20000000, 8)).toBe(DMA.IOMMU_FAULT);
    expect(t.g.fault(0)).toMatchObject({ f: true, fr: 0x6 });
  });
});
