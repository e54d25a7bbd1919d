/**
 * A small VT-d driver, as a guest OS has one: it learns the unit's layout from CAP and ECAP,
 * builds a legacy-mode root table, context entries and 3-level second-level page tables in
 * guest RAM, and drives the unit through its registers (Intel VT-d specification, chapters
 * 3, 9 and 11). Only what the demo uses: register-based invalidation, 4 KiB pages.
 */
import type { Driver } from '@emuhost/testing/drivers';
import { type GuestPages, PAGE } from './guest-memory.js';

const VER = 0x00;
const CAP = 0x08;
const ECAP = 0x10;
const GCMD = 0x18;
const GSTS = 0x1c;
const RTADDR = 0x20;
const CCMD = 0x28;
export const FSTS = 0x34;

/** GCMD / GSTS bits. */
export const TE = 1 << 31;
export const SRTP = 1 << 30;
export const RTPS = 1 << 30;
/** GSTS bits a GCMD write must carry over (the spec's "one-shot" bits masked out). */
const PERSISTENT = 0x96ffffff;

export const FSTS_PPF = 1 << 1;

/** Fault reason codes (VT-d spec, appendix A) for the faults a legacy-mode walk reports. */
export const FAULT_REASONS: Readonly<Record<number, string>> = {
  1: 'root entry not present',
  2: 'context entry not present',
  3: 'invalid context entry',
  4: 'address beyond the guest address width',
  5: 'write denied: page not present or read-only',
  6: 'read denied: page not present or write-only',
  7: 'paging table unreadable',
  12: 'reserved bits set in a paging entry',
};

/** What CAP and ECAP say about the unit. */
export interface VtdLayout {
  readonly version: string;
  readonly cap: bigint;
  readonly ecap: bigint;
  /** SAGAW bit 1: 39-bit guest addresses with 3-level tables. */
  readonly threeLevel: boolean;
  /** Fault recording registers: where (CAP.FRO) and how many (CAP.NFR + 1). */
  readonly frcdOffset: number;
  readonly frcdCount: number;
  /** The IOTLB registers (ECAP.IRO): IVA at this offset, IOTLB_REG 8 bytes above. */
  readonly iotlbOffset: number;
}

/** One decoded fault recording register. */
export interface FaultRecord {
  readonly fault: boolean;
  readonly reason: number;
  /** Requester (source) id: bus << 8 | devfn. */
  readonly sid: number;
  /** The page address of the faulting request. */
  readonly pageAddr: number;
  readonly read: boolean;
}

export class VtdGuest {
  readonly layout: VtdLayout;
  root = 0;
  /** Every table page the guest built, for the summary. */
  readonly tables: { kind: string; at: number }[] = [];
  private readonly contextTables = new Map<number, number>();
  private readonly domains = new Map<number, number>();

  constructor(
    private readonly drv: Driver,
    readonly base: number,
    private readonly pages: GuestPages,
  ) {
    const ver = this.read32(VER);
    const cap = this.read64(CAP);
    const ecap = this.read64(ECAP);
    this.layout = {
      version: `${(ver >> 4) & 0xf}.${ver & 0xf}`,
      cap,
      ecap,
      threeLevel: ((cap >> 8n) & 0b10n) !== 0n,
      frcdOffset: Number((cap >> 24n) & 0x3ffn) * 16,
      frcdCount: Number((cap >> 40n) & 0xffn) + 1,
      iotlbOffset: Number((ecap >> 8n) & 0x3ffn) * 16,
    };
  }

  // ---- registers -------------------------------------------------------------------------

  read32(off: number): number {
    return this.drv.readl(this.base + off);
  }
  read64(off: number): bigint {
    return this.drv.readq(this.base + off);
  }
  private write32(off: number, v: number): void {
    this.drv.writel(this.base + off, v);
  }
  private write64(off: number, v: bigint): void {
    this.drv.writeq(this.base + off, v);
  }

  get gsts(): number {
    return this.read32(GSTS) >>> 0;
  }

  /** One GCMD command, keeping the persistent status bits; returns GSTS once `status` shows. */
  private command(bit: number, status: number): number {
    this.write32(GCMD, ((this.gsts & PERSISTENT) | bit) >>> 0);
    // Hardware may take time; the spec has software poll GSTS. This model completes at once.
    for (let i = 0; i < 1000; i++) if ((this.gsts & status) !== 0) break;
    return this.gsts;
  }

  /** RTADDR, then SRTP: the unit latches the root table. Returns GSTS. */
  setRootTable(): number {
    this.write64(RTADDR, BigInt(this.root));
    return this.command(SRTP, RTPS);
  }

  /** GCMD.TE: translation on. Returns GSTS. */
  enableTranslation(): number {
    return this.command(TE, TE);
  }

