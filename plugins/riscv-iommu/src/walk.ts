/**
 * The page walks (specification 2.3 steps 17 onwards, which defer to the privileged
 * architecture): the first stage (Sv39/Sv48: 3 or 4 levels of 512 8-byte PTEs) and the second
 * stage (Sv39x4/Sv48x4: the same with a top table of 2048 entries, 16 KiB, two more address
 * bits), and the two together: with a second stage, every first-stage table read and the
 * first stage's result are guest-physical addresses the second stage translates.
 *
 * Leaves may sit at any level (4 KiB, 2 MiB, 1 GiB, 512 GiB) and Svnapot 64 KiB leaves (N set,
 * ppn[3:0] = 1000b) at level 0. A device request without a process_id is a user-mode
 * request, and second-stage accesses are user-mode too, so every leaf needs U. Without
 * hardware A/D updates (AMO_HWAD is not advertised) a leaf with A clear, or D clear for a
 * write, is a page fault; a writable leaf with D clear is handed to the kernel as read-only,
 * so a later write walks again and faults. A first-stage fault is a page fault (13/15), a
 * second-stage one a guest-page fault (21/23, the GPA in iotval2); a PTE that cannot be read
 * is an access fault (5/7).
 *
 * IOVAs are numbers below 2^53, so an IOVA is canonical for Sv39 (Sv48) exactly when it is
 * below 2^38 (2^47): bits 63:53 are zero, and the bits above the sign bit must equal it. A
 * guest-physical address must be below 2^41 (2^50) for Sv39x4 (Sv48x4).
 */
import { type GuestPhysAddr, type IommuEntry, type IommuPerm, iova } from '@emuhost/sdk';
import { FAULT } from './faults.js';
import { type DeviceContext, type RiscvIommu, readWord } from './riscv-iommu.js';

const word: [number, number] = [0, 0];

const NAPOT_64K = 2 ** 16;

/** Bytes one entry of level 0..3 maps (4 KiB, 2 MiB, 1 GiB, 512 GiB), and 2^(9 level). */
const LEVEL_BYTES = [2 ** 12, 2 ** 21, 2 ** 30, 2 ** 39] as const;
const LEVEL_PAGES = [1, 2 ** 9, 2 ** 18, 2 ** 27] as const;

/** PTE bits (low word). */
const V = 1;
const R = 2;
const W = 4;
const X = 8;
const U = 16;
const A = 64;
const D = 128;

/** A refused translation: the cause, and for a guest-page fault the GPA (iotval2). */
export interface WalkFault {
  readonly cause: number;
  readonly gpa?: number;
}

/** A translation, or why not. */
export type WalkResult = IommuEntry | WalkFault;

/** A leaf as one stage found it. */
interface Leaf {
  /** Output address of the page containing the input address. */
  base: number;
  pageSize: number;
  writable: boolean;
}

const leaf: Leaf = { base: 0, pageSize: 0, writable: false };

/**
 * One stage's walk of `addr` from `root` through `levels` levels (`wide`: a second-stage
 * table with a 2048-entry top). Fills `leaf` and returns 0, or returns a fault kind:
 * 1 (page fault: not valid, malformed, or not permitted) or 2 (access fault: a PTE that
 * could not be read). `tableGpa` translates a table address first (two-stage walks), and may
 * itself fail with a WalkFault.
 */
function stage(
  m: RiscvIommu,
  root: number,
  levels: number,
  wide: boolean,
  addr: number,
  isWrite: boolean,
  tableGpa?: (gpa: number) => number | WalkFault,
): 0 | 1 | 2 | WalkFault {
  let table = root;
  for (let level = levels - 1; level >= 0; level--) {
    const levelBytes = LEVEL_BYTES[level]!;
    const entries = wide && level === levels - 1 ? 2048 : 512;
    const index = Math.floor(addr / levelBytes) % entries;
    let at = table + index * 8;
    if (tableGpa !== undefined) {
      const t = tableGpa(at);
      if (typeof t !== 'number') return t;
      at = t;
    }
    if (!readWord(m, at, word)) return 2;
    const [lo, hi] = word;
    if ((lo & V) === 0 || (lo & (R | W)) === W) return 1;
    // Bits 60:54 are reserved, 62:61 are PBMT (Svpbmt is not advertised), 63 is N.
    const napot = (hi & 0x80000000) !== 0;
    if ((hi & 0x7fc00000) !== 0) return 1;
    const ppnPages = (hi & 0x3fffff) * 2 ** 22 + (lo >>> 10);
    if ((lo & (R | W | X)) === 0) {
      // A pointer to the next level: N must be clear, and it cannot be at level 0.
      if (napot || level === 0) return 1;
      table = ppnPages * 4096;
      continue;
    }
    if ((lo & U) === 0 || (lo & A) === 0) return 1;
    if (isWrite ? (lo & W) === 0 || (lo & D) === 0 : (lo & R) === 0) return 1;
    let pageSize: number = levelBytes;
    let base = ppnPages * 4096;
    if (napot) {
      // Svnapot: only 64 KiB (ppn[3:0] = 1000b) at level 0.
      if (level !== 0 || (ppnPages & 0xf) !== 8) return 1;
      pageSize = NAPOT_64K;
      base = (ppnPages - 8) * 4096;
    } else if (ppnPages % LEVEL_PAGES[level]! !== 0) return 1; // a misaligned superpage
    if (!Number.isSafeInteger(base + pageSize)) return 2;
    leaf.base = base;
    leaf.pageSize = pageSize;
    leaf.writable = (lo & W) !== 0 && (lo & D) !== 0;
    return 0;
  }
  return 1;
}

