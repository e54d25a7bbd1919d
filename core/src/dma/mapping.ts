/**
 * A live DMA mapping (QEMU's dma_memory_map result) as the kernel tracks it: which IOVA range
 * it stands for, where that landed in guest-physical space, and how to end it.
 *
 * The mapping belongs to the kernel's DMA context, not to the plugin instance that asked for
 * it: across a hot reload it stays mapped while its holder changes. Between the old instance
 * and the new one it is an orphan (nobody to notify); `adopt` gives it a new holder.
 */
import type { DmaAccess, DmaMapping, DmaResult, GuestPhysAddr, Iova } from '@emuhost/sdk';

/** What a mapping needs from the context that made it. */
export interface MappingOwner {
  finishMapping(m: LiveMapping, written: number): DmaResult;
}

export type InvalidateNotifier = (m: DmaMapping) => void;

export class LiveMapping implements DmaMapping {
  valid = true;
  released = false;
  /** True between the holder going away (reload) and a new one adopting it. */
  orphan = false;

  constructor(
    private readonly owner: MappingOwner,
    readonly bytes: Uint8Array,
    readonly addr: Iova,
    readonly access: DmaAccess,
    readonly shortfall: number,
    readonly direct: boolean,
    /** Where `addr` landed in guest-physical space when mapped. */
    readonly translated: GuestPhysAddr,
    /** The holder's notifier, already wrapped in the holder's guard. */
    private notify: InvalidateNotifier | undefined,
  ) {}

  /** One past the last IOVA covered. */
  get end(): number {
    return this.addr + this.bytes.length;
  }

  release(written: number): DmaResult {
    if (this.released) return 'ok';
    this.released = true;
    this.orphan = false;
    return this.owner.finishMapping(this, written);
  }

  /** The holder went away: the mapping stays, but nobody is told about its invalidation. */
  disown(): void {
    this.orphan = true;
    this.notify = undefined;
  }

  /** A new holder takes the mapping over. */
  adopt(notify: InvalidateNotifier | undefined): void {
    this.orphan = false;
    this.notify = notify;
  }

  /** Marks the mapping stale and tells its holder (once). Its bytes must no longer be used. */
  invalidate(): void {
    if (!this.valid) return;
    this.valid = false;
    try {
      this.notify?.(this);
    } catch {
      // A holder's notifier that throws must not stop the invalidation of the others; the
      // mapping is invalid either way.
    }
  }
}
