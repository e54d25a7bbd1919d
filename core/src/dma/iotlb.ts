/**
 * The IOTLB: one requester's cache of IOMMU translations, owned by the kernel so that every
 * IOMMU model gets the same caching (and the same staleness rules) for free.
 *
 * Entries of any power-of-two page size live in one Map keyed by (page index, log2 size), in
 * insertion order, so eviction drops the oldest entry when the cache is full. A lookup probes
 * each page size present (typically one to three).
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

export class Iotlb {
  private readonly map = new Map<number, IommuEntry>();
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
    const sizes = this.sizes;
    const bytes = this.sizeBytes;
    for (let i = 0; i < sizes.length; i++) {
      const e = this.map.get(Math.floor(iova / bytes[i]!) * 64 + sizes[i]!);
      if (e !== undefined) return e;
    }
    return undefined;
  }

  insert(e: IommuEntry): void {
    const s = e.pageSize <= 2 ** 31 ? 31 - Math.clz32(e.pageSize) : Math.log2(e.pageSize);
    const key = Math.floor(e.iova / e.pageSize) * 64 + s;
    if (this.map.has(key)) {
      this.map.delete(key); // re-insert at the young end
      this.map.set(key, e);
      return;
    }
    if (this.map.size >= this.capacity) {
      const oldest = this.map.keys().next().value as number;
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
