/**
 * fcvt: between binary32/binary64 and the integer formats w, wu, l, lu, and between the two
 * float formats.
 *
 * Float to integer: the value is rounded to an integral double by the instruction's mode,
 * then range-checked: out of range (or NaN) writes the saturated value of the spec's table
 * and raises NV alone; in range, NX when rounding changed the value. W and WU results are
 * sign-extended from bit 31 to the 64-bit register, as RV64 requires.
 *
 *                     w            wu            l             lu
 *   NaN, too large    2^31 - 1     2^32 - 1      2^63 - 1      2^64 - 1
 *   too small         -2^31        0             -2^63         0
 *
 * Integer to float: a 64-bit integer is hi × 2^32 + lo, two exact doubles whose JavaScript sum
 * is the round-to-nearest-even result and whose fast-two-sum error is exact; a binary32 result
 * rounds that sum to odd first (see `fma.ts`) so Math.fround rounds once.
 */
import { f32FromBits, f64LowWord, nextF64 } from './bits.js';
import * as exact from './exact.js';
import { F32, F64, NV, NX, RNE, TWO_127, TWO_M126 } from './format.js';
import {
  type FpRegs,
  readBitsD,
  readS,
  valueS,
  writeNaND,
  writeS,
  writeValueS,
  writeX,
} from './regs.js';
import { fromNearestF32, fromNearestF64, roundToIntegral } from './round.js';

const TWO_32 = 4294967296;
const TWO_63 = 2 ** 63;
const TWO_64 = 2 ** 64;

/** Writes the rounded `v` as a 32-bit integer (signed or not), saturating with NV. */
function toW(r: FpRegs, rd: number, v: number, rm: number, unsigned: boolean): void {
  const i = roundToIntegral(v, rm);
  const min = unsigned ? 0 : -2147483648;
  const max = unsigned ? 4294967295 : 2147483647;
  let lo: number;
  if (i >= min && i <= max) {
    if (i !== v) r.fflags |= NX;
    lo = i | 0;
  } else {
    r.fflags |= NV;
    lo = i < min ? min | 0 : max | 0; // NaN compares false: the maximum
  }
  writeX(r, rd, lo, lo >> 31);
}

/** Writes the rounded `v` as a 64-bit integer (signed or not), saturating with NV. */
function toL(r: FpRegs, rd: number, v: number, rm: number, unsigned: boolean): void {
  const i = roundToIntegral(v, rm);
  if (unsigned ? i >= 0 && i < TWO_64 : i >= -TWO_63 && i < TWO_63) {
    if (i !== v) r.fflags |= NX;
    const hi = Math.floor(i / TWO_32);
    writeX(r, rd, (i - hi * TWO_32) | 0, hi | 0);
    return;
  }
  r.fflags |= NV;
  if (i < 0) writeX(r, rd, 0, unsigned ? 0 : -2147483648);
  else writeX(r, rd, -1, unsigned ? -1 : 2147483647);
}

/** fcvt.w.s */
export function fcvt_w_s(r: FpRegs, rd: number, rs1: number, rm: number): void {
  toW(r, rd, valueS(r, rs1), rm, false);
}
/** fcvt.wu.s */
export function fcvt_wu_s(r: FpRegs, rd: number, rs1: number, rm: number): void {
  toW(r, rd, valueS(r, rs1), rm, true);
}
/** fcvt.l.s */
export function fcvt_l_s(r: FpRegs, rd: number, rs1: number, rm: number): void {
  toL(r, rd, valueS(r, rs1), rm, false);
}
/** fcvt.lu.s */
export function fcvt_lu_s(r: FpRegs, rd: number, rs1: number, rm: number): void {
  toL(r, rd, valueS(r, rs1), rm, true);
}
/** fcvt.w.d */
export function fcvt_w_d(r: FpRegs, rd: number, rs1: number, rm: number): void {
  toW(r, rd, r.f[rs1]!, rm, false);
}
/** fcvt.wu.d */
export function fcvt_wu_d(r: FpRegs, rd: number, rs1: number, rm: number): void {
  toW(r, rd, r.f[rs1]!, rm, true);
}
/** fcvt.l.d */
export function fcvt_l_d(r: FpRegs, rd: number, rs1: number, rm: number): void {
  toL(r, rd, r.f[rs1]!, rm, false);
}
/** fcvt.lu.d */
export function fcvt_lu_d(r: FpRegs, rd: number, rs1: number, rm: number): void {
  toL(r, rd, r.f[rs1]!, rm, true);
}

