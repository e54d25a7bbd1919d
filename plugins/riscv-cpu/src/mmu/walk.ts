/**
 * The Sv39 page-table walk (privileged spec 4.3.2 and 4.4), one function, following the spec's
 * algorithm step by step. A and D are managed by software (no Svadu): a leaf with A clear, or
 * a store to a leaf with D clear, is a page fault. No Svnapot, no Svpbmt: their PTE bits must
 * be zero.
 *
 * Virtual addresses are int32 halves; physical addresses are doubles (exact below 2^53, where
 * all memory is). The walk reads PTEs through `readPte`, which applies PMP to them.
 */

/** Access kinds, also the index of the TLB that serves them. */
export const ACC_READ = 0;
export const ACC_WRITE = 1;
export const ACC_FETCH = 2;
export type Access = typeof ACC_READ | typeof ACC_WRITE | typeof ACC_FETCH;

const PTE_V = 1;
const PTE_R = 2;
const PTE_W = 4;
const PTE_X = 8;
const PTE_U = 16;
const PTE_A = 64;
const PTE_D = 128;

const LEVELS = 3;
const PAGE = 4096;

/** What a PTE read gives: the PTE's halves, or false when the read faulted (access fault). */
export type PteReader = (addr: number, out: Int32Array) => boolean;

/** The outcome of a walk. */
export const WALK_OK = 0;
export const WALK_PAGE_FAULT = 1;
export const WALK_ACCESS_FAULT = 2;

export interface WalkOut {
  /** Guest-physical address of the 4 KiB page holding the virtual address. */
  physPage: number;
  /** The leaf was a superpage (2 MiB or 1 GiB). */
  superpage: boolean;
  /** The leaf's permissions: R, W, X as PMP-style bits 1, 2, 4 after U/SUM/MXR rules. */
  perm: number;
}

/**
 * Walks the Sv39 tables rooted at guest-physical `root` for the virtual address (lo, hi).
 * `priv` is the effective privilege (0 U, 1 S). Returns WALK_OK and fills `out`, or the fault.
 */
export function walkSv39(
  root: number,
  lo: number,
  hi: number,
  access: Access,
  priv: number,
  sum: boolean,
  mxr: boolean,
  readPte: PteReader,
  pte: Int32Array,
  out: WalkOut,
): number {
  // Bits 63..39 must all equal bit 38.
  const top = hi >> 6;
  if (top !== 0 && top !== -1) return WALK_PAGE_FAULT;
  const vpn = [(lo >>> 12) & 0x1ff, (lo >>> 21) & 0x1ff, ((hi & 0x7f) << 2) | (lo >>> 30)];
  let table = root;
  for (let level = LEVELS - 1; level >= 0; level--) {
    if (!readPte(table + vpn[level]! * 8, pte)) return WALK_ACCESS_FAULT;
    const plo = pte[0]!;
    const phi = pte[1]!;
    // Bits 63..54 (N, PBMT, reserved) must be zero without Svnapot and Svpbmt.
    if (!(plo & PTE_V) || (plo & (PTE_R | PTE_W)) === PTE_W || phi >>> 22 !== 0)
      return WALK_PAGE_FAULT;
    const ppn = (phi & 0x3fffff) * 2 ** 22 + (plo >>> 10);
    if (!(plo & (PTE_R | PTE_X))) {
      // A pointer to the next level.
      if (level === 0) return WALK_PAGE_FAULT;
      table = ppn * PAGE;
      continue;
    }
    // A leaf. Superpages must be aligned: the low PPN fields are zero.
    if (level > 0 && ppn % 2 ** (9 * level) !== 0) return WALK_PAGE_FAULT;
    const user = (plo & PTE_U) !== 0;
    if (priv === 0 ? !user : user && (access === ACC_FETCH || !sum)) return WALK_PAGE_FAULT;
    let perm = 0;
    if (plo & PTE_R || (mxr && plo & PTE_X)) perm |= 1;
    if (plo & PTE_W) perm |= 2;
    if (plo & PTE_X) perm |= 4;
    const need = access === ACC_READ ? 1 : access === ACC_WRITE ? 2 : 4;
    if (!(perm & need)) return WALK_PAGE_FAULT;
    if (!(plo & PTE_A) || (access === ACC_WRITE && !(plo & PTE_D))) return WALK_PAGE_FAULT;
    // Only a dirty leaf lets later writes through the TLB: a clean one must fault on write.
    if (!(plo & PTE_D)) perm &= ~2;
    // The 4 KiB page: superpage base plus the virtual page's offset inside it.
    const within = level === 0 ? 0 : vpnOffset(vpn, level);
    out.physPage = (ppn + within) * PAGE;
    out.superpage = level > 0;
    out.perm = perm;
    return WALK_OK;
  }
  return WALK_PAGE_FAULT;
}

/** The 4 KiB page index inside a superpage of `level` (1: 2 MiB, 2: 1 GiB). */
function vpnOffset(vpn: number[], level: number): number {
  return level === 1 ? vpn[0]! : vpn[1]! * 512 + vpn[0]!;
}
