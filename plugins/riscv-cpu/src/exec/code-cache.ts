/**
 * The code cache: decoded blocks by guest-physical page, and the fetch TLBs that find a
 * virtual pc's page. A block is looked up as: fetch TLB (virtual page → `PageCode`), then the
 * page's slot for the pc's offset, then a check of the block's virtual pc and regime (the
 * same physical code may run at several virtual addresses).
 *
 * Coherence with memory: a page that holds blocks is watched (`CpuMemory.watch`); a write to
 * it by anything (DMA, another hart, a store of this hart through the slow path) drops its
 * blocks (`pageWritten`). So `fence.i` needs no flush here.
 */
import type { CpuMemory, GuestPhysAddr } from '@emuhost/sdk';
import type { Block } from './block.js';

const SLOTS = 2048;
const INVALID = 1;

/** The blocks of one guest-physical page. */
export class PageCode {
  /** Block by halfword offset in the page. */
  slots: (Block | undefined)[] = new Array<Block | undefined>(SLOTS).fill(undefined);
  /** How often a region was compiled for this page (bounded: see Hart.compile). */
  compiles = 0;

  constructor(
    readonly phys: number,
    /** The page's bytes: `view` at `off`. */
    readonly view: DataView,
    readonly off: number,
  ) {}
}

/** A fetch TLB: virtual page → PageCode, per fetch regime (0 U, 1 S, 2 M). */
export class FetchTlb {
  readonly tagLo = new Int32Array(256).fill(INVALID);
  readonly tagHi = new Int32Array(256);
  readonly page: (PageCode | null)[] = new Array<PageCode | null>(256).fill(null);

  flush(): void {
    this.tagLo.fill(INVALID);
    this.page.fill(null);
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

  /** A write reached the page: its blocks are stale. */
  invalidate(phys: number): void {
    const p = this.pages.get(phys);
    if (p === undefined) return;
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

  /** Everything (the memory map changed). */
  clear(): void {
    this.pages.clear();
    this.flushFetch();
  }
}
