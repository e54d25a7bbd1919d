/**
 * The register block as a guest driver sees it (what is advertised, access widths, command
 * registers, reset and state), and translation faults that need IOVAs or table contents the
 * DMA device cannot produce, seen through a requester context of the kernel's own.
 */
import { bareMachine, Emulator } from '@emuhost/host';
import { type DmaError, type DmaMapping, type GuestPhysAddr, iova } from '@emuhost/sdk';
import { describe, expect, it } from 'vitest';
import { BASE, R } from './test-support/guest.js';
import { loadVtd, type MachineOptions, testMachine } from './test-support/load.js';

const RID = 0x10;

/** A machine with the IOMMU initialised and a bare requester context (rid 0x10, domain 1). */
async function withRequester(o: MachineOptions = {}) {
  const t = await testMachine({ devices: 0, ...o });
  const req = t.emu.machine.dma.createContext({
    device: 'requester',
    bus: 'pci.0',
    requesterId: RID,
  });
  return { ...t, req };
}

const cap = (hi: number, lo: number) => (BigInt(hi) << 32n) | BigInt(lo);

describe('what the registers advertise', () => {
  it('aw_bits 39: VER 1.0, CAP and ECAP with only what is implemented', async () => {
    const { g } = await testMachine({ devices: 0, options: { aw_bits: 39 } });
    expect(g.readl(R.VER)).toBe(0x10);
    const c = g.readq(R.CAP);
    expect(c).toBe(cap(0x0012_038c, 0x2226_0206));
    expect(c & 7n).toBe(6n); // ND: 16-bit domain ids
    expect((c >> 7n) & 1n).toBe(0n); // CM
    expect((c >> 8n) & 0x1fn).toBe(0b00010n); // SAGAW: 39-bit, 3-level
    expect((c >> 16n) & 0x3fn).toBe(38n); // MGAW - 1
    expect(((c >> 24n) & 0x3ffn) * 16n).toBe(0x220n); // FRO
    expect((c >> 34n) & 0xfn).toBe(0b0011n); // SLLPS: 2 MiB, 1 GiB
    expect((c >> 39n) & 1n).toBe(1n); // PSI
    expect((c >> 40n) & 0xffn).toBe(3n); // NFR - 1
    expect((c >> 48n) & 0x3fn).toBe(18n); // MAMV
    for (const bit of [3n, 4n, 5n, 6n, 22n, 54n, 55n, 56n, 59n, 63n])
      expect((c >> bit) & 1n).toBe(0n);
    const e = g.readq(R.ECAP);
    expect(e).toBe(0xf43n); // C, QI, PT, IRO = 0xf
    expect((e >> 2n) & 0x3n).toBe(0n); // no DT, no IR
    expect(((e >> 8n) & 0x3ffn) * 16n).toBe(0xf0n);
  });

  it('aw_bits 48: SAGAW 39 and 48, MGAW 47; caching_mode sets CM', async () => {
    const { g } = await testMachine({ devices: 0, options: { aw_bits: 48, caching_mode: true } });
    const c = g.readq(R.CAP);
    expect((c >> 8n) & 0x1fn).toBe(0b00110n);
    expect((c >> 16n) & 0x3fn).toBe(47n);
    expect((c >> 7n) & 1n).toBe(1n);
  });

  it('refuses options it cannot honour', async () => {
    const plugin = await loadVtd();
    const emu = new Emulator({ machine: bareMachine(), ramSize: 16 << 20, log: () => {} });
    expect(() => emu.addIommu(plugin, { id: 'v', options: { aw_bits: 40 } })).toThrow(
      /aw_bits must be 39.*or 48/,
    );
    expect(() => emu.addIommu(plugin, { id: 'w', options: { base: 0xfed90010 } })).toThrow(
      /base must be a 4 KiB-aligned/,
    );
    expect(() => emu.addIommu(plugin, { id: 'x', options: { pt: true } })).toThrow(/no option/);
    expect(() => emu.addIommu(plugin, { id: 'y', options: { intremap: 'on' } })).toThrow(
      /interrupt remapping is not implemented/,
    );
  });

  it("takes QEMU's property names (-device intel-iommu,aw-bits=48,caching-mode=on,intremap=off)", async () => {
    const t = await testMachine({
      devices: 0,
      options: { 'aw-bits': '48', 'caching-mode': 'on', intremap: 'off' },
    });
    const c = t.g.readq(R.CAP);
    expect((c >> 16n) & 0x3fn).toBe(47n);
    expect((c >> 7n) & 1n).toBe(1n);
  });

  it('sits at the base option', async () => {
    const { g } = await testMachine({
      devices: 0,
      options: { base: 0xfe000000 },
      base: 0xfe000000,
      init: false,
    });
    expect(g.readl(R.VER)).toBe(0x10);
    expect(g.d.readl(BASE + R.VER)).toBe(0);
  });
});

