/**
 * Fused multiply-add, rounded once: fmadd (a×b + c), fmsub (a×b - c), fnmsub (-(a×b) + c) and
 * fnmadd (-(a×b) - c), .s and .d. The negations are of the operands, before the single
 * rounding, as the spec defines them (so directed modes round the negated value).
 *
 * binary64 fast path: Dekker's product gives a×b = ph + pl exactly; two-sums give
 * V = s + t + e2 with s = fl(ph + c), and v = fl(s + t) with its error d, so V = v + d + e2.
 * Where e2 is nonzero, |e2| is below a 2^-50 fraction of v's ulp (t is at most 1.5 ulps of s,
 * or is pl exactly when ph + c cancelled exactly), so v = RN(V) unless s + t was a midpoint,
 * which e2 then decides. Declined: non-finite operands, a product outside [2^-900, 2^1020),
 * a result outside (2^-900, 2^1022).
 *
 * binary32 fast path: a×b is exact in binary64 and s = fl(a×b + c) has the exact error e; when
 * e is nonzero, s is moved to its odd neighbour on e's side (round to odd: a binary64 rounded
 * to odd keeps enough to round to binary32 once, since 53 >= 24 + 2), then Math.fround.
 */
import { f64LowWord, nextF64 } from './bits.js';
import { twoProductLow } from './eft.js';
import * as exact from './exact.js';
import { F32, F64, NX, RDN, RNE, TWO_127, TWO_M126 } from './format.js';
import { type FpRegs, readBitsD, readS, valueS, writeBitsD, writeS, writeValueS } from './regs.js';
import { fromNearestF32, fromNearestF64 } from './round.js';

const SIGN64 = 1n << 63n;
const SIGN32 = 0x80000000;
const TWO_M900 = 2 ** -900;
const TWO_996 = 2 ** 996;
const TWO_1020 = 2 ** 1020;
const TWO_1022 = 2 ** 1022;

/** a×b + c into f[rd] by the binary64 fast path, or false. */
function fmaFastD(r: FpRegs, rd: number, a: number, b: number, c: number, rm: number): boolean {
  const ph = a * b;
  const aph = Math.abs(ph);
  if (
    aph > TWO_M900 &&
    aph < TWO_1020 &&
    Math.abs(a) < TWO_996 &&
    Math.abs(b) < TWO_996 &&
    Math.abs(c) < TWO_1020
  ) {
    const pl = twoProductLow(a, b, ph);
    const s = ph + c;
    let bv = s - ph;
    const e1 = ph - (s - bv) + (c - bv);
    const t = e1 + pl;
    bv = t - e1;
    const e2 = e1 - (t - bv) + (pl - bv);
    let v = s + t;
    bv = v - s;
    let d = s - (v - bv) + (t - bv);
    if (v === 0 && d === 0) {
      r.f[rd] = rm === RDN ? -0 : 0; // the product cancelled c exactly
      return true;
    }
    const av = Math.abs(v);
    if (!(av > TWO_M900 && av < TWO_1022)) return false;
    if (e2 !== 0 && d !== 0) {
      // v + 2d is representable exactly when s + t was a midpoint (|d| < half the gap
      // otherwise); then V lies past it, toward the other neighbour, if e2 points the same way.
      const m = d + d;
      if (v + m - v === m && e2 > 0 === d > 0) {
        v += m;
        d = -d;
      }
    }
    if (d !== 0 || e2 !== 0) {
      r.fflags |= NX;
      if (rm !== RNE) v = fromNearestF64(v, d, e2, rm);
    }
    r.f[rd] = v;
    return true;
  }
  if (ph === 0 && (a === 0 || b === 0) && Math.abs(c) < Infinity) {
    let v = ph + c; // zero product: exact; a zero sum follows addition's sign rule
    if (v === 0 && rm === RDN && !(Object.is(ph, 0) && Object.is(c, 0))) v = -0;
    r.f[rd] = v;
    return true;
  }
  return false;
}

