/**
 * The watch hub: where CPUs' page watches meet the memory system. A CPU watches
 * guest-physical pages; the memory system watches pages of regions. The hub turns one into
 * the other, and a write to a watched region page back into the guest-physical pages every
 * CPU hears about. It also decides when the CPUs' direct windows are stale: only when the
 * RAM and ROM layout of the memory map changed, not whenever a BAR moves.
 */
import type { GuestPhysAddr } from '@emuhost/sdk';
import type { AddressSpace } from '../memory/address-space.js';
import { RANGE_MMIO } from '../memory/flat-view.js';
import { type PageWatchSink, WATCH_PAGE_SIZE } from '../memory/page-watch.js';
import type { MemoryRegion } from '../memory/region.js';

/** What the hub needs of a CPU. */
export interface WatchingCpu {
  pageWritten(addr: GuestPhysAddr): void;
  pageWatched(addr: GuestPhysAddr): void;
  memoryChanged(): void;
}

export class WatchHub implements PageWatchSink {
  private readonly cpus = new Set<WatchingCpu>();
  /** Per watched region page, the guest-physical pages it was watched through. */
  private readonly through = new Map<MemoryRegion, Map<number, number[]>>();
  private readonly ids = new WeakMap<MemoryRegion, number>();
  private nextId = 0;
  private layout: string;

  constructor(private readonly memory: AddressSpace<GuestPhysAddr>) {
    this.layout = this.ramLayout();
  }

  add(cpu: WatchingCpu): void {
    this.cpus.add(cpu);
  }

  remove(cpu: WatchingCpu): void {
    this.cpus.delete(cpu);
  }

  /** Watches the page containing `addr` (RAM or ROM only). */
  watch(addr: number): void {
    const r = this.memory.findRange(addr as GuestPhysAddr, false);
    if (r === null || r.watch === null) return;
    const page = Math.floor((r.regionOffset + (addr - r.start)) / WATCH_PAGE_SIZE);
    const gpaPage = addr - (addr % WATCH_PAGE_SIZE);
    let pages = this.through.get(r.region);
    if (pages === undefined) {
      pages = new Map();
      this.through.set(r.region, pages);
    }
    r.watch.sink = this;
    const fresh = r.watch.watch(page);
    const gpas = fresh ? undefined : pages.get(page);
    if (gpas?.includes(gpaPage)) return;
    if (gpas === undefined) pages.set(page, [gpaPage]);
    else gpas.push(gpaPage);
    // Newly watched through this address: no CPU may keep writing it through a window.
    for (const c of this.cpus) c.pageWatched(gpaPage as GuestPhysAddr);
  }

  watched(addr: number): boolean {
    const r = this.memory.findRange(addr as GuestPhysAddr, true);
    if (r === null || r.watch === null || r.watch.count === 0) return false;
    return r.watch.isWatched(Math.floor((r.regionOffset + (addr - r.start)) / WATCH_PAGE_SIZE));
  }

  /** @internal From a region's page watch. */
  pageWritten(region: MemoryRegion, page: number): void {
    const pages = this.through.get(region);
    const gpas = pages?.get(page);
    if (gpas === undefined) return;
    pages!.delete(page);
    for (const g of gpas) for (const c of this.cpus) c.pageWritten(g as GuestPhysAddr);
  }

  /**
   * The memory map was re-rendered. When RAM or ROM moved, every watch is dropped (what the
   * CPUs derived from those addresses is stale) and every CPU is told; otherwise nothing
   * the CPUs hold changed.
   */
  topologyChanged(): void {
    const now = this.ramLayout();
    if (now === this.layout) return;
    this.layout = now;
    for (const region of this.through.keys()) region.watch?.clear();
    this.through.clear();
    for (const c of this.cpus) c.memoryChanged();
  }

  /** The RAM and ROM ranges of the memory map (both directions), as a comparable string. */
  private ramLayout(): string {
    const parts: string[] = [];
    for (const dir of ['read', 'write'] as const)
      for (const r of this.memory.flatView(dir).ranges) {
        if (r.kind === RANGE_MMIO) continue;
        let id = this.ids.get(r.region);
        if (id === undefined) {
          id = this.nextId++;
          this.ids.set(r.region, id);
        }
        parts.push(`${dir[0]}${r.start}-${r.end}:${id}@${r.regionOffset}/${r.kind}`);
      }
    return parts.join(',');
  }
}
