/**
 * A flat view: the region tree of an address space rendered into sorted, non-overlapping
 * ranges, each naming the terminal region (RAM, ROM or MMIO) that answers there. Lookup is a
 * binary search, so dispatch cost grows with log(ranges), not with the number of regions.
 */
import type { MmioOps } from '@emuhost/sdk';
import type { DeviceGuard } from '../guard.js';
import type { PageWatch } from './page-watch.js';
import type { MemoryRegion, ResolvedRules } from './region.js';

export const RANGE_RAM = 0;
export const RANGE_ROM = 1;
export const RANGE_MMIO = 2;

/**
 * One range of a flat view. The fields are copied out of the region so that the per-access
 * path reads one monomorphic object.
 */
export class FlatRange {
  readonly kind: typeof RANGE_RAM | typeof RANGE_ROM | typeof RANGE_MMIO;
  /** RAM/ROM backing, already offset so that `bytes[0]` is the byte at `start`. */
  readonly bytes: Uint8Array | null;
  /** A DataView over `bytes`, for typed loads and stores. */
  readonly view: DataView | null;
  readonly ops: MmioOps | null;
  readonly rules: ResolvedRules | null;
  readonly guard: DeviceGuard | null;
  readonly reentrant: boolean;
  /** `bytes.buffer` and `bytes.byteOffset`: a view over them is cheaper to make than a subarray. */
  readonly buffer: ArrayBufferLike | null;
  readonly byteOffset: number;
  /**
   * Access sizes (as a bit set of 1, 2, 4, 8) that an aligned MMIO access may make with no
   * rule checks and no splitting: valid and implemented as is, with no `accepts` callback.
   */
  readonly fastSizes: number;
  /** The region is unassigned memory (see `MemoryRegion.unassigned`). */
  readonly unassigned: boolean;
  /**
   * The region's page watch (RAM and ROM): writers call `watch.written(regionOffset + ...)`
   * when `watch.count` is not zero.
   */
  readonly watch: PageWatch | null;

  constructor(
    /** First address covered, in the address space. */
    readonly start: number,
    /** One past the last address covered. */
    readonly end: number,
    readonly region: MemoryRegion,
    /** Offset inside `region` that `start` corresponds to. */
    readonly regionOffset: number,
  ) {
    this.kind = region.kind === 'ram' ? RANGE_RAM : region.kind === 'rom' ? RANGE_ROM : RANGE_MMIO;
    const b = region.bytes;
    this.bytes = b === null ? null : b.subarray(regionOffset, regionOffset + (end - start));
    this.view =
      this.bytes === null
        ? null
        : new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    this.buffer = this.bytes === null ? null : this.bytes.buffer;
    this.byteOffset = this.bytes === null ? 0 : this.bytes.byteOffset;
    this.ops = region.ops;
    this.rules = region.rules;
    this.guard = region.guard;
    this.reentrant = region.reentrant;
    this.unassigned = region.unassigned;
    this.watch = region.watch;
    this.fastSizes = region.rules === null ? 0 : fastSizes(region.rules);
  }
}

function fastSizes(r: ResolvedRules): number {
  if (r.accepts !== undefined) return 0;
  let bits = 0;
  for (const size of [1, 2, 4, 8]) {
    const valid = r.validMax === 0 || (size >= r.validMin && size <= r.validMax);
    if (valid && size >= r.implMin && size <= r.implMax) bits |= size;
  }
  return bits;
}

export class FlatView {
  /** `starts[i] === ranges[i].start`, in a typed array for a cache-friendly search. */
  private readonly starts: Float64Array;

  constructor(readonly ranges: readonly FlatRange[]) {
    this.starts = Float64Array.from(ranges, (r) => r.start);
  }

  /** The range containing `addr`, or null. `addr` must be a number; NaN finds nothing. */
  find(addr: number): FlatRange | null {
    const i = this.indexAtOrBefore(addr);
    if (i < 0) return null;
    const r = this.ranges[i]!;
    return addr < r.end ? r : null;
  }

  /** The start of the first range after `addr`, or Infinity: how far a hole at `addr` runs. */
  nextStart(addr: number): number {
    const i = this.indexAtOrBefore(addr) + 1;
    return i < this.ranges.length ? this.ranges[i]!.start : Number.POSITIVE_INFINITY;
  }

  /** Index of the last range whose start is <= addr, or -1. */
  private indexAtOrBefore(addr: number): number {
    const s = this.starts;
    let lo = 0;
    let hi = s.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (s[mid]! <= addr) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }
}
