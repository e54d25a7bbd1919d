/**
 * The D extension's arithmetic: fadd.d, fsub.d, fmul.d, fdiv.d, fsqrt.d.
 *
 * Each first tries a fast path: JavaScript's own binary64 operation (IEEE round-to-nearest-
 * even), an error-free transformation for the sign of the rounding error, and
 * `fromNearestF64` for the other modes. The fast path is taken only where that is provably
 * exact: finite operands, a normal result well away from overflow, and the operand ranges the
 * transformation needs (see `eft.ts`). Everything else goes to the exact path.
 */
import { twoProductLow } from './eft.js';
import * as exact from './exact.js';
import { F64, NX, RDN, RNE, TWO_1023, TWO_M1022 } from './format.js';
import { type FpRegs, readBitsD, writeBitsD } from './regs.js';
import { fromNearestF64, fromNearestNoTieF64 } from './round.js';

const SIGN = 1n << 63n;
/** Range limits of the fast paths (see `twoProductLow`). */
const TWO_M900 = 2 ** -900;
const TWO_996 = 2 ** 996;
const TWO_1022 = 2 ** 1022;

/**
 * The sum a + b into f[rd] by the fast path, or false. Inexact sums are never tiny (the sum of
 * two doubles is a multiple of 2^-1074, so below 2^-1022 it is exact), and |a + b| < 2^1023
 * cannot overflow in any mode.
 */
function addFast(r: FpRegs, rd: number, a: number, b: number, rm: number): boolean {
  let s = a + b;
  if (!(Math.abs(s) < TWO_1023)) return false; // NaN, infinity, or near overflow
  const bv = s - a;
  const err = a - (s - bv) + (b - bv);
  if (err !== 0) {
    r.fflags |= NX;
    if (rm !== RNE) s = fromNearestF64(s, err, 0, rm);
  } else if (s === 0 && rm === RDN && !(Object.is(a, 0) && Object.is(b, 0))) {
    s = -0; // an exact zero sum is -0 when rounding down, unless both addends are +0
  }
  r.f[rd] = s;
  return true;
}

/** fadd.d */
export function fadd_d(r: FpRegs, rd: number, rs1: number, rs2: number, rm: number): void {
  if (addFast(r, rd, r.f[rs1]!, r.f[rs2]!, rm)) return;
  writeBitsD(r, rd, exact.add(readBitsD(r, rs1), readBitsD(r, rs2), F64, rm, r));
}

/** fsub.d: a + (-b), negating b exactly (a NaN's sign does not matter: results are canonical). */
export function fsub_d(r: FpRegs, rd: number, rs1: number, rs2: number, rm: number): void {
  if (addFast(r, rd, r.f[rs1]!, -r.f[rs2]!, rm)) return;
  writeBitsD(r, rd, exact.add(readBitsD(r, rs1), readBitsD(r, rs2) ^ SIGN, F64, rm, r));
}

/** fmul.d */
export function fmul_d(r: FpRegs, rd: number, rs1: number, rs2: number, rm: number): void {
  const a = r.f[rs1]!;
  const b = r.f[rs2]!;
  let p = a * b;
  const ap = Math.abs(p);
  if (ap > TWO_M900 && ap < TWO_1023 && Math.abs(a) < TWO_996 && Math.abs(b) < TWO_996) {
    const err = twoProductLow(a, b, p);
    if (err !== 0) {
      r.fflags |= NX;
      if (rm !== RNE) p = fromNearestF64(p, err, 0, rm);
    }
    r.f[rd] = p;
    return;
  }
  if (p === 0 && (a === 0 || b === 0)) {
    r.f[rd] = p; // a zero times a finite value: exact, with the sign JavaScript gives
    return;
  }
  writeBitsD(r, rd, exact.mul(readBitsD(r, rs1), readBitsD(r, rs2), F64, rm, r));
}

/**
 * fdiv.d. The remainder a - q×b is exact (Dekker's product gives q×b as ph + pl, and a - ph is
 * exact since ph is within a factor 2 of a); its sign, times b's, says where a/b lies from q.
 * A quotient is never a midpoint, so no tie can arise.
 */
export function fdiv_d(r: FpRegs, rd: number, rs1: number, rs2: number, rm: number): void {
  const a = r.f[rs1]!;
  const b = r.f[rs2]!;
  let q = a / b;
  const aq = Math.abs(q);
  const aa = Math.abs(a);
  if (aq > TWO_M1022 && aq < TWO_996 && Math.abs(b) < TWO_996 && aa > TWO_M900 && aa < TWO_1022) {
    const ph = q * b;
    const rem = a - ph - twoProductLow(q, b, ph);
    if (rem !== 0) {
      r.fflags |= NX;
      if (rm !== RNE) q = fromNearestNoTieF64(q, rem < 0 !== b < 0, rm);
    }
    r.f[rd] = q;
    return;
  }
  if (q === 0 && a === 0) {
    r.f[rd] = q; // zero over a nonzero (or infinite) divisor: exact
    return;
  }
  writeBitsD(r, rd, exact.div(readBitsD(r, rs1), readBitsD(r, rs2), F64, rm, r));
}

/** fsqrt.d. The residual a - s² is exact as for fdiv.d; a square root is never a midpoint. */
export function fsqrt_d(r: FpRegs, rd: number, rs1: number, rm: number): void {
  const a = r.f[rs1]!;
  let s = Math.sqrt(a);
  if (a > TWO_M900 && a < TWO_1022) {
    const ph = s * s;
    const rem = a - ph - twoProductLow(s, s, ph);
    if (rem !== 0) {
      r.fflags |= NX;
      if (rm !== RNE) s = fromNearestNoTieF64(s, rem < 0, rm);
    }
    r.f[rd] = s;
    return;
  }
  if (a === 0) {
    r.f[rd] = a; // sqrt(±0) = ±0
    return;
  }
  writeBitsD(r, rd, exact.sqrt(readBitsD(r, rs1), F64, rm, r));
}
