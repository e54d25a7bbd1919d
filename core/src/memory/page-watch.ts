/**
 * A page watch: which 4 KiB pages of a RAM or ROM region a CPU keeps state derived from
 * (decoded instructions, an LR/SC reservation), so that a write it did not make through its
 * own direct window tells it. QEMU tracks the same thing with its dirty-memory bitmap for
 * code (`tb_invalidate_phys_range` on DMA, "notdirty" TLB entries for CPU stores).
 *
 * Every writer of a region's bytes other than a CPU's window (address-space writes, fills
 * and stores, so DMA, qtest, loaders and CPUs' slow-path stores; DMA mappings for writing)
 * calls `written`. With nothing watched that is one comparison; a watched page is unwatched
 * and reported once, and the CPU watches it again when it decodes from it again.
 */
import type { MemoryRegion } from './region.js';

export const WATCH_PAGE_SHIFT = 12;
export const WATCH_PAGE_SIZE = 1 << WATCH_PAGE_SHIFT;

/** Who is told about writes to watched pages (the machine's CPU side). */
export interface PageWatchSink {
  /** Page `page` (index within `region`) was written while watched; it is unwatched now. */
  pageWritten(region: MemoryRegion, page: number): void;
}

export class PageWatch {
  /** One byte per page: non-zero while watched. */
  private readonly bits: Uint8Array;
  /** How many pages are watched: writers test this first. */
  count = 0;
  sink: PageWatchSink | null = null;

  constructor(
    readonly region: MemoryRegion,
    size: number,
  ) {
    this.bits = new Uint8Array(Math.ceil(size / WATCH_PAGE_SIZE));
  }

  /** Watches page `page`; returns false when it already was. */
  watch(page: number): boolean {
    if (page < 0 || page >= this.bits.length || this.bits[page] !== 0) return false;
    this.bits[page] = 1;
    this.count++;
    return true;
  }

  isWatched(page: number): boolean {
    return this.bits[page] === 1;
  }

  /** `len` bytes at `offset` in the region were (or are about to be) written. */
  written(offset: number, len: number): void {
    if (this.count === 0 || len <= 0) return;
    // Regions may exceed 4 GiB: divide, never shift, offsets.
    const last = Math.min(this.bits.length - 1, Math.floor((offset + len - 1) / WATCH_PAGE_SIZE));
    for (let p = Math.floor(offset / WATCH_PAGE_SIZE); p <= last; p++) {
      if (this.bits[p] === 0) continue;
      this.bits[p] = 0;
      this.count--;
      this.sink?.pageWritten(this.region, p);
    }
  }

  /** Forgets every watch (without reporting): the CPUs that watched are gone. */
  clear(): void {
    this.bits.fill(0);
    this.count = 0;
  }
}
