/**
 * A guest driver for the RISC-V IOMMU plugin (plugins/riscv-iommu), programming it the way
 * Linux's drivers/iommu/riscv does: queues allocated and enabled, `ddtp` set to a 1-, 2- or
 * 3-level directory, device contexts written with V last and then IODIR.INVAL_DDT +
 * IOFENCE.C, Sv39/Sv48 page tables in guest RAM with A/U (and D for writable pages) set, and
 * IOTINVAL.VMA by PSCID and address after each unmap. It restates the layout from the
 * specification on purpose: it checks the model.
 */
import type { Driver } from './driver.js';

export const RISCV_IOMMU_BASE = 0x3010000;

export const RISCV_IOMMU_REGS = {
  CAPABILITIES: 0x00,
  FCTL: 0x08,
  DDTP: 0x10,
  CQB: 0x18,
  CQH: 0x20,
  CQT: 0x24,
  FQB: 0x28,
  FQH: 0x30,
  FQT: 0x34,
  CQCSR: 0x48,
  FQCSR: 0x4c,
  IPSR: 0x54,
  ICVEC: 0x2f8,
} as const;

const R = RISCV_IOMMU_REGS;

export type RiscvPerm = 'read' | 'read-write';

export interface RiscvIommuGuestOptions {
  readonly base?: number;
  /** Device directory levels. Default 3. */
  readonly ddtLevels?: 1 | 2 | 3;
  /** First-stage mode: 8 (Sv39) or 9 (Sv48). Default 8. */
  readonly fscMode?: 8 | 9;
  /** Command and fault queue entries, log2. Default 6 (64 entries). */
  readonly log2Entries?: number;
  /** Use the wired interrupts (fctl.WSI). Default true. */
  readonly wsi?: boolean;
}

/** One decoded fault record. */
export interface RiscvFaultRecord {
  readonly cause: number;
  readonly ttyp: number;
  readonly did: number;
  readonly iotval: bigint;
  readonly iotval2: bigint;
}

const DDI_BITS = [7, 9, 8] as const;
const PTE_V = 1n;
const PTE_R = 2n;
const PTE_W = 4n;
const PTE_U = 16n;
const PTE_A = 64n;
const PTE_D = 128n;

export class RiscvIommuGuest {
  readonly base: number;
  readonly ddtLevels: 1 | 2 | 3;
  readonly fscMode: 8 | 9;
  readonly entries: number;
  ddtRoot = 0;
  cq = 0;
  fq = 0;
  private cqTail = 0;
  private fqHead = 0;
  /** PSCID → first-stage root table. */
  private readonly roots = new Map<number, number>();
  /** GSCID → second-stage root table (16 KiB). */
  private readonly gRoots = new Map<number, number>();
  /** Device directory tables (non-leaf), by address of the pointing entry. */
  private readonly ddtTables = new Map<number, number>();

  constructor(
    readonly d: Driver,
    readonly alloc: (size: number, align?: number) => number,
    readonly opts: RiscvIommuGuestOptions = {},
  ) {
    this.base = opts.base ?? RISCV_IOMMU_BASE;
    this.ddtLevels = opts.ddtLevels ?? 3;
    this.fscMode = opts.fscMode ?? 8;
    this.entries = 2 ** (opts.log2Entries ?? 6);
  }

  readl(off: number): number {
    return this.d.readl(this.base + off);
  }
  writel(off: number, v: number): void {
    this.d.writel(this.base + off, v);
  }
  readq(off: number): bigint {
    return this.d.readq(this.base + off);
  }
  writeq(off: number, v: bigint): void {
    this.d.writeq(this.base + off, v);
  }

  private zeroed(size: number): number {
    const a = this.alloc(size, 4096);
    this.d.memwrite(a, new Uint8Array(size));
    return a;
  }

  /** Interrupts, queues on, directory root and mode; then the invalidations Linux sends. */
  init(): void {
    if (this.opts.wsi !== false) this.writel(R.FCTL, 2);
    this.writeq(R.ICVEC, 0x2310n);
    const log2 = BigInt(Math.log2(this.entries) - 1);
    this.cq = this.zeroed(this.entries * 16);
    this.fq = this.zeroed(this.entries * 32);
    this.writeq(R.CQB, (BigInt(this.cq) >> 2n) | log2);
    this.writeq(R.FQB, (BigInt(this.fq) >> 2n) | log2);
    this.writel(R.CQT, 0);
    this.writel(R.CQCSR, 0x103);
    this.writel(R.FQH, 0);
    this.writel(R.FQCSR, 0x103);
    this.ddtRoot = this.zeroed(4096);
    this.writeq(R.DDTP, (BigInt(this.ddtRoot) >> 2n) | BigInt(this.ddtLevels + 1));
    this.command(3n, 0n); // IODIR.INVAL_DDT, all
    this.command(1n, 0n); // IOTINVAL.VMA, all
    this.fence();
  }

