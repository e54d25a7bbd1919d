/**
 * Recently made views of guest RAM, for bulk reads.
 *
 * Copying out of RAM with `into.set(source)` needs a source view, and making one costs about
 * as much as copying 1 KiB (a 4 KiB read spent a quarter of its time allocating it). Devices
 * read the same buffers again and again (descriptor rings, the same DMA pages), so views are
 * kept in a small direct-mapped table keyed by (buffer, byte offset, length). A view is a pure
 * function of that key, so a hit is always right, whatever changed in the memory map since.
 * A streaming read over fresh addresses gains nothing and pays one compare.
 */

/** Slots in the table (a power of two). */
const SLOTS = 16;

export class ViewCache {
  private readonly buffers: (ArrayBufferLike | undefined)[] = new Array(SLOTS).fill(undefined);
  private readonly offsets: number[] = new Array(SLOTS).fill(-1);
  private readonly views: Uint8Array[] = new Array(SLOTS).fill(new Uint8Array(0));

  /** A `Uint8Array` of `len` bytes at `offset` in `buffer`. */
  view(buffer: ArrayBufferLike, offset: number, len: number): Uint8Array {
    const slot = (offset / 4096) & (SLOTS - 1);
    const v = this.views[slot]!;
    if (this.buffers[slot] === buffer && this.offsets[slot] === offset && v.length === len)
      return v;
    const made = new Uint8Array(buffer, offset, len);
    this.buffers[slot] = buffer;
    this.offsets[slot] = offset;
    this.views[slot] = made;
    return made;
  }
}