  /**
   * Global context-cache and IOTLB invalidation through CCMD and IOTLB_REG (what the guest
   * owes after changing entries). Returns the granularities the unit reports it performed
   * (CAIG, IAIG: 1 = global), or -1 when the busy bit never cleared.
   */
  invalidateAll(): { context: number; iotlb: number } {
    this.write64(CCMD, (1n << 63n) | (1n << 61n));
    const ccmd = this.read64(CCMD);
    const iotlbReg = this.layout.iotlbOffset + 8;
    this.write64(iotlbReg, (1n << 63n) | (1n << 60n));
    const iotlb = this.read64(iotlbReg);
    return {
      context: ccmd >> 63n === 0n ? Number((ccmd >> 59n) & 3n) : -1,
      iotlb: iotlb >> 63n === 0n ? Number((iotlb >> 57n) & 3n) : -1,
    };
  }

  // ---- tables ------------------------------------------------------------------------------

  private table(kind: string): number {
    const at = this.pages.alloc();
    this.tables.push({ kind, at });
    return at;
  }

  /** The root table: one 16-byte entry per bus. */
  createRootTable(): void {
    this.root = this.table('root table');
  }

  /**
   * A context entry for requester `rid` in domain `did`: present, second-level translation
   * (TT 0), AW 1 (39-bit, 3-level), pointing at the domain's top page table. The root entry of
   * its bus points at the bus's context table (one 16-byte entry per devfn).
   */
  attach(rid: number, did: number): void {
    const bus = rid >>> 8;
    let ctxTable = this.contextTables.get(bus);
    if (ctxTable === undefined) {
      ctxTable = this.table(`context table (bus ${bus})`);
      this.contextTables.set(bus, ctxTable);
      this.drv.writeq(this.root + bus * 16 + 8, 0n);
      this.drv.writeq(this.root + bus * 16, BigInt(ctxTable) | 1n);
    }
    let top = this.domains.get(did);
    if (top === undefined) {
      top = this.table(`level-3 table (domain ${did})`);
      this.domains.set(did, top);
    }
    const at = ctxTable + (rid & 0xff) * 16;
    this.drv.writeq(at + 8, (BigInt(did) << 8n) | 1n);
    this.drv.writeq(at, BigInt(top) | 1n);
  }

  /** Maps one 4 KiB page read-write in domain `did`, building the lower tables on the way. */
  map(did: number, iova: number, gpa: number): void {
    let table = this.domains.get(did);
    if (table === undefined) throw new Error(`domain ${did} has no page table`);
    for (let level = 3; level > 1; level--) {
      const at = table + (Math.floor(iova / 2 ** (12 + 9 * (level - 1))) % 512) * 8;
      const e = this.drv.readq(at);
      if ((e & 3n) === 0n) {
        const t = this.table(`level-${level - 1} table`);
        this.drv.writeq(at, BigInt(t) | 3n);
        table = t;
      } else table = Number(e & 0x000f_ffff_ffff_f000n);
    }
    this.drv.writeq(table + (Math.floor(iova / PAGE) % 512) * 8, BigInt(gpa) | 3n);
  }

  /**
   * Reads the tables back from guest memory for `rid` and `iova`, as a debugger would: the
   * context table its root entry names, the domain and top table its context entry names,
   * each lower table, and the leaf entry's page (undefined where an entry is not present).
   */
  readBack(rid: number, iova: number): { chain: number[]; did: number; page?: number } {
    const addr = (e: bigint) => Number(e & 0x000f_ffff_ffff_f000n);
    const chain = [this.root];
    const re = this.drv.readq(this.root + (rid >>> 8) * 16);
    if ((re & 1n) === 0n) return { chain, did: -1 };
    chain.push(addr(re));
    const at = addr(re) + (rid & 0xff) * 16;
    const lo = this.drv.readq(at);
    const did = Number((this.drv.readq(at + 8) >> 8n) & 0xffffn);
    if ((lo & 1n) === 0n) return { chain, did: -1 };
    let table = addr(lo);
    for (let level = 3; level >= 1; level--) {
      chain.push(table);
      const e = this.drv.readq(table + (Math.floor(iova / 2 ** (12 + 9 * (level - 1))) % 512) * 8);
      if ((e & 3n) === 0n) return { chain, did };
      table = addr(e);
    }
    return { chain, did, page: table };
  }

  // ---- faults ------------------------------------------------------------------------------

  fault(i: number): FaultRecord {
    const at = this.layout.frcdOffset + 16 * i;
    const lo = this.read64(at);
    const hi = this.read64(at + 8);
    return {
      fault: hi >> 63n === 1n,
      read: ((hi >> 62n) & 1n) === 1n,
      reason: Number((hi >> 32n) & 0xffn),
      sid: Number(hi & 0xffffn),
      pageAddr: Number(lo & ~0xfffn),
    };
  }

  /** Clears a fault record (F is write-1-to-clear, bit 127). */
  clearFault(i: number): void {
    this.write32(this.layout.frcdOffset + 16 * i + 12, 0x80000000);
  }
}
