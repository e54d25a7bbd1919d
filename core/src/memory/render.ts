/**
 * Rendering: turning a region tree into a flat view, as QEMU's render_memory_region does.
 *
 * Regions are drawn from the highest priority down, and each only fills the gaps that are
 * still empty, so a higher-priority region hides lower ones and a hole in it lets them show.
 * Aliases are drawn by rendering their target shifted by the alias offset, clipped to the
 * alias's window. Reads and writes are rendered separately only when some region decodes
 * just one direction; otherwise both share one view.
 */
import { FlatRange, FlatView } from './flat-view.js';
import type { MemoryRegion } from './region.js';

type Direction = 'read' | 'write';

/** Builds the flat view of `root` for one access direction. */
export function renderFlatView(root: MemoryRegion, dir: Direction): FlatView {
  const out = new GapFiller();
  renderRegion(root, 0, 0, root.size, dir, out);
  return new FlatView(mergeAdjacent(out.ranges));
}

/** Whether any enabled region under `root` decodes only one direction. */
export function hasDirectionalDecode(root: MemoryRegion): boolean {
  if (!root.enabled) return false;
  if (root.decodes !== 'read-write') return true;
  if (root.aliasTarget !== null && hasDirectionalDecode(root.aliasTarget)) return true;
  return root.subregions.some(hasDirectionalDecode);
}

function renderRegion(
  r: MemoryRegion,
  base: number,
  clipStart: number,
  clipEnd: number,
  dir: Direction,
  out: GapFiller,
): void {
  if (!r.enabled || (r.decodes !== 'read-write' && r.decodes !== dir)) return;
  const start = Math.max(base, clipStart);
  const end = Math.min(base + r.size, clipEnd);
  if (start >= end) return;
  if (r.aliasTarget !== null) {
    renderRegion(r.aliasTarget, base - r.aliasOffset, start, end, dir, out);
    return;
  }
  for (const sub of r.subregions) renderRegion(sub, base + sub.offset, start, end, dir, out);
  if (r.terminates) out.fill(start, end, r, base);
}

/** A sorted list of disjoint ranges into which new ranges are drawn only where it is empty. */
class GapFiller {
  readonly ranges: FlatRange[] = [];

  fill(start: number, end: number, region: MemoryRegion, regionBase: number): void {
    const rs = this.ranges;
    // First range that ends after `start`.
    let lo = 0;
    let hi = rs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (rs[mid]!.end <= start) lo = mid + 1;
      else hi = mid;
    }
    let i = lo;
    let cursor = start;
    const added: FlatRange[] = [];
    while (cursor < end) {
      const next = i < rs.length ? rs[i]! : null;
      if (next === null || next.start >= end) {
        added.push(new FlatRange(cursor, end, region, cursor - regionBase));
        break;
      }
      if (next.start > cursor) {
        added.push(new FlatRange(cursor, next.start, region, cursor - regionBase));
      }
      cursor = Math.max(cursor, next.end);
      i++;
    }
    if (added.length === 0) return;
    // Re-sort only the touched window: the new pieces interleave with ranges lo..i.
    const window = rs
      .slice(lo, i)
      .concat(added)
      .sort((a, b) => a.start - b.start);
    rs.splice(lo, i - lo, ...window);
  }
}

/** Joins neighbours that continue the same region (QEMU's flatview_simplify). */
function mergeAdjacent(ranges: FlatRange[]): FlatRange[] {
  const out: FlatRange[] = [];
  for (const r of ranges) {
    const prev = out[out.length - 1];
    if (
      prev !== undefined &&
      prev.region === r.region &&
      prev.end === r.start &&
      prev.regionOffset + (prev.end - prev.start) === r.regionOffset
    ) {
      out[out.length - 1] = new FlatRange(prev.start, r.end, r.region, prev.regionOffset);
    } else {
      out.push(r);
    }
  }
  return out;
}