/** a×b + c into f[rd] (boxed) by the binary32 fast path, or false. */
function fmaFastS(r: FpRegs, rd: number, a: number, b: number, c: number, rm: number): boolean {
  const p = a * b;
  const s = p + c;
  if (!(Math.abs(s) < Infinity)) return false;
  const bv = s - p;
  const e = p - (s - bv) + (c - bv);
  let v = Math.fround(e === 0 || (f64LowWord(s) & 1) !== 0 ? s : nextF64(s, e > 0));
  const d = s - v;
  if (d === 0 && e === 0) {
    if (v === 0 && rm === RDN && !(Object.is(p, 0) && Object.is(c, 0))) v = -0;
    writeValueS(r, rd, v);
    return true;
  }
  const av = Math.abs(v);
  if (!(av > TWO_M126 && av < TWO_127)) return false;
  r.fflags |= NX;
  if (rm !== RNE) v = fromNearestF32(v, d, e, rm);
  writeValueS(r, rd, v);
  return true;
}

/** Sign flips of the (rs1, rs3) operands for each instruction: the product's, the addend's. */
function fmaD(
  r: FpRegs,
  rd: number,
  rs1: number,
  rs2: number,
  rs3: number,
  rm: number,
  negProduct: boolean,
  negAddend: boolean,
): void {
  const a = r.f[rs1]!;
  const c = r.f[rs3]!;
  if (fmaFastD(r, rd, negProduct ? -a : a, r.f[rs2]!, negAddend ? -c : c, rm)) return;
  const x = readBitsD(r, rs1) ^ (negProduct ? SIGN64 : 0n);
  const z = readBitsD(r, rs3) ^ (negAddend ? SIGN64 : 0n);
  writeBitsD(r, rd, exact.fma(x, readBitsD(r, rs2), z, F64, rm, r));
}

function fmaS(
  r: FpRegs,
  rd: number,
  rs1: number,
  rs2: number,
  rs3: number,
  rm: number,
  negProduct: boolean,
  negAddend: boolean,
): void {
  const a = valueS(r, rs1);
  const c = valueS(r, rs3);
  if (fmaFastS(r, rd, negProduct ? -a : a, valueS(r, rs2), negAddend ? -c : c, rm)) return;
  const x = readS(r, rs1) ^ (negProduct ? SIGN32 : 0);
  const y = readS(r, rs2);
  const z = readS(r, rs3) ^ (negAddend ? SIGN32 : 0);
  const bits = exact.fma(BigInt(x >>> 0), BigInt(y >>> 0), BigInt(z >>> 0), F32, rm, r);
  writeS(r, rd, Number(bits) | 0);
}

/** fmadd.d: a×b + c */
export function fmadd_d(r: FpRegs, rd: number, rs1: number, rs2: number, rs3: number, rm: number) {
  fmaD(r, rd, rs1, rs2, rs3, rm, false, false);
}
/** fmsub.d: a×b - c */
export function fmsub_d(r: FpRegs, rd: number, rs1: number, rs2: number, rs3: number, rm: number) {
  fmaD(r, rd, rs1, rs2, rs3, rm, false, true);
}
/** fnmsub.d: -(a×b) + c */
export function fnmsub_d(r: FpRegs, rd: number, rs1: number, rs2: number, rs3: number, rm: number) {
  fmaD(r, rd, rs1, rs2, rs3, rm, true, false);
}
/** fnmadd.d: -(a×b) - c */
export function fnmadd_d(r: FpRegs, rd: number, rs1: number, rs2: number, rs3: number, rm: number) {
  fmaD(r, rd, rs1, rs2, rs3, rm, true, true);
}
/** fmadd.s: a×b + c */
export function fmadd_s(r: FpRegs, rd: number, rs1: number, rs2: number, rs3: number, rm: number) {
  fmaS(r, rd, rs1, rs2, rs3, rm, false, false);
}
/** fmsub.s: a×b - c */
export function fmsub_s(r: FpRegs, rd: number, rs1: number, rs2: number, rs3: number, rm: number) {
  fmaS(r, rd, rs1, rs2, rs3, rm, false, true);
}
/** fnmsub.s: -(a×b) + c */
export function fnmsub_s(r: FpRegs, rd: number, rs1: number, rs2: number, rs3: number, rm: number) {
  fmaS(r, rd, rs1, rs2, rs3, rm, true, false);
}
/** fnmadd.s: -(a×b) - c */
export function fnmadd_s(r: FpRegs, rd: number, rs1: number, rs2: number, rs3: number, rm: number) {
  fmaS(r, rd, rs1, rs2, rs3, rm, true, true);
}