describe('register accesses', () => {
  it('answers 8-byte reads as both halves and 4-byte reads of each half', async () => {
    const { g } = await testMachine({ devices: 0 });
    const c = g.readq(R.CAP);
    expect(BigInt(g.readl(R.CAP))).toBe(c & 0xffffffffn);
    expect(BigInt(g.readl(R.CAP + 4))).toBe(c >> 32n);
    // An 8-byte read across two 32-bit registers (FECTL, FEDATA).
    g.writel(R.FEDATA, 0x1234);
    expect(g.readq(R.FECTL)).toBe((0x1234n << 32n) | 0x80000000n);
  });

  it('refuses 1- and 2-byte and unaligned accesses without harm', async () => {
    const { emu, g } = await testMachine({ devices: 0 });
    const m = emu.machine.memory;
    const at = (off: number) => (BASE + off) as GuestPhysAddr;
    expect(m.load(at(R.VER), 1)).toBe('access-error');
    expect(m.load(at(R.VER), 2)).toBe('access-error');
    expect(m.store(at(R.GCMD), 1, 0x80)).toBe('access-error');
    expect(m.store(at(R.GCMD + 2), 2, 0x8000)).toBe('access-error');
    expect(m.load64(at(R.CAP + 4))).toBe('access-error');
    expect(m.load(at(R.VER + 2), 4)).toBe('access-error');
    // Still working, nothing changed.
    expect(g.readl(R.GSTS) & 0x80000000).not.toBe(0); // TE set by init()
    expect(g.readl(R.VER)).toBe(0x10);
  });

  it('takes 64-bit registers as 8-byte writes or as two 4-byte halves', async () => {
    const { g } = await testMachine({ devices: 0 });
    g.writeq(R.RTADDR, 0x12_3456_7000n);
    expect(g.readq(R.RTADDR)).toBe(0x12_3456_7000n);
    g.writel(R.RTADDR, 0xabcde000);
    g.writel(R.RTADDR + 4, 0x1);
    expect(g.readq(R.RTADDR)).toBe(0x1_abcd_e000n);
    // CCMD as low then high half: the command runs on the high half.
    g.writel(R.CCMD, 0x0005);
    g.writel(R.CCMD + 4, 0xa000_0000); // ICC | CIRG = global
    // ICC clear, CIRG as written, CAIG = global, DID kept.
    expect(g.readq(R.CCMD)).toBe((1n << 61n) | (1n << 59n) | 5n);
    // IOTLB_REG as one 8-byte write (domain-selective, DID 3).
    g.writeq(R.IOTLB, (1n << 63n) | (2n << 60n) | (3n << 32n));
    expect(g.readq(R.IOTLB)).toBe((2n << 60n) | (2n << 57n) | (3n << 32n));
  });

  it('an 8-byte write over GCMD and GSTS runs the command and ignores the read-only half', async () => {
    const { g } = await testMachine({ devices: 0, init: false });
    g.writeq(R.GCMD, 0xffff_ffff_0000_0000n); // GCMD 0, GSTS (read-only) all ones
    expect(g.readl(R.GSTS)).toBe(0);
    g.writeq(R.GCMD, 0x8000_0000n); // TE
    expect(g.readl(R.GSTS)).toBe(0x80000000);
  });

  it('reads write-only registers (GCMD, IVA, CCMD.SID/FM) as 0', async () => {
    const { g } = await testMachine({ devices: 0 });
    expect(g.readl(R.GCMD)).toBe(0);
    g.writeq(R.IVA, 0x1234_5000n | 0x45n);
    expect(g.readq(R.IVA)).toBe(0n);
    g.writeq(R.CCMD, (3n << 32n) | (0xabcdn << 16n) | 7n);
    expect(g.readq(R.CCMD)).toBe(7n);
  });

  it('reports invalid invalidation requests with an actual granularity of 0', async () => {
    const { g } = await testMachine({ devices: 0 });
    g.writeq(R.CCMD, 1n << 63n); // CIRG 0
    expect((g.readq(R.CCMD) >> 59n) & 3n).toBe(0n);
    g.writeq(R.IOTLB, 1n << 63n); // IIRG 0
    expect((g.readq(R.IOTLB) >> 57n) & 3n).toBe(0n);
    g.writeq(R.IVA, 19n); // AM above MAMV
    g.writeq(R.IOTLB, (1n << 63n) | (3n << 60n));
    expect((g.readq(R.IOTLB) >> 57n) & 3n).toBe(0n);
    g.writeq(R.IVA, 18n);
    g.writeq(R.IOTLB, (1n << 63n) | (3n << 60n));
    expect((g.readq(R.IOTLB) >> 57n) & 3n).toBe(3n);
  });

  it('ignores GCMD commands for features it does not have', async () => {
    const { g } = await testMachine({ devices: 0, init: false });
    g.writel(R.GCMD, 0x3b800000); // SFL, EAFL, WBF, IRE, SIRTP, CFI
    expect(g.readl(R.GSTS)).toBe(0);
  });

  it('resets to power-on values with the machine', async () => {
    const t = await withRequester();
    t.g.writel(R.FECTL, 0);
    t.g.writel(R.FEDATA, 0x55);
    expect((t.req.readU32LE(iova(0x1000)) as DmaError).result).toBe('iommu-fault');
    expect(t.g.readl(R.FSTS)).toBe(0x2);
    t.emu.reset();
    expect(t.g.readl(R.GSTS)).toBe(0);
    expect(t.g.readl(R.FSTS)).toBe(0);
    expect(t.g.readl(R.FECTL)).toBe(0x80000000);
    expect(t.g.readl(R.FEDATA)).toBe(0);
    expect(t.g.readl(R.IECTL)).toBe(0x80000000);
    expect(t.g.readq(R.RTADDR)).toBe(0n);
    // TE is off again: identity.
    t.emu.machine.memory.store(0x1000 as GuestPhysAddr, 4, 0xfeedf00d);
    expect(t.req.readU32LE(iova(0x1000))).toBe(0xfeedf00d);
  });
});

