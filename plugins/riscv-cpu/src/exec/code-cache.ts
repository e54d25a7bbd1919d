/**
 * The code cache: decoded blocks by guest-physical page, and the fetch TLBs that find a
 * virtual pc's page. A block is looked up as: fetch TLB (virtual page → `PageCode`), then the
 * page's slot for the pc's offset, then a check of the block's virtual pc and regime (the
 * same physical code may run at several virtual addresses).
 *
 * Coherence with memory: a page that holds blocks is watched (`CpuMemory.watch`); a write to
 * it by anything (DMA, another hart, a store of this hart through the slow path) drops its
 * blocks (`pageWritten`). So `fence.i` needs no flush here. One exception, as QEMU's code
 * bitmap makes: a store of this hart that touches none of the page's decoded bytes (data
 * that shares a page with code) keeps them (`storing`, `keeps`), and the page is watched again.
 */
import type { CpuMemory, GuestPhysAddr } from '@emuhost/sdk';
import type { Block } from './block.js';

const SLOTS = 2048;
const INVALID = 1;

/** The blocks of one guest-physical page. */
export class PageCode {
  /** Block by halfword offset in the page. */
  slots: (Block | undefined)[] = new Array<Block | undefined>(SLOTS).fill(undefined);
  /** How often a region was compiled for this page (bounded: see Tier2.compile). */
  compiles = 0;
  /** One bit per byte of the page that decoded blocks cover. */
  readonly code = new Int32Array(128);

  constructor(
    readonly phys: number,
    /** The page's bytes: `view` at `off`. */
    readonly view: DataView,
    readonly off: number,
  ) {}
}

/** Marks bytes [from, to) of `p` as decoded code. */
export function markCode(p: PageCode, from: number, to: number): void {
  for (let i = from; i < to && i < 4096; i++) p.code[i >>> 5]! |= 1 << (i & 31);
}

/** Whether any of bytes [from, to) of `p` is decoded code. */
function touchesCode(p: PageCode, from: number, to: number): boolean {
  for (let i = Math.max(0, from); i < to && i < 4096; i++)
    if (p.code[i >>> 5]! & (1 << (i & 31))) return true;
  return false;
}

/** A fetch TLB: virtual page → PageCode, per fetch regime (0 U, 1 S, 2 M). */
export class FetchTlb {
  readonly tagLo = new Int32Array(256).fill(INVALID);
  readonly tagHi = new Int32Array(256);
  readonly page: (PageCode | null)[] = new Array<PageCode | null>(256).fill(null);
  /** Entries translated through a superpage, and whether there are any. */
  readonly sp = new Uint8Array(256);
  superpages = false;

  flush(): void {
    this.tagLo.fill(INVALID);
    this.page.fill(null);
    this.sp.fill(0);
    this.superpages = false;
  }

  /** What may translate the page at (lo, hi): as `Tlb.flushPage` (mmu/tlb.ts). */
  flushPage(lo: number, hi: number): void {
    const d = (lo >>> 12) & 255;
    if (this.tagLo[d] === (lo & -4096) && this.tagHi[d] === hi) this.drop(d);
    if (!this.superpages) return;
    for (let e = 0; e < 256; e++)
      if (this.sp[e] === 1 && this.tagHi[e] === hi && ((this.tagLo[e]! ^ lo) & 0xc0000000) === 0)
        this.drop(e);
  }

  private drop(e: number): void {
    this.tagLo[e] = INVALID;
    this.page[e] = null;
    this.sp[e] = 0;
  }
}

export class CodeCache {
  readonly pages = new Map<number, PageCode>();
  readonly fetch: readonly FetchTlb[] = [new FetchTlb(), new FetchTlb(), new FetchTlb()];
  /** Regions compiled so far (tier 2), and blocks decoded (tier 1): for the bench and traces. */
  compiled = 0;
  decoded = 0;

  constructor(private readonly memory: CpuMemory) {}

  /** The page's code record, made (and the page watched) on first use. */
  page(phys: number, view: DataView, off: number): PageCode {
    let p = this.pages.get(phys);
    if (p === undefined) {
      p = new PageCode(phys, view, off);
      this.pages.set(phys, p);
      this.memory.watch(phys as GuestPhysAddr);
    }
    return p;
  }

  /** The hart's own store about to go through memory (guest-physical address, size). */
  private storeAt = -1;
  private storeSize = 0;

  /** This hart stores `size` bytes at `phys` through `CpuMemory.store` next. */
  storing(phys: number, size: number): void {
    this.storeAt = phys;
    this.storeSize = size;
  }

  stored(): void {
    this.storeAt = -1;
  }

  /**
   * A write reached the page: its blocks are stale, unless it is this hart's own store and
   * misses every decoded byte; then the blocks stay and the page is watched again.
   */
  invalidate(phys: number): void {
    const p = this.pages.get(phys);
    if (p === undefined) return;
    const at = this.storeAt;
    if (at >= phys && at < phys + 4096) {
      const off = at - phys;
      if (!touchesCode(p, off, off + this.storeSize)) {
        this.memory.watch(phys as GuestPhysAddr);
        return;
      }
    }
    this.pages.delete(phys);
    for (const t of this.fetch)
      for (let e = 0; e < 256; e++)
        if (t.page[e] === p) {
          t.tagLo[e] = INVALID;
          t.page[e] = null;
        }
  }

  /** Translation changed (satp, sfence.vma, PMP): fetch TLBs of translated regimes forget. */
  flushFetch(): void {
    for (const t of this.fetch) t.flush();
  }

  flushTranslatedFetch(): void {
    this.fetch[0]!.flush();
    this.fetch[1]!.flush();
  }

  /** sfence.vma with an address: the fetch entries that may translate it. */
  flushTranslatedFetchPage(lo: number, hi: number): void {
    this.fetch[0]!.flushPage(lo, hi);
    this.fetch[1]!.flushPage(lo, hi);
  }

  /** Everything (the memory map changed). */
  clear(): void {
    this.pages.clear();
    this.flushFetch();
  }
}
