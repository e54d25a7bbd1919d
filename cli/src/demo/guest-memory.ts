/**
 * How the demo's "guest OS" lays out its memory. Everything here is an input the guest chooses,
 * as an OS would; every result the demo prints is read back from the emulated machine.
 */
import type { Driver } from '@emuhost/testing/drivers';

/** The pool the guest takes its IOMMU tables from: 64 KiB of RAM at 1 MiB, 4 KiB pages. */
export const TABLE_POOL = { base: 0x0010_0000, size: 0x1_0000 } as const;

/** The DMA window the guest gives edu: IOVAs from 16 MiB, one 4 KiB page each... */
export const IOVA_BASE = 0x0100_0000;

/**
 * ...backed by guest-physical pages that are neither contiguous nor in order, so an address
 * that arrives at the right place can only have been translated. The identity addresses of
 * the IOVAs (16 MiB and up) are RAM too, and stay untouched.
 */
export const BACKING_PAGES: readonly number[] = [0x0030_5000, 0x0071_2000, 0x0052_3000];

/** An IOVA the guest never maps: edu's DMA there must fault. */
export const UNMAPPED_IOVA = 0x0200_0000;

export const PAGE = 4096;

/** A bump allocator of zeroed 4 KiB pages in guest RAM (the guest's page allocator). */
export class GuestPages {
  private next: number = TABLE_POOL.base;

  constructor(private readonly drv: Driver) {}

  alloc(): number {
    if (this.next + PAGE > TABLE_POOL.base + TABLE_POOL.size)
      throw new Error('the demo ran out of table pages');
    const at = this.next;
    this.next += PAGE;
    // RAM starts zeroed, but an OS never trusts that for a page table.
    this.drv.memwrite(at, new Uint8Array(PAGE));
    return at;
  }
}
