/**
 * `mstatus` (and its `sstatus` view) bit fields, for RV64. The hart keeps the low 32 bits in
 * one number; the high half holds only read-only fields here: UXL = SXL = 2 (64-bit), the
 * little-endian MBE/SBE = 0, and SD, computed from FS.
 */
export const MSTATUS = {
  SIE: 1 << 1,
  MIE: 1 << 3,
  SPIE: 1 << 5,
  UBE: 1 << 6,
  MPIE: 1 << 7,
  SPP: 1 << 8,
  VS: 3 << 9,
  MPP: 3 << 11,
  FS: 3 << 13,
  XS: 3 << 15,
  MPRV: 1 << 17,
  SUM: 1 << 18,
  MXR: 1 << 19,
  TVM: 1 << 20,
  TW: 1 << 21,
  TSR: 1 << 22,
} as const;

export const MPP_SHIFT = 11;
export const FS_SHIFT = 13;
/** FS = Dirty. */
export const FS_DIRTY = 3 << FS_SHIFT;

/** What M-mode may write in the low half (no V extension: VS stays 0; XS is read-only 0). */
export const MSTATUS_WMASK =
  MSTATUS.SIE |
  MSTATUS.MIE |
  MSTATUS.SPIE |
  MSTATUS.MPIE |
  MSTATUS.SPP |
  MSTATUS.MPP |
  MSTATUS.FS |
  MSTATUS.MPRV |
  MSTATUS.SUM |
  MSTATUS.MXR |
  MSTATUS.TVM |
  MSTATUS.TW |
  MSTATUS.TSR;

/** The fields `sstatus` shows (low half). */
export const SSTATUS_MASK =
  MSTATUS.SIE |
  MSTATUS.SPIE |
  MSTATUS.UBE |
  MSTATUS.SPP |
  MSTATUS.VS |
  MSTATUS.FS |
  MSTATUS.XS |
  MSTATUS.SUM |
  MSTATUS.MXR;

/** The fields `sstatus` writes. */
export const SSTATUS_WMASK =
  MSTATUS.SIE | MSTATUS.SPIE | MSTATUS.SPP | MSTATUS.FS | MSTATUS.SUM | MSTATUS.MXR;

/** The high half: UXL = SXL = 2 (bits 32..35), SD (bit 63) when FS is dirty. */
export function mstatusHigh(low: number, withSxl: boolean): number {
  const xl = withSxl ? 0xa : 0x2;
  return ((low & MSTATUS.FS) === FS_DIRTY ? 0x80000000 | xl : xl) | 0;
}
