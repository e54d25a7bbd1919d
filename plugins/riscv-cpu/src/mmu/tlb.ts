/**
 * A software TLB: direct-mapped, 256 entries, for one kind of access (read or write) in one
 * translation regime (U, S or M). As in TinyEMU, only RAM is entered; MMIO, PMP-split pages
 * and watched pages always take the slow path.
 *
 * The arrays live in the hart's scratch area (`scratch.ts`), shared by the interpreter and
 * the WebAssembly tier. Virtual addresses arrive as two int32 halves (the register
 * representation), so a hit in JavaScript is two integer compares:
 * `tag[2e] === (lo & -4096) && tag[2e+1] === hi` with `e = (lo >>> 12) & 255`, and the same
 * eight bytes are one i64 compare in WebAssembly. An entry gives the page's DataView and the
 * byte offset of the page in it; for a page in the WebAssembly memory that offset is its
 * linear-memory address. `wtag` is the tag the WebAssembly tier tests: the same as `tag` for
 * a page in its memory, invalid for one elsewhere (ROM, other RAM), which it must not touch.
 * An invalid entry's low tag is 1, which no page-aligned address equals.
 */
import { TLB_OFF, TLB_TAG, TLB_WTAG } from '../scratch.js';

export const TLB_BITS = 8;
export const TLB_SIZE = 1 << TLB_BITS;
export const TLB_MASK = TLB_SIZE - 1;
const INVALID = 1;

export class Tlb {
  /** Tags as (low, high) word pairs. */
  readonly tag: Int32Array;
  /** The WebAssembly tier's tags (see above). */
  readonly wtag: Int32Array;
  /** Byte offset of the page in `view[e]`. */
  readonly off: Int32Array;
  readonly view: DataView[];
  /** The guest-physical page each entry maps (for evicting by physical page). */
  readonly phys = new Float64Array(TLB_SIZE).fill(-1);
  /** Which entries came from a superpage, and whether any did. */
  private readonly sp = new Uint8Array(TLB_SIZE);
  superpages = false;

  constructor(
    empty: DataView,
    buffer: ArrayBuffer,
    base: number,
    /** The WebAssembly memory's buffer, if any. */
    private readonly wasmBuffer: ArrayBuffer | undefined,
  ) {
    this.tag = new Int32Array(buffer, base + TLB_TAG, 2 * TLB_SIZE);
    this.wtag = new Int32Array(buffer, base + TLB_WTAG, 2 * TLB_SIZE);
    this.off = new Int32Array(buffer, base + TLB_OFF, TLB_SIZE);
    this.view = new Array<DataView>(TLB_SIZE).fill(empty);
    this.flush();
  }

  set(lo: number, hi: number, view: DataView, off: number, phys: number, superpage: boolean): void {
    const e = (lo >>> 12) & TLB_MASK;
    this.tag[2 * e] = lo & -4096;
    this.tag[2 * e + 1] = hi;
    const inWasm = view.buffer === this.wasmBuffer;
    this.wtag[2 * e] = inWasm ? lo & -4096 : INVALID;
    this.wtag[2 * e + 1] = hi;
    this.view[e] = view;
    this.off[e] = off;
    this.phys[e] = phys;
    this.sp[e] = superpage ? 1 : 0;
    if (superpage) this.superpages = true;
  }

  flush(): void {
    for (let e = 0; e < TLB_SIZE; e++) {
      this.tag[2 * e] = INVALID;
      this.wtag[2 * e] = INVALID;
    }
    this.phys.fill(-1);
    this.sp.fill(0);
    this.superpages = false;
  }

  private drop(e: number): void {
    this.tag[2 * e] = INVALID;
    this.wtag[2 * e] = INVALID;
    this.phys[e] = -1;
    this.sp[e] = 0;
  }

  /**
   * Drops what may translate the virtual page containing (lo, hi): its entry, and every
   * superpage entry in the same 1 GiB (an entry does not record its superpage's size, and
   * Sv39's are 2 MiB or 1 GiB). Linux sfences single pages often while its linear map is in
   * superpages: flushing everything then would make most accesses walk.
   */
  flushPage(lo: number, hi: number): void {
    const e = (lo >>> 12) & TLB_MASK;
    if (this.tag[2 * e] === (lo & -4096) && this.tag[2 * e + 1] === hi) this.drop(e);
    if (!this.superpages) return;
    const t = this.tag;
    for (let i = 0; i < TLB_SIZE; i++)
      if (this.sp[i] === 1 && t[2 * i + 1] === hi && ((t[2 * i]! ^ lo) & 0xc0000000) === 0)
        this.drop(i);
  }

  /** Drops every entry mapping the guest-physical page `phys`. */
  flushPhys(phys: number): void {
    const p = this.phys;
    for (let e = 0; e < TLB_SIZE; e++) if (p[e] === phys) this.drop(e);
  }
}
