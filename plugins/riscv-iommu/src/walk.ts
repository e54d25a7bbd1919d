/**
 * The first-stage page walk (specification 2.3 step 17 onwards, which defers to the
 * privileged architecture's Sv39/Sv48 algorithm): 3 or 4 levels of 512 8-byte PTEs from
 * iosatp's root, leaves at any level (4 KiB, 2 MiB, 1 GiB, 512 GiB), and Svnapot 64 KiB
 * leaves (N set, ppn[3:0] = 1000b) at level 0. A device request without a process_id is a
 * user-mode request, so a leaf needs U. Without hardware A/D updates (AMO_HWAD is not
 * advertised) a leaf with A clear, or D clear for a write, is a page fault; a writable leaf
 * with D clear is handed to the kernel as read-only, so a later write walks again and faults.
 *
 * IOVAs are numbers below 2^53, so an IOVA is canonical for Sv39 (Sv48) exactly when it is
 * below 2^38 (2^47): bits 63:53 are zero, and the bits above the sign bit must equal it.
 */
import { type GuestPhysAddr, type IommuEntry, type IommuPerm, iova } from '@emuhost/sdk';
import { FAULT } from './faults.js';
import { type DeviceContext, type RiscvIommu, readWord } from './riscv-iommu.js';

const word: [number, number] = [0, 0];

const NAPOT_64K = 2 ** 16;

/** PTE bits (low word). */
const V = 1;
const R = 2;
const W = 4;
const X = 8;
const U = 16;
const A = 64;
const D = 128;

/** A translation, or the fault cause that refused it. */
export type WalkResult = IommuEntry | number;

export function walk(m: RiscvIommu, dc: DeviceContext, addr: number, isWrite: boolean): WalkResult {
  const pageFault = isWrite ? FAULT.WRITE_PAGE : FAULT.READ_PAGE;
  const accessFault = isWrite ? FAULT.WRITE_ACCESS : FAULT.READ_ACCESS;
  const levels = dc.fscMode === 8 ? 3 : 4;
  if (addr >= 2 ** (12 + 9 * levels - 1)) return pageFault;
  let table = dc.root;
  for (let level = levels - 1; level >= 0; level--) {
    const shift = 12 + 9 * level;
    const index = Math.floor(addr / 2 ** shift) % 512;
    if (!readWord(m, table + index * 8, word)) return accessFault;
    const [lo, hi] = word;
    if ((lo & V) === 0 || (lo & (R | W)) === W) return pageFault;
    // Bits 60:54 are reserved, 62:61 are PBMT (Svpbmt is not advertised), 63 is N.
    const napot = (hi & 0x80000000) !== 0;
    if ((hi & 0x7fc00000) !== 0) return pageFault;
    const ppnPages = (hi & 0x3fffff) * 2 ** 22 + (lo >>> 10);
    if ((lo & (R | W | X)) === 0) {
      // A pointer to the next level: N, and A/D/U (reserved there), must be clear.
      if (napot || level === 0) return pageFault;
      table = ppnPages * 4096;
      continue;
    }
    if ((lo & U) === 0 || (lo & A) === 0) return pageFault;
    if (isWrite ? (lo & W) === 0 || (lo & D) === 0 : (lo & R) === 0) return pageFault;
    let pageSize = 2 ** shift;
    let base = ppnPages * 4096;
    if (napot) {
      // Svnapot: only 64 KiB (ppn[3:0] = 1000b) at level 0.
      if (level !== 0 || (ppnPages & 0xf) !== 8) return pageFault;
      pageSize = NAPOT_64K;
      base = (ppnPages - 8) * 4096;
    } else if (ppnPages % 2 ** (9 * level) !== 0) return pageFault; // a misaligned superpage
    if (!Number.isSafeInteger(base + pageSize)) return accessFault;
    const writable = (lo & W) !== 0 && (lo & D) !== 0;
    const perm: IommuPerm = (lo & R) !== 0 ? (writable ? 'read-write' : 'read') : 'write';
    const start = Math.floor(addr / pageSize) * pageSize;
    return {
      kind: 'entry',
      iova: iova(start),
      translated: base as GuestPhysAddr,
      pageSize,
      perm,
    };
  }
  return pageFault;
}
