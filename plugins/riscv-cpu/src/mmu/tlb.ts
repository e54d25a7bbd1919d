/**
 * A software TLB: direct-mapped, 256 entries, for one kind of access (read, write or fetch)
 * in one translation regime (U, S or M). As in TinyEMU, only RAM is entered; MMIO, PMP-split
 * pages and watched pages always take the slow path.
 *
 * Virtual addresses arrive as two int32 halves (the register representation), so a hit is
 * two integer compares: `tagLo[e] === (lo & -4096) && tagHi[e] === hi`, with
 * `e = (lo >>> 12) & 255`. An entry gives the page's DataView and the byte offset of the page
 * in it. An invalid entry's low tag is 1, which no page-aligned address equals.
 */
export const TLB_BITS = 8;
export const TLB_SIZE = 1 << TLB_BITS;
export const TLB_MASK = TLB_SIZE - 1;
const INVALID = 1;

export class Tlb {
  readonly tagLo = new Int32Array(TLB_SIZE).fill(INVALID);
  readonly tagHi = new Int32Array(TLB_SIZE);
  /** Byte offset of the page in `view[e]`. */
  readonly off = new Int32Array(TLB_SIZE);
  readonly view: DataView[];
  /** The guest-physical page each entry maps (for evicting by physical page). */
  readonly phys = new Float64Array(TLB_SIZE).fill(-1);
  /** Whether an entry came from a superpage (sfence.vma by address must then flush all). */
  superpages = false;

  constructor(empty: DataView) {
    this.view = new Array<DataView>(TLB_SIZE).fill(empty);
  }

  set(lo: number, hi: number, view: DataView, off: number, phys: number, superpage: boolean): void {
    const e = (lo >>> 12) & TLB_MASK;
    this.tagLo[e] = lo & -4096;
    this.tagHi[e] = hi;
    this.view[e] = view;
    this.off[e] = off;
    this.phys[e] = phys;
    if (superpage) this.superpages = true;
  }

  flush(): void {
    this.tagLo.fill(INVALID);
    this.phys.fill(-1);
    this.superpages = false;
  }

  /** Drops the entry for the virtual page containing (lo, hi). */
  flushPage(lo: number, hi: number): void {
    const e = (lo >>> 12) & TLB_MASK;
    if (this.tagLo[e] === (lo & -4096) && this.tagHi[e] === hi) {
      this.tagLo[e] = INVALID;
      this.phys[e] = -1;
    }
  }

  /** Drops every entry mapping the guest-physical page `phys`. */
  flushPhys(phys: number): void {
    const p = this.phys;
    for (let e = 0; e < TLB_SIZE; e++)
      if (p[e] === phys) {
        this.tagLo[e] = INVALID;
        p[e] = -1;
      }
  }
}
