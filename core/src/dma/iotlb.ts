/**
 * The IOTLB: one requester's cache of IOMMU translations, owned by the kernel so that every
 * IOMMU model gets the same caching (and the same staleness rules) for free.
 *
 * Entries of any power-of-two page size live in one Map keyed by (page index, log2 size), in
 * insertion order, so eviction drops the oldest entry when the cache is full. A lookup probes
 * each page size present (typically one to three).
 *
 * In front of the Map, a small direct-mapped array indexed by the 4 KiB page number holds the
 * entries found recently: a hit there is an array load and a range check instead of a hash
 * lookup per page size (the 4 KiB DMA figures are within a few ns of the raw copy, so this
 * is most of what is left). It only ever holds entries the Map holds: anything that removes
 * or replaces an entry clears it.
 */
import type { IommuEntry } from '@emuhost/sdk';

export interface IotlbStats {
  readonly entries: number;
  readonly capacity: number;
  readonly hits: number;
  readonly misses: number;
  readonly invalidations: number;
  readonly evictions: number;
}

/** Slots of the direct-mapped front (a power of two). */
const FRONT_SLOTS = 64;

export class Iotlb {
  private readonly map = new Map<number, IommuEntry>();
  private readonly front: (IommuEntry | undefined)[] = new Array(FRONT_SLOTS).fill(undefined);
  /** How many entries of each log2 page size are cached. */
  private readonly sizeCounts = new Map<number, number>();
  /** The log2 page sizes present, smallest first (the most specific match wins). */
  private sizes: number[] = [];
  /** `2 ** sizes[i]`, precomputed: a variable-exponent power costs tens of ns per probe. */
  private sizeBytes: number[] = [];
  hits = 0;
  misses = 0;
  invalidations = 0;
  evictions = 0;

  constructor(readonly capacity = 512) {}

  get size(): number {
    return this.map.size;
  }

  lookup(iova: number): IommuEntry | undefined {
    const slot = (iova / 4096) & (FRONT_SLOTS - 1);
    const f = this.front[slot];
    if (f !== undefined && iova >= f.iova && iova < f.iova + f.pageSize) return f;
    const sizes = this.sizes;
    const bytes = this.sizeBytes;
    for (let i = 0; i < sizes.length; i++) {
      const e = this.map.get(Math.floor(iova / bytes[i]!) * 64 + sizes[i]!);
      if (e !== undefined) {
        this.front[slot] = e;
        return e;
      }
    }
    return undefined;
  }

  insert(e: IommuEntry): void {
    const s = e.pageSize <= 2 ** 31 ? 31 - Math.clz32(e.pageSize) : Math.log2(e.pageSize);
    const key = Math.floor(e.iova / e.pageSize) * 64 + s;
    if (this.map.has(key)) {
      this.map.delete(key); // re-insert at the young end
      this.map.set(key, e);
      this.front.fill(undefined);
      return;
    }
    if (this.map.size >= this.capacity) {
      const oldest = this.map.keys().next().value as number;
      this.forget(this.map.get(oldest)!);
      this.map.delete(oldest);
      this.countSize(oldest % 64, -1);
      this.evictions++;
    }
    this.map.set(key, e);
    this.countSize(s, 1);
  }

  /** Drops entries overlapping [iova, iova + len); returns how many. */
  invalidate(iova: number, len: number): number {
    if (len <= 0) return 0;
    this.front.fill(undefined);
    const end = iova + len;
    let dropped = 0;
    for (const [key, e] of this.map) {
      if (e.iova < end && iova < e.iova + e.pageSize) {
        this.map.delete(key);
        this.countSize(key % 64, -1);
        dropped++;
      }
    }
    this.invalidations++;
    return dropped;
  }

  /** Drops everything; returns how many. */
  flush(): number {
    const n = this.map.size;
    this.map.clear();
    this.front.fill(undefined);
    this.sizeCounts.clear();
    this.sizes = [];
    this.sizeBytes = [];
    this.invalidations++;
    return n;
  }

  stats(): IotlbStats {
    return {
      entries: this.map.size,
      capacity: this.capacity,
      hits: this.hits,
      misses: this.misses,
      invalidations: this.invalidations,
      evictions: this.evictions,
    };
  }

  /** Takes an entry out of the front (a 4 KiB entry can sit in one slot only). */
  private forget(e: IommuEntry): void {
    if (e.pageSize !== 4096) {
      this.front.fill(undefined);
      return;
    }
    const slot = (e.iova / 4096) & (FRONT_SLOTS - 1);
    if (this.front[slot] === e) this.front[slot] = undefined;
  }

  private countSize(s: number, delta: number): void {
    const n = (this.sizeCounts.get(s) ?? 0) + delta;
    if (n === 0) this.sizeCounts.delete(s);
    else this.sizeCounts.set(s, n);
    if (n === 0 || (n === 1 && delta === 1)) {
      this.sizes = [...this.sizeCounts.keys()].sort((a, b) => a - b);
      this.sizeBytes = this.sizes.map((x) => 2 ** x);
    }
  }
}
