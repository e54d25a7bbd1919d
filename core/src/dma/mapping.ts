/**
 * A live DMA mapping (QEMU's dma_memory_map result) as the kernel tracks it: which IOVA range
 * it stands for, where that landed in guest-physical space, and how to end it.
 */
import type { DmaAccess, DmaMapping, DmaResult, GuestPhysAddr, Iova } from '@emuhost/sdk';

/** What a mapping needs from the context that made it. */
export interface MappingOwner {
  finishMapping(m: LiveMapping, written: number): DmaResult;
}

export class LiveMapping implements DmaMapping {
  valid = true;
  released = false;

  constructor(
    private readonly owner: MappingOwner,
    readonly bytes: Uint8Array,
    readonly addr: Iova,
    readonly access: DmaAccess,
    readonly shortfall: number,
    readonly direct: boolean,
    /** Where `addr` landed in guest-physical space when mapped. */
    readonly translated: GuestPhysAddr,
    private readonly onInvalidate: ((m: DmaMapping) => void) | undefined,
  ) {}

  /** One past the last IOVA covered. */
  get end(): number {
    return this.addr + this.bytes.length;
  }

  release(written: number): DmaResult {
    if (this.released) return 'ok';
    this.released = true;
    return this.owner.finishMapping(this, written);
  }

  /** Marks the mapping stale and tells its holder (once). Its bytes must no longer be used. */
  invalidate(): void {
    if (!this.valid) return;
    this.valid = false;
    try {
      this.onInvalidate?.(this);
    } catch {
      // A holder's notifier that throws must not stop the invalidation of the others; the
      // mapping is invalid either way.
    }
  }
}
