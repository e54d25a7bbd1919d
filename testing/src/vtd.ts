/**
 * A guest driver for the VT-d plugin (plugins/vtd), programming the IOMMU the way an OS
 * driver does (Linux's intel-iommu for the order of operations): tables in guest RAM written
 * through the driver's memory accesses, registers over MMIO, and the invalidation the guest
 * owes after each change, through registers or through the invalidation queue. It restates
 * the register layout from the VT-d specification on purpose: it checks the model.
 */
import type { Driver } from './driver.js';

export const BASE = 0xfed90000;

export const R = {
  VER: 0x00,
  CAP: 0x08,
  ECAP: 0x10,
  GCMD: 0x18,
  GSTS: 0x1c,
  RTADDR: 0x20,
  CCMD: 0x28,
  FSTS: 0x34,
  FECTL: 0x38,
  FEDATA: 0x3c,
  FEADDR: 0x40,
  FEUADDR: 0x44,
  IQH: 0x80,
  IQT: 0x88,
  IQA: 0x90,
  ICS: 0x9c,
  IECTL: 0xa0,
  IEDATA: 0xa4,
  IEADDR: 0xa8,
  IVA: 0xf0,
  IOTLB: 0xf8,
  FRCD: 0x220,
} as const;

export const TES = 0x80000000;
export const RTPS = 0x40000000;
export const QIES = 0x04000000;
export const SRTP = 0x40000000;

export type Perm = 'read' | 'write' | 'read-write' | 'none';
export type Granularity = 'global' | 'domain' | 'device' | 'page';

export interface GuestOptions {
  readonly base?: number;
  /** Paging levels written into context entries (AW = 1 → 3, AW = 2 → 4). Default 3. */
  readonly levels?: 3 | 4;
  /** How invalidations are issued. Default 'register'. */
  readonly invalidation?: 'register' | 'queued';
}

export interface AttachOptions {
  readonly fpd?: boolean;
  readonly passThrough?: boolean;
  /** Skip the context-cache and IOTLB invalidation that follows the change. */
  readonly noInvalidate?: boolean;
}

const PERM_BITS: Record<Perm, bigint> = { none: 0n, read: 1n, write: 2n, 'read-write': 3n };
const LEVEL_OF_PAGE: ReadonlyMap<number, number> = new Map([
  [4096, 1],
  [2 ** 21, 2],
  [2 ** 30, 3],
]);

export class VtdGuest {
  readonly base: number;
  readonly levels: 3 | 4;
  readonly mode: 'register' | 'queued';
  root = 0;
  private readonly contextTables = new Map<number, number>();
  private readonly topTables = new Map<number, number>();
  private queue: { base: number; entries: number; tail: number; status: number } | undefined;
  private waits = 0;

  constructor(
    readonly d: Driver,
    readonly alloc: (size: number, align?: number) => number,
    opts: GuestOptions = {},
  ) {
    this.base = opts.base ?? BASE;
    this.levels = opts.levels ?? 3;
    this.mode = opts.invalidation ?? 'register';
  }

  // ---- registers ---------------------------------------------------------------------

  readl(off: number): number {
    return this.d.readl(this.base + off);
  }
  readq(off: number): bigint {
    return this.d.readq(this.base + off);
  }
  writel(off: number, v: number): void {
    this.d.writel(this.base + off, v);
  }
  writeq(off: number, v: bigint): void {
    this.d.writeq(this.base + off, v);
  }

  /** Issues one GCMD command: the persistent status bits plus `bit` set or cleared. */
  command(bit: number, on: boolean): void {
    const persistent = this.readl(R.GSTS) & (TES | QIES);
    this.writel(R.GCMD, on ? (persistent | bit) >>> 0 : persistent & ~bit);
  }

  /** Allocates the root table, latches it with SRTP and waits for RTPS. */
  setRootTable(): void {
    this.root = this.alloc(4096, 4096);
    this.writeq(R.RTADDR, BigInt(this.root));
    this.command(SRTP, true);
    if ((this.readl(R.GSTS) & RTPS) === 0) throw new Error('RTPS did not set');
  }

  enableTranslation(on = true): void {
    this.command(TES, on);
    if (((this.readl(R.GSTS) & TES) !== 0) !== on) throw new Error('TES did not follow TE');
  }

  /** Sets up and enables the invalidation queue (2^(qs+8) descriptors). */
  enableQueue(qs = 0): void {
    const entries = 2 ** (qs + 8);
    const base = this.alloc(entries * 16, 4096);
    const status = this.alloc(64, 64);
    this.writel(R.IQT, 0);
    this.writeq(R.IQA, BigInt(base) | BigInt(qs));
    this.command(QIES, true);
    if ((this.readl(R.GSTS) & QIES) === 0) throw new Error('QIES did not set');
    this.queue = { base, entries, tail: 0, status };
  }

