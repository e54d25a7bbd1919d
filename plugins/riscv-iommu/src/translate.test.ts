/**
 * Translation as a requester sees it, with the guest driver programming directories and page
 * tables: directory depths and their faults, device-context checks, the Sv39/Sv48 walk's
 * leaves and refusals, the fault queue's records, and what each invalidation command drops
 * (and what it leaves stale, as hardware would). A property test checks random Sv39
 * mappings against a naive map.
 */
import { type DmaError, iova } from '@emuhost/sdk';
import { RISCV_IOMMU_REGS as R } from '@emuhost/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { migrateState, restoreState } from './state.js';
import { requester, rig } from './test-support/load.js';

const MiB = 2 ** 20;
const fault = (x: unknown) => (x as DmaError).result;

describe('riscv-iommu translation', () => {
  for (const ddtLevels of [1, 2, 3] as const) {
    it(`finds device contexts through a ${ddtLevels}-level directory`, async () => {
      const r = await rig({ ddtLevels });
      const rid = ddtLevels === 1 ? 0x10 : 0x1234;
      r.g.attach(rid, 5);
      r.g.map(5, 0x40000000, 0x200000, 'read-write');
      const ctx = requester(r, rid);
      expect(ctx.writeU32LE(iova(0x40000010), 0x11223344)).toBe('ok');
      expect(r.d.readl(0x200010)).toBe(0x11223344);
      // A device_id wider than the directory covers: transaction type disallowed (260).
      if (ddtLevels < 3) {
        const wide = requester(r, ddtLevels === 1 ? 0x80 : 0x10000 - 1 + 1);
        expect(fault(wide.readU32LE(iova(0)))).toBe('iommu-fault');
        expect(r.g.faults().map((f) => f.cause)).toEqual([260]);
      }
    });
  }

  it('reports directory faults: entry not valid (258), misconfigured (259), load fault (257)', async () => {
    const r = await rig();
    const ctx = requester(r, 0x08);
    expect(fault(ctx.readU32LE(iova(0)))).toBe('iommu-fault'); // nothing in the directory
    r.g.attach(0x08, 1);
    const dc = r.g.contextAddress(0x08);
    r.d.writeq(dc, 1n | (1n << 5n)); // PDTV: no process directory is implemented
    r.g.command(3n | (1n << 33n) | (0x08n << 40n), 0n);
    expect(fault(ctx.readU32LE(iova(0)))).toBe('iommu-fault');
    r.d.writeq(r.g.ddtRoot, (0x7fff_0000_000n >> 2n) | 1n); // a level-2 table past the end of RAM
    r.g.command(3n, 0n);
    expect(fault(ctx.readU32LE(iova(0)))).toBe('iommu-fault');
    const got = r.g.faults();
    expect(got.map((f) => f.cause)).toEqual([258, 259, 257]);
    expect(got.map((f) => [f.did, f.ttyp])).toEqual([
      [8, 2],
      [8, 2],
      [8, 2],
    ]);
  });

  it('gives identity translations to a context whose first stage is Bare', async () => {
    const r = await rig();
    r.g.attach(0x08, 0, 'identity');
    r.d.writel(0x123450, 0x5a5a5a5a);
    expect(requester(r, 0x08).readU32LE(iova(0x123450))).toBe(0x5a5a5a5a);
  });

  it('walks Sv39 and Sv48 with 4 KiB, 2 MiB and 1 GiB leaves', async () => {
    for (const fscMode of [8, 9] as const) {
      const r = await rig({ fscMode });
      r.g.attach(0x08, 3);
      r.g.map(3, 0x4000_0000, 0x20_0000, 'read-write', 2 * MiB);
      r.g.map(3, 0x8000_0000, 0, 'read', 1024 * MiB);
      r.g.map(3, 0x7000_1000, 0x30_0000, 'read');
      const ctx = requester(r, 0x08);
      expect(ctx.writeU32LE(iova(0x4000_0000 + 0x1_2340), 7)).toBe('ok');
      expect(r.d.readl(0x20_0000 + 0x1_2340)).toBe(7);
      r.d.writel(0x12_3458, 0xfeed);
      expect(ctx.readU32LE(iova(0x8000_0000 + 0x12_3458))).toBe(0xfeed);
      r.d.writel(0x30_0004, 9);
      expect(ctx.readU32LE(iova(0x7000_1004))).toBe(9);
      expect(fault(ctx.writeU32LE(iova(0x7000_1004), 1))).toBe('iommu-fault');
      expect(r.g.faults().map((f) => [f.cause, f.ttyp, f.iotval])).toEqual([[15, 3, 0x7000_1004n]]);
    }
  });

  it('refuses malformed leaves with page faults and unreadable tables with access faults', async () => {
    const r = await rig();
    r.g.attach(0x08, 2);
    const ctx = requester(r, 0x08);
    const leaf = (gpa: number, bits: bigint) => ((BigInt(gpa) >> 12n) << 10n) | bits;
    const V = 1n,
      R_ = 2n,
      W = 4n,
      U = 16n,
      A = 64n,
      D = 128n;
    const cases: [number, bigint, 'read' | 'write', number][] = [
      [0x1000, leaf(0x5000, V | R_ | A), 'read', 13], // U clear: devices are user-mode
      [0x2000, leaf(0x5000, V | R_ | U), 'read', 13], // A clear (no hardware A/D updates)
      [0x3000, leaf(0x5000, V | R_ | W | U | A), 'write', 15], // D clear
      [0x4000, leaf(0x5000, V | W | U | A | D), 'write', 15], // W without R: reserved
      [0x5000, leaf(0x5000, V | R_ | U | A) | (1n << 61n), 'read', 13], // PBMT without Svpbmt
      [0x6000, leaf(0x5000, V | R_ | U | A) | (1n << 55n), 'read', 13], // reserved bit
      [0x7000, leaf(0x5000, V | R_ | U | A) | (1n << 63n), 'read', 13], // N with ppn[3:0] != 1000b
    ];
    for (const [io, pte, access] of cases) {
      r.g.writePte(2, io, pte);
      const x = access === 'read' ? ctx.readU32LE(iova(io)) : ctx.writeU32LE(iova(io), 1);
      expect(fault(x), `PTE ${pte.toString(16)}`).toBe('iommu-fault');
    }
    // A D-clear page still reads: handed out read-only, the write then walks and faults.
    expect(ctx.readU32LE(iova(0x3000))).toBe(0);
    // A 2 MiB leaf whose PPN is not 2 MiB-aligned.
    r.g.writePte(2, 0x20_0000, leaf(0x1000, V | R_ | U | A), 1);
    expect(fault(ctx.readU32LE(iova(0x20_0000)))).toBe('iommu-fault');
    // Non-canonical for Sv39: at or above 2^38.
    expect(fault(ctx.readU32LE(iova(2 ** 38)))).toBe('iommu-fault');
    // A non-leaf pointing past RAM: read access fault.
    r.g.writePte(2, 0x4000_0000, ((0x7f_0000_0000n >> 12n) << 10n) | V, 1);
    expect(fault(ctx.readU32LE(iova(0x4000_0000)))).toBe('iommu-fault');
    expect(r.g.faults().map((f) => f.cause)).toEqual([13, 13, 15, 15, 13, 13, 13, 13, 13, 5]);
  });

  it('maps Svnapot 64 KiB leaves', async () => {
    const r = await rig();
    r.g.attach(0x08, 2);
    // 16 identical PTEs, ppn[3:0] = 1000b, N set: 64 KiB at 0x50_0000.
    const pte = (((0x50_0000n >> 12n) | 8n) << 10n) | 0x57n | (1n << 63n) | 128n;
    for (let i = 0; i < 16; i++) r.g.writePte(2, 0x10_0000 + i * 4096, pte);
    r.d.writel(0x50_0000 + 0xf000 + 8, 0x64);
    const ctx = requester(r, 0x08);
    expect(ctx.readU32LE(iova(0x10_0000 + 0xf000 + 8))).toBe(0x64);
    expect(ctx.iotlb.size).toBe(1);
  });

  it('does not report faults of a context with DTF set, and counts an overflowing queue', async () => {
    const r = await rig({ log2Entries: 2 });
    r.g.attach(0x08, 1, 'paging', true);
    const ctx = requester(r, 0x08);
    expect(fault(ctx.readU32LE(iova(0x1000)))).toBe('iommu-fault');
    expect(r.g.faults()).toEqual([]);
    const other = requester(r, 0x10); // no context: always reported
    for (let i = 0; i < 5; i++) other.readU32LE(iova(i * 4096));
    expect(r.g.readl(R.FQCSR) & (1 << 9)).not.toBe(0); // fqof: 4 entries hold 3 records
    expect(r.g.faults().length).toBe(3);
    expect(r.wires.wsi1).toBe(1); // fiv = 1
  });

  it('IOTINVAL.VMA drops what its PSCID and address name, and only that', async () => {
    const r = await rig();
    r.g.attach(0x08, 1);
    r.g.attach(0x10, 2);
    r.g.map(1, 0x1000, 0x10_0000, 'read');
    r.g.map(2, 0x1000, 0x20_0000, 'read');
    r.d.writel(0x10_0000, 1);
    r.d.writel(0x20_0000, 2);
    r.d.writel(0x30_0000, 3);
    const a = requester(r, 0x08);
    const b = requester(r, 0x10);
    expect([a.readU32LE(iova(0x1000)), b.readU32LE(iova(0x1000))]).toEqual([1, 2]);
    // Both PTEs now point at 0x30_0000, but only PSCID 2 is invalidated: PSCID 1 stays stale.
    r.g.map(1, 0x1000, 0x30_0000, 'read');
    r.g.map(2, 0x1000, 0x30_0000, 'read');
    r.g.invalidate(2, 0x1000);
    expect([a.readU32LE(iova(0x1000)), b.readU32LE(iova(0x1000))]).toEqual([1, 3]);
    // Another address of PSCID 1 leaves 0x1000 cached; the right one drops it.
    r.g.invalidate(1, 0x5000);
    expect(a.readU32LE(iova(0x1000))).toBe(1);
    r.g.invalidate(1, 0x1000);
    expect(a.readU32LE(iova(0x1000))).toBe(3);
  });

  it('keeps using a cached device context until IODIR.INVAL_DDT, and drops its translations then', async () => {
    const r = await rig();
    r.g.attach(0x08, 0, 'identity');
    const ctx = requester(r, 0x08);
    r.d.writel(0x1000, 0x1d);
    expect(ctx.readU32LE(iova(0x1000))).toBe(0x1d);
    // Edit the context to invalid without telling the IOMMU: still identity.
    r.d.writeq(r.g.contextAddress(0x08), 0n);
    ctx.flushIotlb();
    expect(ctx.readU32LE(iova(0x1000))).toBe(0x1d);
    r.g.command(3n | (1n << 33n) | (0x08n << 40n), 0n);
    expect(fault(ctx.readU32LE(iova(0x1000)))).toBe('iommu-fault');
    expect(r.g.faults().map((f) => f.cause)).toEqual([258]);
  });

  it('translates through a second stage alone: the IOVA is a guest-physical address', async () => {
    const r = await rig();
    r.g.attach(0x08, 0, 'identity', false, 7);
    r.g.gmap(7, 0x4000_1000, 0x20_0000, 'read-write');
    r.g.gmap(7, 0x4020_0000, 0x40_0000, 'read', 2 * MiB);
    const ctx = requester(r, 0x08);
    expect(ctx.writeU32LE(iova(0x4000_1008), 0x9a)).toBe('ok');
    expect(r.d.readl(0x20_0008)).toBe(0x9a);
    r.d.writel(0x40_1234, 0x77);
    expect(ctx.readU32LE(iova(0x4020_1234))).toBe(0x77);
    expect(fault(ctx.writeU32LE(iova(0x4020_1234), 1))).toBe('iommu-fault');
    expect(fault(ctx.readU32LE(iova(0x5000_0000)))).toBe('iommu-fault');
    expect(fault(ctx.readU32LE(iova(2 ** 41)))).toBe('iommu-fault'); // past Sv39x4's 41 bits
    const got = r.g.faults();
    expect(got.map((f) => f.cause)).toEqual([23, 21, 21]);
    expect(got.map((f) => f.iotval2)).toEqual([0x4020_1234n, 0x5000_0000n, 2n ** 41n]);
    expect(r.emu.iommus.get('mmu0')!.model.info!()).toContainEqual(
      expect.stringMatching(
        /^device context 0x8: first stage Bare; second stage Sv39x4 at 0x[0-9a-f]+, GSCID 7$/,
      ),
    );
  });

  it('nests the stages: first-stage tables and results are guest-physical', async () => {
    const r = await rig();
    // The guest's tables live in system RAM from 16 MiB: the second stage maps that window
    // one to one (2 MiB pages), so their addresses mean the same in both spaces.
    r.g.attach(0x08, 3, 'paging', false, 9);
    for (let a = 16 * MiB; a < 48 * MiB; a += 2 * MiB) r.g.gmap(9, a, a, 'read', 2 * MiB);
    r.g.map(3, 0x5000, 0x8000_0000, 'read-write'); // IOVA 0x5000 → GPA 2 GiB
    r.g.gmap(9, 0x8000_0000, 0x30_0000, 'read-write'); // GPA 2 GiB → SPA 3 MiB
    r.g.map(3, 0x6000, 0x9000_0000, 'read'); // a GPA the second stage does not map
    const ctx = requester(r, 0x08);
    expect(ctx.writeU32LE(iova(0x5010), 0x5e)).toBe('ok');
    expect(r.d.readl(0x30_0010)).toBe(0x5e);
    expect(ctx.iotlb.size).toBe(1);
    expect(fault(ctx.readU32LE(iova(0x7000)))).toBe('iommu-fault'); // first stage: page fault
    expect(fault(ctx.readU32LE(iova(0x6000)))).toBe('iommu-fault'); // second stage: guest-page
    // A first-stage table whose GPA the second stage does not map: guest-page fault too.
    r.g.gunmap(9, 16 * MiB, 1); // the window holding the first-stage root table
    expect(ctx.iotlb.size).toBe(0); // IOTINVAL.GVMA by GPA dropped the two-stage requester
    expect(fault(ctx.writeU32LE(iova(0x5010), 1))).toBe('iommu-fault');
    const got = r.g.faults();
    expect(got.map((f) => f.cause)).toEqual([13, 21, 23]);
    expect(got[1]!.iotval2).toBe(0x9000_0000n);
    expect(got[2]!.iotval2 >= BigInt(16 * MiB) && got[2]!.iotval2 < BigInt(18 * MiB)).toBe(true);
  });

  it('IOTINVAL.GVMA drops what its GSCID names, and VMA without GV leaves two-stage contexts', async () => {
    const r = await rig();
    r.g.attach(0x08, 0, 'identity', false, 1);
    r.g.attach(0x10, 0, 'identity', false, 2);
    for (const g of [1, 2]) r.g.gmap(g, 0x1000, 0x10_0000, 'read');
    r.d.writel(0x10_0000, 1);
    r.d.writel(0x20_0000, 2);
    const a = requester(r, 0x08);
    const b = requester(r, 0x10);
    expect([a.readU32LE(iova(0x1000)), b.readU32LE(iova(0x1000))]).toEqual([1, 1]);
    for (const g of [1, 2]) r.g.gmap(g, 0x1000, 0x20_0000, 'read');
    r.g.invalidate(); // VMA, GV = 0: first-stage-only contexts; these keep their pages
    expect([a.readU32LE(iova(0x1000)), b.readU32LE(iova(0x1000))]).toEqual([1, 1]);
    r.g.command(1n | (1n << 7n) | (1n << 10n) | (1n << 33n) | (2n << 44n), (0x1000n >> 12n) << 10n);
    r.g.fence();
    expect([a.readU32LE(iova(0x1000)), b.readU32LE(iova(0x1000))]).toEqual([1, 2]);
    r.g.command(1n | (1n << 7n) | (1n << 32n), 0n); // GVMA with PSCV: illegal
    expect(r.g.readl(R.CQCSR) & (1 << 10)).not.toBe(0);
  });

  it('refuses second stages it does not implement or that are misaligned (259)', async () => {
    const r = await rig();
    r.g.attach(0x08, 0, 'identity', false, 1);
    const dc = r.g.contextAddress(0x08);
    const gatp = r.d.readq(dc + 8);
    r.d.writeq(dc + 8, (gatp & ~(0xfn << 60n)) | (9n << 60n)); // Sv48x4 without the sv48 option
    r.g.command(3n | (1n << 33n) | (0x08n << 40n), 0n);
    expect(fault(requester(r, 0x08).readU32LE(iova(0)))).toBe('iommu-fault');
    r.d.writeq(dc + 8, gatp | 1n); // a root that is not 16 KiB aligned
    r.g.command(3n | (1n << 33n) | (0x08n << 40n), 0n);
    expect(fault(requester(r, 0x08).readU32LE(iova(0)))).toBe('iommu-fault');
    expect(r.g.faults().map((f) => f.cause)).toEqual([259, 259]);
  });

  it('saves and restores its registers and context cache as plain data', async () => {
    const r = await rig();
    r.g.attach(0x08, 4);
    r.g.map(4, 0x1000, 0x10_0000, 'read-write');
    requester(r, 0x08).readU32LE(iova(0x1000));
    const saved = r.emu.iommus.get('mmu0')!.saveState();
    expect(JSON.parse(JSON.stringify(saved))).toEqual(saved);
    const info = r.emu.iommus.get('mmu0')!.model.info!();
    expect(info).toContain(
      `device context 0x8: Sv39 at 0x${(r.g as unknown as { roots: Map<number, number> }).roots.get(4)!.toString(16)}, PSCID 4`,
    );
  });

  it('state v2 records the advertised Sv48; a v1 state (0.1.0) migrates and restores', async () => {
    const r = await rig();
    r.g.attach(0x08, 4);
    const saved = r.emu.iommus.get('mmu0')!.saveState();
    expect(saved.version).toBe(2);
    const data = saved.data as Record<string, unknown>;
    expect(data.sv48).toBe(false);
    const { sv48: _, ...v1 } = data;
    const migrated = migrateState(1, v1);
    expect(migrated).toEqual({ ...v1, sv48: null });
    expect(restoreState(migrated)?.sv48).toBeNull();
    expect(restoreState(data)?.regs.ddtp).toBe(restoreState(migrated)?.regs.ddtp);
    expect(migrateState(3, data)).toBeUndefined();
  });

  it('translates random Sv39 mappings as a naive page map does', async () => {
    const r = await rig();
    r.g.attach(0x08, 9);
    const ctx = requester(r, 0x08);
    const naive = new Map<number, { gpa: number; perm: 'read' | 'read-write' }>();
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            page: fc.integer({ min: 0, max: 2 ** 18 - 1 }),
            gpaPage: fc.integer({ min: 0, max: 2 ** 12 - 1 }),
            perm: fc.constantFrom('read' as const, 'read-write' as const),
            op: fc.constantFrom('map', 'unmap', 'read', 'write'),
          }),
          { maxLength: 30 },
        ),
        async (ops) => {
          for (const o of ops) {
            const io = o.page * 4096;
            if (o.op === 'map') {
              r.g.map(9, io, o.gpaPage * 4096, o.perm);
              r.g.invalidate(9, io);
              naive.set(o.page, { gpa: o.gpaPage * 4096, perm: o.perm });
            } else if (o.op === 'unmap') {
              if (naive.has(o.page)) r.g.unmap(9, io);
              naive.delete(o.page);
            } else {
              const want = naive.get(o.page);
              const isWrite = o.op === 'write';
              const got = isWrite
                ? ctx.writeU32LE(iova(io + 8), 0xabcd)
                : ctx.readU32LE(iova(io + 8));
              if (want === undefined || (isWrite && want.perm === 'read'))
                expect(fault(got)).toBe('iommu-fault');
              else if (isWrite) expect(r.d.readl(want.gpa + 8)).toBe(0xabcd);
              else expect(got).toBe(r.d.readl(want.gpa + 8));
            }
          }
          r.g.faults();
        },
      ),
      { numRuns: 40 },
    );
  }, 60_000);
});