/** Levels of an iosatp/iohgatp mode: 8 (Sv39, Sv39x4) → 3, 9 (Sv48, Sv48x4) → 4. */
const levelsOf = (mode: number) => (mode === 8 ? 3 : 4);

/** Second stage: a GPA to a guest-physical-to-system translation, or a guest-page fault. */
function gstage(m: RiscvIommu, dc: DeviceContext, gpa: number, isWrite: boolean): Leaf | WalkFault {
  const levels = levelsOf(dc.gMode);
  if (gpa >= 2 ** (12 + 9 * levels + 2))
    return { cause: isWrite ? FAULT.WRITE_GUEST_PAGE : FAULT.READ_GUEST_PAGE, gpa };
  const r = stage(m, dc.gRoot, levels, true, gpa, isWrite);
  if (r === 0) return { ...leaf };
  if (r === 2) return { cause: isWrite ? FAULT.WRITE_ACCESS : FAULT.READ_ACCESS };
  return typeof r === 'number'
    ? { cause: isWrite ? FAULT.WRITE_GUEST_PAGE : FAULT.READ_GUEST_PAGE, gpa }
    : r;
}

/** Translates `addr` through `dc`'s stages (at least one is not Bare). */
export function walk(m: RiscvIommu, dc: DeviceContext, addr: number, isWrite: boolean): WalkResult {
  const pageFault = { cause: isWrite ? FAULT.WRITE_PAGE : FAULT.READ_PAGE };
  const accessFault = { cause: isWrite ? FAULT.WRITE_ACCESS : FAULT.READ_ACCESS };
  // Without a first stage the IOVA is the GPA: one page covering every address.
  let base = 0;
  let pageSize = 2 ** 53;
  let writable = true;
  if (dc.fscMode !== 0) {
    const levels = levelsOf(dc.fscMode);
    if (addr >= 2 ** (12 + 9 * levels - 1)) return pageFault;
    // With a second stage, each first-stage table is read at the system address of its GPA;
    // a fault there is a guest-page fault of this access.
    const tableGpa =
      dc.gMode === 0
        ? undefined
        : (gpa: number): number | WalkFault => {
            const g = gstage(m, dc, gpa, false);
            if ('cause' in g)
              return g.gpa === undefined
                ? g
                : { cause: isWrite ? FAULT.WRITE_GUEST_PAGE : FAULT.READ_GUEST_PAGE, gpa };
            return g.base + (gpa % g.pageSize);
          };
    const r = stage(m, dc.root, levels, false, addr, isWrite, tableGpa);
    if (r === 1) return pageFault;
    if (r === 2) return accessFault;
    if (r !== 0) return r;
    pageSize = leaf.pageSize;
    base = leaf.base;
    writable = leaf.writable;
  }
  if (dc.gMode !== 0) {
    // The first stage's output (or the IOVA itself) is a GPA.
    const gpa = base + (addr % pageSize);
    const g = gstage(m, dc, gpa, isWrite);
    if ('cause' in g) return g;
    // The entry is the smaller of the two pages, around `addr`.
    const size = Math.min(pageSize, g.pageSize);
    base = g.base + (Math.floor(gpa / size) * size - Math.floor(gpa / g.pageSize) * g.pageSize);
    pageSize = size;
    writable &&= g.writable;
  }
  const perm: IommuPerm = writable ? 'read-write' : 'read';
  return {
    kind: 'entry',
    iova: iova(Math.floor(addr / pageSize) * pageSize),
    translated: base as GuestPhysAddr,
    pageSize,
    perm,
  };
}
