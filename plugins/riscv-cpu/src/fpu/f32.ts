/**
 * The F extension's arithmetic: fadd.s, fsub.s, fmul.s, fdiv.s, fsqrt.s.
 *
 * binary32 operands held in doubles. Each fast path computes in binary64 and rounds once more
 * with Math.fround; that double rounding is innocuous for +, -, ×, / and sqrt since
 * 53 >= 2×24 + 2, so the result is binary32's round-to-nearest-even. The exact error of the
 * binary64 step (or an exact remainder) then gives the sign of V - r, and `fromNearestF32` the
 * other modes. Results that are tiny or near overflow, and non-finite operands, go to the
 * exact path.
 */
import * as exact from './exact.js';
import { F32, NX, RDN, RNE, TWO_127, TWO_M126 } from './format.js';
import { type FpRegs, readS, valueS, writeS, writeValueS } from './regs.js';
import { fromNearestF32, fromNearestNoTieF32 } from './round.js';

/** Writes the exact path's result (a BigInt bit pattern) boxed. */
function writeExact(r: FpRegs, rd: number, bits: bigint): void {
  writeS(r, rd, Number(bits) | 0);
}

/**
 * The sum into f[rd] by the fast path, or false. The binary64 sum s has the exact error e (two-
 * sum); V - r = (s - r) + e with s - r exact. A binary32 midpoint has 25 bits, so if V is one
 * then s = V and e = 0. As for binary64, inexact sums are never tiny.
 */
function addFast(r: FpRegs, rd: number, a: number, b: number, rm: number): boolean {
  const s = a + b;
  let v = Math.fround(s);
  if (!(Math.abs(v) < TWO_127)) return false; // NaN, infinity, or near overflow
  const bv = s - a;
  const e = a - (s - bv) + (b - bv);
  const d = s - v;
  if (d !== 0 || e !== 0) {
    r.fflags |= NX;
    if (rm !== RNE) v = fromNearestF32(v, d, e, rm);
  } else if (v === 0 && rm === RDN && !(Object.is(a, 0) && Object.is(b, 0))) {
    v = -0;
  }
  writeValueS(r, rd, v);
  return true;
}

/** fadd.s */
export function fadd_s(r: FpRegs, rd: number, rs1: number, rs2: number, rm: number): void {
  if (addFast(r, rd, valueS(r, rs1), valueS(r, rs2), rm)) return;
  const bits = exact.add(BigInt(readS(r, rs1) >>> 0), BigInt(readS(r, rs2) >>> 0), F32, rm, r);
  writeExact(r, rd, bits);
}

/** fsub.s */
export function fsub_s(r: FpRegs, rd: number, rs1: number, rs2: number, rm: number): void {
  if (addFast(r, rd, valueS(r, rs1), -valueS(r, rs2), rm)) return;
  const b = readS(r, rs2) ^ 0x80000000;
  writeExact(r, rd, exact.add(BigInt(readS(r, rs1) >>> 0), BigInt(b >>> 0), F32, rm, r));
}

/** fmul.s. The binary64 product of two binary32 values is exact (48 bits, far from limits). */
export function fmul_s(r: FpRegs, rd: number, rs1: number, rs2: number, rm: number): void {
  const p = valueS(r, rs1) * valueS(r, rs2);
  let v = Math.fround(p);
  const d = p - v;
  if (d === 0) {
    writeValueS(r, rd, v); // exact, even when subnormal (no UF without NX)
    return;
  }
  const av = Math.abs(v);
  if (av > TWO_M126 && av < TWO_127) {
    r.fflags |= NX;
    if (rm !== RNE) v = fromNearestF32(v, d, 0, rm);
    writeValueS(r, rd, v);
    return;
  }
  writeExact(
    r,
    rd,
    exact.mul(BigInt(readS(r, rs1) >>> 0), BigInt(readS(r, rs2) >>> 0), F32, rm, r),
  );
}

/**
 * fdiv.s. v × b is exact in binary64, so the sign of a - v×b (exact or not, rounding keeps the
 * sign), times b's, says where a/b lies from v. A quotient is never a midpoint.
 */
export function fdiv_s(r: FpRegs, rd: number, rs1: number, rs2: number, rm: number): void {
  const x = valueS(r, rs1);
  const y = valueS(r, rs2);
  let v = Math.fround(x / y);
  const av = Math.abs(v);
  if (av > TWO_M126 && av < TWO_127 && Math.abs(y) < Infinity) {
    const rem = x - v * y;
    if (rem !== 0) {
      r.fflags |= NX;
      if (rm !== RNE) v = fromNearestNoTieF32(v, rem < 0 !== y < 0, rm);
    }
    writeValueS(r, rd, v);
    return;
  }
  if (v === 0 && x === 0) {
    writeValueS(r, rd, v); // zero over a nonzero divisor: exact
    return;
  }
  writeExact(
    r,
    rd,
    exact.div(BigInt(readS(r, rs1) >>> 0), BigInt(readS(r, rs2) >>> 0), F32, rm, r),
  );
}

/** fsqrt.s. v² is exact in binary64; a square root is never a midpoint. */
export function fsqrt_s(r: FpRegs, rd: number, rs1: number, rm: number): void {
  const x = valueS(r, rs1);
  if (x > 0 && x < Infinity) {
    let v = Math.fround(Math.sqrt(x));
    const rem = x - v * v;
    if (rem !== 0) {
      r.fflags |= NX;
      if (rm !== RNE) v = fromNearestNoTieF32(v, rem < 0, rm);
    }
    writeValueS(r, rd, v);
    return;
  }
  if (x === 0) {
    writeValueS(r, rd, x); // sqrt(±0) = ±0
    return;
  }
  writeExact(r, rd, exact.sqrt(BigInt(readS(r, rs1) >>> 0), F32, rm, r));
}