describe('translation faults', () => {
  it('faults an IOVA above the address width (4h) and records the page address', async () => {
    const t = await withRequester();
    t.g.attach(RID, 1);
    const r = t.req.readU32LE(iova(2 ** 39 + 0x1234)) as DmaError;
    expect(r.result).toBe('iommu-fault');
    expect(r.reason).toBe('out-of-range');
    expect(t.g.fault(0)).toEqual({ f: true, read: true, fr: 0x4, sid: RID, fi: 2 ** 39 + 0x1000 });
  });

  it('4-level tables translate IOVAs above 512 GiB', async () => {
    const t = await withRequester({ levels: 4, options: { aw_bits: 48 } });
    t.g.attach(RID, 1);
    t.g.map(1, 2 ** 40, 0x200000, 'read-write');
    expect(t.req.writeU32LE(iova(2 ** 40 + 8), 0xabcd)).toBe('ok');
    expect(t.emu.machine.memory.load(0x200008 as GuestPhysAddr, 4)).toBe(0xabcd);
    // A 3-level context entry (AW = 1) on the same unit limits the IOVA to 39 bits.
    t.g.writeContext(RID, BigInt(t.g.topTable(1)) | 1n, (1n << 8n) | 1n);
    t.g.invalidateContext('global');
    expect((t.req.readU32LE(iova(2 ** 40)) as DmaError).reason).toBe('out-of-range');
  });

  it.each([
    ['an AW the unit does not support (3h)', 0n, (1n << 8n) | 2n, 0x3, 'no-context'],
    [
      'translation type 01b, device-TLBs unsupported (3h)',
      1n << 2n,
      (1n << 8n) | 1n,
      0x3,
      'no-context',
    ],
    ['translation type 11b (3h)', 3n << 2n, (1n << 8n) | 1n, 0x3, 'no-context'],
    ['reserved bits in the context entry (Bh)', 1n << 4n, (1n << 8n) | 1n, 0xb, 'bad-table'],
    ['reserved high bits in the context entry (Bh)', 0n, (1n << 30n) | 1n, 0xb, 'bad-table'],
  ] as const)('faults %s', async (_name, lo, hi, fr, reason) => {
    const t = await withRequester();
    t.g.attach(RID, 1);
    t.g.writeContext(RID, BigInt(t.g.topTable(1)) | lo | 1n, hi);
    t.g.invalidateContext('global');
    const r = t.req.readU32LE(iova(0x1000)) as DmaError;
    expect(r.reason).toBe(reason);
    expect(t.g.fault(0)).toMatchObject({ f: true, fr });
  });

  it.each([
    ['reserved bit 11 (SNP, no snoop control) in a leaf', 0x800n, 0xc],
    ['an address bit above the host address width', 1n << 40n, 0xc],
    ['the TM bit (no device-TLBs)', 1n << 62n, 0xc],
  ] as const)('faults %s (Ch)', async (_name, bits, fr) => {
    const t = await withRequester();
    t.g.attach(RID, 1);
    t.g.map(1, 0x10000000, 0x200000, 'read');
    const at = t.g.leafAddr(1, 0x10000000);
    t.d.writeq(at, t.d.readq(at) | bits);
    const r = t.req.readU32LE(iova(0x10000000)) as DmaError;
    expect(r.reason).toBe('bad-table');
    expect(t.g.fault(0)).toMatchObject({ f: true, fr });
  });

  it('faults reserved bits of a superpage (Ch) and PS in a 4th-level entry (Ch)', async () => {
    const t = await withRequester({ levels: 4, options: { aw_bits: 48 } });
    t.g.attach(RID, 1);
    t.g.map(1, 0x40000000, 0x200000, 'read', 2 * 1024 * 1024);
    const pde = t.g.leafAddr(1, 0x40000000, 2 * 1024 * 1024);
    t.d.writeq(pde, t.d.readq(pde) | 0x1000n); // bit 12 of a 2 MiB leaf is reserved
    expect((t.req.readU32LE(iova(0x40000000)) as DmaError).reason).toBe('bad-table');
    expect(t.g.fault(0).fr).toBe(0xc);
    t.d.writeq(pde, t.d.readq(pde) & ~0x1000n);
    t.emu.machine.memory.store(0x200010 as GuestPhysAddr, 4, 0x600d);
    expect(t.req.readU32LE(iova(0x40000010))).toBe(0x600d);
    const pml4e = t.g.topTable(1);
    t.d.writeq(pml4e, t.d.readq(pml4e) | 0x80n);
    t.g.invalidateIotlb('global');
    expect((t.req.readU32LE(iova(0x40000000)) as DmaError).reason).toBe('bad-table');
    expect(t.g.fault(1).fr).toBe(0xc);
  });

  it('faults tables it cannot read: 3h through SLPTPTR, 7h lower down, 9h, 8h', async () => {
    const t = await withRequester();
    const nowhere = 0x40_0000_0000n; // 256 GiB: below the 39-bit width, nothing there
    t.g.attach(RID, 1);
    t.g.writeContext(RID, nowhere | 1n, (1n << 8n) | 1n);
    t.g.invalidateContext('global');
    expect((t.req.readU32LE(iova(0x1000)) as DmaError).reason).toBe('bad-table');
    expect(t.g.fault(0).fr).toBe(0x3);
    t.g.attach(RID, 1);
    t.d.writeq(t.g.topTable(1), nowhere | 3n);
    t.g.invalidateIotlb('global');
    expect((t.req.readU32LE(iova(0x1000)) as DmaError).reason).toBe('bad-table');
    expect(t.g.fault(1).fr).toBe(0x7);
    t.d.writeq(t.g.root, nowhere | 1n); // context table pointer of bus 0
    t.g.invalidateContext('global');
    expect((t.req.readU32LE(iova(0x1000)) as DmaError).reason).toBe('bad-table');
    expect(t.g.fault(2).fr).toBe(0x9);
    t.g.writeq(R.RTADDR, nowhere);
    t.g.command(0x40000000, true); // SRTP
    expect((t.req.readU32LE(iova(0x1000)) as DmaError).reason).toBe('bad-table');
    expect(t.g.fault(3).fr).toBe(0x8);
  });

  it('permission is the AND of R and W over every level', async () => {
    const t = await withRequester();
    t.g.attach(RID, 1);
    t.g.map(1, 0x10000000, 0x200000, 'read-write');
    expect(t.req.writeU32LE(iova(0x10000000), 1)).toBe('ok');
    const top = t.g.topTable(1);
    t.d.writeq(top, t.d.readq(top) & ~2n); // the top-level entry loses W
    t.g.invalidateIotlb('global');
    expect(t.req.readU32LE(iova(0x10000000))).toBe(1);
    const w = t.req.writeU32LE(iova(0x10000000), 2) as DmaError;
    expect(w.reason).toBe('permission');
    expect(t.g.fault(0)).toMatchObject({ fr: 0x5, read: false });
  });

  it('passes writes to the interrupt range untranslated (MSIs) and refuses reads, unrecorded', async () => {
    const t = await withRequester();
    t.g.attach(RID, 1);
    t.g.map(1, 0xfee00000, 0x200000, 'read-write'); // ignored: never DMA-remapped
    expect(t.req.writeU32LE(iova(0xfee0100c), 0x4455)).toBe('ok');
    expect(t.emu.msi!.messages.map((m) => [m.address, m.data, m.requesterId])).toEqual([
      [0xfee0100c, 0x4455, RID],
    ]);
    expect(t.emu.machine.memory.load(0x20000c as GuestPhysAddr, 4)).toBe(0);
    expect((t.req.readU32LE(iova(0xfee00000)) as DmaError).result).toBe('iommu-fault');
    expect(t.g.fault(0).f).toBe(false);
    expect(t.g.readl(R.FSTS)).toBe(0);
  });

  it('never lets a large page cover the interrupt range', async () => {
    const t = await withRequester();
    t.g.attach(RID, 1);
    t.g.map(1, 0xc0000000, 0, 'read-write', 2 ** 30); // 1 GiB page over 0xfee00000
    expect(t.req.writeU32LE(iova(0xc0001000), 0x1234)).toBe('ok');
    expect(t.emu.machine.memory.load(0x1000 as GuestPhysAddr, 4)).toBe(0x1234);
    expect(t.req.writeU32LE(iova(0xfee00000), 0x51)).toBe('ok');
    expect(t.emu.msi!.messages.map((m) => [m.address, m.data])).toEqual([[0xfee00000, 0x51]]);
    // Just past the range the 1 GiB page applies again: 0xfef00004 → 0x3ef00004 (no RAM).
    const w = t.req.writeU32LE(iova(0xfef00004), 0x77) as DmaError;
    expect(w.result).toBe('decode-error');
    expect(t.emu.msi!.messages).toHaveLength(1);
    // Cached: 0xc0000000+512 MiB, the interrupt range, 0xfef00000+1 MiB.
    const tlb = t.emu.machine.dma.info().find((c) => c.device === 'requester')!.iotlb;
    expect(tlb.entries).toBe(3);
  });

  it('does not record faults of probes', async () => {
    const t = await withRequester();
    t.g.attach(RID, 1);
    expect(t.req.canAccess(iova(0x10000000), 4, 'read')).toBe(false);
    expect(t.g.fault(0).f).toBe(false);
    expect(t.g.readl(R.FSTS)).toBe(0);
    expect((t.req.readU32LE(iova(0x10000000)) as DmaError).reason).toBe('not-present');
    expect(t.g.fault(0).f).toBe(true);
  });
});