  /** Programs the whole unit: root table, queue when asked for, translation enabled. */
  init(): void {
    this.setRootTable();
    if (this.mode === 'queued') this.enableQueue();
    this.enableTranslation();
  }

  // ---- tables --------------------------------------------------------------------------

  private table(): number {
    return this.alloc(4096, 4096);
  }

  /** The top second-level table of a domain, allocated on first use. */
  topTable(did: number): number {
    let t = this.topTables.get(did);
    if (t === undefined) {
      t = this.table();
      this.topTables.set(did, t);
    }
    return t;
  }

  /** Where the context entry of `rid` lives (the root entry and context table on demand). */
  contextEntryAddr(rid: number): number {
    const bus = rid >>> 8;
    let ct = this.contextTables.get(bus);
    if (ct === undefined) {
      ct = this.table();
      this.contextTables.set(bus, ct);
      this.d.writeq(this.root + bus * 16, BigInt(ct) | 1n);
      this.d.writeq(this.root + bus * 16 + 8, 0n);
    }
    return ct + (rid & 0xff) * 16;
  }

  /** Writes a present context entry for `rid` in domain `did`, then invalidates as owed. */
  attach(rid: number, did: number, o: AttachOptions = {}): void {
    const aw = BigInt(this.levels - 2);
    const tt = o.passThrough ? 2n : 0n;
    const lo = BigInt(o.passThrough ? 0 : this.topTable(did)) | (tt << 2n) | (o.fpd ? 2n : 0n) | 1n;
    const hi = (BigInt(did) << 8n) | aw;
    const at = this.contextEntryAddr(rid);
    this.d.writeq(at + 8, hi);
    this.d.writeq(at, lo);
    if (!o.noInvalidate) {
      this.invalidateContext('device', { sid: rid, did });
      this.invalidateIotlb('domain', { did });
    }
  }

  /** Writes a raw context entry (for malformed-entry tests); no invalidation. */
  writeContext(rid: number, lo: bigint, hi: bigint): void {
    const at = this.contextEntryAddr(rid);
    this.d.writeq(at + 8, hi);
    this.d.writeq(at, lo);
  }

  /** Clears the context entry of `rid`, then invalidates as owed. */
  detach(rid: number, did: number): void {
    this.d.writeq(this.contextEntryAddr(rid), 0n);
    this.invalidateContext('device', { sid: rid, did });
    this.invalidateIotlb('domain', { did });
  }

  /** The guest-physical address of the leaf entry for `iova`, building tables on the way. */
  leafAddr(did: number, iova: number, pageSize = 4096): number {
    const leafLevel = LEVEL_OF_PAGE.get(pageSize);
    if (leafLevel === undefined) throw new Error(`no ${pageSize}-byte pages`);
    let table = this.topTable(did);
    for (let level = this.levels; ; level--) {
      const shift = 12 + 9 * (level - 1);
      const at = table + (Math.floor(iova / 2 ** shift) % 512) * 8;
      if (level === leafLevel) return at;
      const e = this.d.readq(at);
      if ((e & 3n) === 0n) {
        const t = this.table();
        this.d.writeq(at, BigInt(t) | 3n);
        table = t;
      } else table = Number(e & 0x000ffffffffff000n);
    }
  }

  /** Maps one page (4 KiB, 2 MiB or 1 GiB) of domain `did`. No invalidation. */
  setPage(did: number, iova: number, gpa: number, perm: Perm, pageSize = 4096): void {
    const ps = pageSize > 4096 ? 0x80n : 0n;
    this.d.writeq(this.leafAddr(did, iova, pageSize), BigInt(gpa) | ps | PERM_BITS[perm]);
  }

  /** Maps one page and issues the page-selective invalidation a narrowing change needs. */
  map(did: number, iova: number, gpa: number, perm: Perm, pageSize = 4096): void {
    this.setPage(did, iova, gpa, perm, pageSize);
    this.invalidateIotlb('page', { did, addr: iova, am: Math.log2(pageSize / 4096) });
  }

  /** Unmaps one page and invalidates it. */
  unmap(did: number, iova: number, pageSize = 4096): void {
    this.setPage(did, iova, 0, 'none', pageSize);
    this.invalidateIotlb('page', { did, addr: iova, am: Math.log2(pageSize / 4096) });
  }

  // ---- invalidation ----------------------------------------------------------------------

  private static readonly G: Record<Granularity, bigint> = {
    global: 1n,
    domain: 2n,
    device: 3n,
    page: 3n,
  };