/**
 * The binary64 rounding of h + lo in mode rm, raising NX; into f[rd]. h is a multiple of 2^32
 * (0, or |h| >= 2^32), |lo| < 2^32 (and lo >= 0 when h is nonzero).
 */
function intToD(r: FpRegs, rd: number, h: number, lo: number, rm: number): void {
  let s = h + lo;
  const e = lo - (s - h); // fast two-sum: |h| >= |lo| whenever h is nonzero
  if (e !== 0) {
    r.fflags |= NX;
    if (rm !== RNE) s = fromNearestF64(s, e, 0, rm);
  }
  r.f[rd] = s;
}

/** The binary32 rounding of h + lo (as for `intToD`), boxed into f[rd]. */
function intToS(r: FpRegs, rd: number, h: number, lo: number, rm: number): void {
  const s = h + lo;
  const e = lo - (s - h);
  let v = Math.fround(e === 0 || (f64LowWord(s) & 1) !== 0 ? s : nextF64(s, e > 0));
  const d = s - v;
  if (d !== 0 || e !== 0) {
    r.fflags |= NX;
    if (rm !== RNE) v = fromNearestF32(v, d, e, rm);
  }
  writeValueS(r, rd, v);
}

/** fcvt.s.w */
export function fcvt_s_w(r: FpRegs, rd: number, rs1: number, rm: number): void {
  intToS(r, rd, 0, r.x[2 * rs1]!, rm);
}
/** fcvt.s.wu */
export function fcvt_s_wu(r: FpRegs, rd: number, rs1: number, rm: number): void {
  intToS(r, rd, 0, r.x[2 * rs1]! >>> 0, rm);
}
/** fcvt.s.l */
export function fcvt_s_l(r: FpRegs, rd: number, rs1: number, rm: number): void {
  intToS(r, rd, r.x[2 * rs1 + 1]! * TWO_32, r.x[2 * rs1]! >>> 0, rm);
}
/** fcvt.s.lu */
export function fcvt_s_lu(r: FpRegs, rd: number, rs1: number, rm: number): void {
  intToS(r, rd, (r.x[2 * rs1 + 1]! >>> 0) * TWO_32, r.x[2 * rs1]! >>> 0, rm);
}
/** fcvt.d.w (always exact) */
export function fcvt_d_w(r: FpRegs, rd: number, rs1: number, _rm: number): void {
  r.f[rd] = r.x[2 * rs1]!;
}
/** fcvt.d.wu (always exact) */
export function fcvt_d_wu(r: FpRegs, rd: number, rs1: number, _rm: number): void {
  r.f[rd] = r.x[2 * rs1]! >>> 0;
}
/** fcvt.d.l */
export function fcvt_d_l(r: FpRegs, rd: number, rs1: number, rm: number): void {
  intToD(r, rd, r.x[2 * rs1 + 1]! * TWO_32, r.x[2 * rs1]! >>> 0, rm);
}
/** fcvt.d.lu */
export function fcvt_d_lu(r: FpRegs, rd: number, rs1: number, rm: number): void {
  intToD(r, rd, (r.x[2 * rs1 + 1]! >>> 0) * TWO_32, r.x[2 * rs1]! >>> 0, rm);
}

/** fcvt.d.s (always exact; a NaN becomes the canonical NaN, NV if it was signalling) */
export function fcvt_d_s(r: FpRegs, rd: number, rs1: number, _rm: number): void {
  const bits = readS(r, rs1);
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0) {
    if ((bits & 0x400000) === 0) r.fflags |= NV;
    writeNaND(r, rd);
    return;
  }
  r.f[rd] = f32FromBits(bits);
}

/** fcvt.s.d. Math.fround is the nearest-even rounding; v - fround(v) is exact. */
export function fcvt_s_d(r: FpRegs, rd: number, rs1: number, rm: number): void {
  const v = r.f[rs1]!;
  let w = Math.fround(v);
  if (w === v) {
    writeValueS(r, rd, w); // exact (zeros, infinities, and exact subnormals included)
    return;
  }
  const aw = Math.abs(w);
  if (aw > TWO_M126 && aw < TWO_127) {
    r.fflags |= NX;
    if (rm !== RNE) w = fromNearestF32(w, v - w, 0, rm);
    writeValueS(r, rd, w);
    return;
  }
  writeS(r, rd, Number(exact.convert(readBitsD(r, rs1), F64, F32, rm, r)) | 0);
}