describe('state', () => {
  it('saves plain data and resumes from it with the same registers', async () => {
    const t = await withRequester({ invalidation: 'queued' });
    t.g.writel(R.FEDATA, 0x77);
    t.g.writel(R.FEADDR, 0xfee00000);
    expect((t.req.readU32LE(iova(0x1000)) as DmaError).result).toBe('iommu-fault');
    const vtd = t.emu.iommus.get('vtd0')!;
    const saved = vtd.saveState();
    expect(JSON.parse(JSON.stringify(saved))).toEqual(saved);
    const regs = [
      R.GSTS,
      R.RTADDR,
      R.RTADDR + 4,
      R.FSTS,
      R.FECTL,
      R.FEDATA,
      R.FEADDR,
      R.IQH,
      R.IQT,
      R.IQA,
      R.FRCD,
      R.FRCD + 8,
      R.FRCD + 12,
    ];
    const before = regs.map((r) => t.g.readl(r));

    const other = new Emulator({ machine: bareMachine(), ramSize: 64 << 20, log: () => {} });
    other.addIommu(await loadVtd(), { id: 'vtd0', state: saved });
    const read = (off: number) => {
      const b = new Uint8Array(4);
      other.machine.memory.read((BASE + off) as GuestPhysAddr, b);
      return new DataView(b.buffer).getUint32(0, true);
    };
    expect(regs.map(read)).toEqual(before);
    expect(other.iommus.get('vtd0')!.saveState()).toEqual(saved);
  });

  it('keeps its context cache across a reload, as hardware would: a context entry edited without invalidation stays unseen', async () => {
    const t = await withRequester();
    t.g.attach(RID, 1);
    t.g.map(1, 0x10000000, 0x200000, 'read-write');
    t.g.map(1, 0x10001000, 0x201000, 'read-write');
    expect(t.req.readU32LE(iova(0x10000000))).toBe(0);
    const live = t.req.map(iova(0x10000000), 16, 'write') as DmaMapping;
    // The guest clears the root entry for the requester's bus and owes an invalidation it
    // never makes: the cached context goes on translating.
    t.emu.machine.memory.store((t.g.root + ((RID >> 8) & 0xff) * 16) as GuestPhysAddr, 4, 0);
    const plugin = await loadVtd();
    const report = t.emu.reloadIommu('vtd0', plugin);
    expect(report.warnings).toEqual([]);
    expect(live.valid, 'the live mapping survives').toBe(true);
    // A page never translated before: the walk starts from the cached context, not the root.
    expect(t.req.readU32LE(iova(0x10001000))).toBe(0);
  });

  it('migrates state v1 (registers only): same registers, an empty context cache', async () => {
    const t = await withRequester();
    t.g.attach(RID, 1);
    t.g.map(1, 0x10000000, 0x200000, 'read-write');
    expect(t.req.readU32LE(iova(0x10000000))).toBe(0);
    const saved = t.emu.iommus.get('vtd0')!.saveState().data as Record<string, unknown>;
    expect(saved.contextCache).toEqual([expect.objectContaining({ rid: RID, did: 1 })]);
    const { contextCache: _, ...v1 } = saved;
    const other = new Emulator({ machine: bareMachine(), ramSize: 64 << 20, log: () => {} });
    const r = other.addIommu(await loadVtd(), { id: 'vtd0', state: { version: 1, data: v1 } });
    expect(r.saveState()).toEqual({ version: 2, data: { ...v1, contextCache: [] } });
  });

  it('starts from reset values when the saved data has another shape', async () => {
    const plugin = await loadVtd();
    const emu = new Emulator({ machine: bareMachine(), ramSize: 16 << 20, log: () => {} });
    const r = emu.addIommu(plugin, { id: 'vtd0', state: { version: 1, data: { gsts: 'x' } } });
    expect((r.saveState().data as { fectl: number }).fectl).toBe(0x80000000);
    const n = emu.addIommu(plugin, { id: 'vtd1', state: { version: 2, data: null } });
    expect((n.saveState().data as { fectl: number }).fectl).toBe(0x80000000);
  });
});