  /** Context-cache invalidation; returns the actual granularity (CAIG, or 1 when queued). */
  invalidateContext(
    g: Exclude<Granularity, 'page'>,
    o: { did?: number; sid?: number; fm?: number } = {},
  ): number {
    const gr = VtdGuest.G[g];
    const did = BigInt(o.did ?? 0);
    const sid = BigInt(o.sid ?? 0);
    const fm = BigInt(o.fm ?? 0);
    if (this.mode === 'queued') {
      this.submit([[1n | (gr << 4n) | (did << 16n) | (sid << 32n) | (fm << 48n), 0n]]);
      return Number(gr);
    }
    this.writeq(R.CCMD, (1n << 63n) | (gr << 61n) | (fm << 32n) | (sid << 16n) | did);
    const v = this.readq(R.CCMD);
    if (v >> 63n !== 0n) throw new Error('CCMD.ICC did not clear');
    return Number((v >> 59n) & 3n);
  }

  /** IOTLB invalidation; returns the actual granularity (IAIG, or the request when queued). */
  invalidateIotlb(
    g: Exclude<Granularity, 'device'>,
    o: { did?: number; addr?: number; am?: number; ih?: boolean } = {},
  ): number {
    const gr = VtdGuest.G[g];
    const did = BigInt(o.did ?? 0);
    const iva = BigInt(o.addr ?? 0) | (o.ih ? 0x40n : 0n) | BigInt(o.am ?? 0);
    if (this.mode === 'queued') {
      this.submit([[2n | (gr << 4n) | (did << 16n), iva]]);
      return Number(gr);
    }
    if (g === 'page') this.writeq(R.IVA, iva);
    this.writeq(R.IOTLB, (1n << 63n) | (gr << 60n) | (did << 32n));
    const v = this.readq(R.IOTLB);
    if (v >> 63n !== 0n) throw new Error('IOTLB_REG.IVT did not clear');
    return Number((v >> 57n) & 3n);
  }

  /**
   * Queues descriptors (each [low, high] qword) followed by a wait descriptor with a status
   * write, moves IQT, and checks the status arrived (as Linux's qi_submit_sync does).
   */
  submit(descs: readonly (readonly [bigint, bigint])[], opts: { wait?: boolean } = {}): void {
    const q = this.queue;
    if (q === undefined) throw new Error('queued invalidation is not enabled');
    const all = [...descs];
    const token = ++this.waits;
    if (opts.wait !== false) all.push(waitDescriptor({ status: q.status, data: token }));
    this.d.writel(q.status, 0);
    this.enqueue(all);
    if (opts.wait !== false && this.d.readl(q.status) !== token)
      throw new Error(`wait status not written (FSTS 0x${this.readl(R.FSTS).toString(16)})`);
  }

  /** Writes descriptors at the tail and moves IQT past them; checks nothing. */
  enqueue(descs: readonly (readonly [bigint, bigint])[]): void {
    const q = this.queue;
    if (q === undefined) throw new Error('queued invalidation is not enabled');
    for (const [lo, hi] of descs) {
      this.d.writeq(q.base + q.tail * 16, lo);
      this.d.writeq(q.base + q.tail * 16 + 8, hi);
      q.tail = (q.tail + 1) % q.entries;
    }
    this.writel(R.IQT, q.tail << 4);
  }

  /** The queue's base and current tail (for tests that inspect it). */
  get queueInfo(): { base: number; entries: number; tail: number; status: number } {
    if (this.queue === undefined) throw new Error('queued invalidation is not enabled');
    return { ...this.queue };
  }

  // ---- faults --------------------------------------------------------------------------

  /** Fault recording register `i`, decoded. */
  fault(i: number): { f: boolean; read: boolean; fr: number; sid: number; fi: number } {
    const lo = this.readq(R.FRCD + 16 * i);
    const hi = this.readq(R.FRCD + 16 * i + 8);
    return {
      f: hi >> 63n === 1n,
      read: ((hi >> 62n) & 1n) === 1n,
      fr: Number((hi >> 32n) & 0xffn),
      sid: Number(hi & 0xffffn),
      fi: Number(lo & ~0xfffn),
    };
  }

  /** Clears F of fault recording register `i` (write 1 to bit 127). */
  clearFault(i: number): void {
    this.writel(R.FRCD + 16 * i + 12, 0x80000000);
  }
}

/** An invalidation wait descriptor with a status write (and fence). */
export function waitDescriptor(o: {
  status?: number;
  data?: number;
  interrupt?: boolean;
  fence?: boolean;
}): [bigint, bigint] {
  const sw = o.status !== undefined ? 1n << 5n : 0n;
  const iflag = o.interrupt ? 1n << 4n : 0n;
  const fn = o.fence !== false ? 1n << 6n : 0n;
  return [5n | iflag | sw | fn | (BigInt(o.data ?? 0) << 32n), BigInt(o.status ?? 0)];
}