  /** Queues one command and rings the tail doorbell. */
  command(dword0: bigint, dword1: bigint): void {
    const at = this.cq + this.cqTail * 16;
    const b = new Uint8Array(16);
    const v = new DataView(b.buffer);
    v.setBigUint64(0, dword0, true);
    v.setBigUint64(8, dword1, true);
    this.d.memwrite(at, b);
    this.cqTail = (this.cqTail + 1) % this.entries;
    this.writel(R.CQT, this.cqTail);
  }

  /** IOFENCE.C with PR and PW, then checks the queue consumed everything. */
  fence(): void {
    this.command(2n | (1n << 12n) | (1n << 13n), 0n);
    const head = this.readl(R.CQH);
    if (head !== this.cqTail)
      throw new Error(
        `command queue stuck at ${head} (tail ${this.cqTail}), cqcsr 0x${this.readl(R.CQCSR).toString(16)}`,
      );
  }

  /** The 32-byte device context slot of `did`, making directory levels on the way. */
  contextAddress(did: number): number {
    let table = this.ddtRoot;
    for (let level = this.ddtLevels - 1; level > 0; level--) {
      const shift = DDI_BITS.slice(0, level).reduce((a, b) => a + b, 0);
      const entry = table + (Math.floor(did / 2 ** shift) % 2 ** DDI_BITS[level]!) * 8;
      let next = this.ddtTables.get(entry);
      if (next === undefined) {
        next = this.zeroed(4096);
        this.ddtTables.set(entry, next);
        this.d.writeq(entry, (BigInt(next) >> 2n) | 1n);
      }
      table = next;
    }
    return table + (did % 128) * 32;
  }

  /**
   * Makes `did`'s context valid: paging with PSCID `pscid` (root table made on first use),
   * or `identity` (first stage Bare); with `gscid`, a second stage (Sv39x4, or Sv48x4 when the
   * first stage is Sv48) under it. Written with tc.V last, then invalidated.
   */
  attach(
    did: number,
    pscid: number,
    how: 'paging' | 'identity' = 'paging',
    dtf = false,
    gscid?: number,
  ): void {
    const at = this.contextAddress(did);
    this.d.writeq(at, 0n);
    this.command(3n | (1n << 33n) | (BigInt(did) << 40n), 0n);
    this.fence();
    let fsc = 0n;
    if (how === 'paging') {
      let root = this.roots.get(pscid);
      if (root === undefined) {
        root = this.zeroed(4096);
        this.roots.set(pscid, root);
      }
      fsc = (BigInt(this.fscMode) << 60n) | BigInt(root / 4096);
    }
    let iohgatp = 0n;
    if (gscid !== undefined) {
      let root = this.gRoots.get(gscid);
      if (root === undefined) {
        root = this.alloc(16384, 16384);
        this.d.memwrite(root, new Uint8Array(16384));
        this.gRoots.set(gscid, root);
      }
      iohgatp = (BigInt(this.fscMode) << 60n) | (BigInt(gscid) << 44n) | BigInt(root / 4096);
    }
    this.d.writeq(at + 8, iohgatp);
    this.d.writeq(at + 16, BigInt(pscid) << 12n);
    this.d.writeq(at + 24, fsc);
    this.d.writeq(at, 1n | (dtf ? 16n : 0n));
    this.command(3n | (1n << 33n) | (BigInt(did) << 40n), 0n);
    this.fence();
  }

  /** Makes `did`'s context invalid (Linux's blocking domain). */
  block(did: number): void {
    this.d.writeq(this.contextAddress(did), 0n);
    this.command(3n | (1n << 33n) | (BigInt(did) << 40n), 0n);
    this.fence();
  }

