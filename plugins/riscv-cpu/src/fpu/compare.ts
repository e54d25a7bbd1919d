/**
 * Comparisons and min/max, .s and .d.
 *
 * feq is a quiet comparison (NV only for a signalling NaN operand); flt and fle are signalling
 * (NV for any NaN operand); a NaN operand makes all three write 0. fmin/fmax follow the 2.2
 * spec (IEEE 754-2019 minimumNumber/maximumNumber): -0 is below +0, a single NaN operand (of
 * either kind) gives the other operand, two NaNs give the canonical NaN, and any signalling
 * NaN raises NV. The chosen operand is copied bit for bit.
 */
import { f32FromBits } from './bits.js';
import { isSignalingD, isSignalingS } from './classify.js';
import { NV } from './format.js';
import { type FpRegs, readS, writeNaND, writeS, writeX } from './regs.js';

const EQ = 0;
const LT = 1;
const LE = 2;

function compareS(r: FpRegs, rd: number, rs1: number, rs2: number, op: number): void {
  const a = readS(r, rs1);
  const b = readS(r, rs2);
  const x = f32FromBits(a);
  const y = f32FromBits(b);
  if (Number.isNaN(x) || Number.isNaN(y)) {
    if (op !== EQ || isSignalingS(a) || isSignalingS(b)) r.fflags |= NV;
    writeX(r, rd, 0, 0);
    return;
  }
  writeX(r, rd, (op === EQ ? x === y : op === LT ? x < y : x <= y) ? 1 : 0, 0);
}

function compareD(r: FpRegs, rd: number, rs1: number, rs2: number, op: number): void {
  const x = r.f[rs1]!;
  const y = r.f[rs2]!;
  if (Number.isNaN(x) || Number.isNaN(y)) {
    if (op !== EQ || isSignalingD(r, rs1) || isSignalingD(r, rs2)) r.fflags |= NV;
    writeX(r, rd, 0, 0);
    return;
  }
  writeX(r, rd, (op === EQ ? x === y : op === LT ? x < y : x <= y) ? 1 : 0, 0);
}

/** feq.s */
export function feq_s(r: FpRegs, rd: number, rs1: number, rs2: number): void {
  compareS(r, rd, rs1, rs2, EQ);
}
/** flt.s */
export function flt_s(r: FpRegs, rd: number, rs1: number, rs2: number): void {
  compareS(r, rd, rs1, rs2, LT);
}
/** fle.s */
export function fle_s(r: FpRegs, rd: number, rs1: number, rs2: number): void {
  compareS(r, rd, rs1, rs2, LE);
}
/** feq.d */
export function feq_d(r: FpRegs, rd: number, rs1: number, rs2: number): void {
  compareD(r, rd, rs1, rs2, EQ);
}
/** flt.d */
export function flt_d(r: FpRegs, rd: number, rs1: number, rs2: number): void {
  compareD(r, rd, rs1, rs2, LT);
}
/** fle.d */
export function fle_d(r: FpRegs, rd: number, rs1: number, rs2: number): void {
  compareD(r, rd, rs1, rs2, LE);
}

function minMaxS(r: FpRegs, rd: number, rs1: number, rs2: number, max: boolean): void {
  const a = readS(r, rs1);
  const b = readS(r, rs2);
  const x = f32FromBits(a);
  const y = f32FromBits(b);
  if (Number.isNaN(x) || Number.isNaN(y)) {
    if (isSignalingS(a) || isSignalingS(b)) r.fflags |= NV;
    writeS(r, rd, Number.isNaN(x) ? (Number.isNaN(y) ? 0x7fc00000 : b) : a);
    return;
  }
  // Equal values differ only for zeros: the sign bit decides (min takes -0, max +0).
  const pickA = x === y ? a < 0 !== max : x < y !== max;
  writeS(r, rd, pickA ? a : b);
}

function minMaxD(r: FpRegs, rd: number, rs1: number, rs2: number, max: boolean): void {
  const x = r.f[rs1]!;
  const y = r.f[rs2]!;
  const fw = r.fw;
  let from: number;
  if (Number.isNaN(x) || Number.isNaN(y)) {
    if (isSignalingD(r, rs1) || isSignalingD(r, rs2)) r.fflags |= NV;
    if (Number.isNaN(x) && Number.isNaN(y)) {
      writeNaND(r, rd);
      return;
    }
    from = Number.isNaN(x) ? rs2 : rs1;
  } else {
    const pickA = x === y ? fw[2 * rs1 + 1]! < 0 !== max : x < y !== max;
    from = pickA ? rs1 : rs2;
  }
  fw[2 * rd] = fw[2 * from]!;
  fw[2 * rd + 1] = fw[2 * from + 1]!;
}

/** fmin.s */
export function fmin_s(r: FpRegs, rd: number, rs1: number, rs2: number): void {
  minMaxS(r, rd, rs1, rs2, false);
}
/** fmax.s */
export function fmax_s(r: FpRegs, rd: number, rs1: number, rs2: number): void {
  minMaxS(r, rd, rs1, rs2, true);
}
/** fmin.d */
export function fmin_d(r: FpRegs, rd: number, rs1: number, rs2: number): void {
  minMaxD(r, rd, rs1, rs2, false);
}
/** fmax.d */
export function fmax_d(r: FpRegs, rd: number, rs1: number, rs2: number): void {
  minMaxD(r, rd, rs1, rs2, true);
}