  /**
   * The PTE slot for `iova` at `level` (0: 4 KiB) in `pscid`'s tables (or, `second`, in
   * GSCID `pscid`'s second-stage tables, whose top table has 2048 entries), making tables.
   */
  private pteAddress(pscid: number, iova: number, leafLevel: number, second = false): number {
    let table = (second ? this.gRoots : this.roots).get(pscid);
    if (table === undefined) throw new Error(`id ${pscid} has no page table: attach first`);
    const levels = this.fscMode === 8 ? 3 : 4;
    for (let level = levels - 1; level > leafLevel; level--) {
      const top = second && level === levels - 1 ? 2048 : 512;
      const entry = table + (Math.floor(iova / 2 ** (12 + 9 * level)) % top) * 8;
      const pte = this.d.readq(entry);
      if ((pte & PTE_V) === 0n) {
        const next = this.zeroed(4096);
        this.d.writeq(entry, ((BigInt(next) >> 12n) << 10n) | PTE_V);
        table = next;
      } else table = Number((pte >> 10n) & ((1n << 44n) - 1n)) * 4096;
    }
    const top = second && leafLevel === levels - 1 ? 2048 : 512;
    return table + (Math.floor(iova / 2 ** (12 + 9 * leafLevel)) % top) * 8;
  }

  /** Maps one guest-physical page in GSCID `gscid`'s second stage (tables in system RAM). */
  gmap(gscid: number, gpa: number, spa: number, perm: RiscvPerm, pageSize = 4096): void {
    const level = Math.log2(pageSize / 4096) / 9;
    let bits = PTE_V | PTE_R | PTE_U | PTE_A;
    if (perm === 'read-write') bits |= PTE_W | PTE_D;
    this.d.writeq(this.pteAddress(gscid, gpa, level, true), ((BigInt(spa) >> 12n) << 10n) | bits);
  }

  /** Clears a second-stage leaf, then IOTINVAL.GVMA for that GSCID and GPA, and a fence. */
  gunmap(gscid: number, gpa: number, level = 0): void {
    this.d.writeq(this.pteAddress(gscid, gpa, level, true), 0n);
    this.command(
      1n | (1n << 7n) | (1n << 10n) | (1n << 33n) | (BigInt(gscid) << 44n),
      (BigInt(gpa) >> 12n) << 10n,
    );
    this.fence();
  }

  /** Maps one page of `pageSize` (4 KiB, 2 MiB, 1 GiB) as Linux's generic page table does. */
  map(pscid: number, iova: number, gpa: number, perm: RiscvPerm, pageSize = 4096): void {
    const level = Math.log2(pageSize / 4096) / 9;
    let bits = PTE_V | PTE_R | PTE_U | PTE_A;
    if (perm === 'read-write') bits |= PTE_W | PTE_D;
    this.d.writeq(this.pteAddress(pscid, iova, level), ((BigInt(gpa) >> 12n) << 10n) | bits);
  }

  /** Writes a raw PTE (for tests of malformed entries). */
  writePte(pscid: number, iova: number, pte: bigint, level = 0): void {
    this.d.writeq(this.pteAddress(pscid, iova, level), pte);
  }

  /** Clears the leaf, then IOTINVAL.VMA for that PSCID and page, and a fence. */
  unmap(pscid: number, iova: number, level = 0): void {
    this.d.writeq(this.pteAddress(pscid, iova, level), 0n);
    this.invalidate(pscid, iova);
  }

  /** IOTINVAL.VMA by PSCID, and by address when given; then IOFENCE.C. */
  invalidate(pscid?: number, iova?: number): void {
    let d0 = 1n;
    let d1 = 0n;
    if (pscid !== undefined) d0 |= (BigInt(pscid) << 12n) | (1n << 32n);
    if (iova !== undefined) {
      d0 |= 1n << 10n;
      d1 = (BigInt(iova) >> 12n) << 10n;
    }
    this.command(d0, d1);
    this.fence();
  }

  /** Fault records the IOMMU wrote since the last call, consumed (fqh moved past them). */
  faults(): RiscvFaultRecord[] {
    const out: RiscvFaultRecord[] = [];
    const tail = this.readl(R.FQT);
    while (this.fqHead !== tail) {
      const b = this.d.memread(this.fq + this.fqHead * 32, 32);
      const v = new DataView(b.buffer, b.byteOffset, 32);
      const hdr = v.getBigUint64(0, true);
      out.push({
        cause: Number(hdr & 0xfffn),
        ttyp: Number((hdr >> 34n) & 0x3fn),
        did: Number(hdr >> 40n),
        iotval: v.getBigUint64(16, true),
        iotval2: v.getBigUint64(24, true),
      });
      this.fqHead = (this.fqHead + 1) % this.entries;
    }
    this.writel(R.FQH, this.fqHead);
    return out;
  }
}
