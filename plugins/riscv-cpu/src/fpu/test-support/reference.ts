/**
 * The naive reference model the FP tests check against: IEEE 754 by definition, slow and
 * independent of the implementation. Operands are decoded to exact rationals; a result is an
 * exact rational (or, for square roots, the root of one); rounding picks between the two
 * neighbouring multiples of the quantum 2^(max(e, emin) - p + 1) by comparing with their
 * midpoint; flags come from their definitions (tininess after rounding: the value rounded
 * with an unbounded exponent range is below 2^emin). RISC-V's NaN rules are spelled out per
 * operation. Test code only: rationals and BigInt everywhere.
 */
import { DZ, NV, NX, OF, RDN, RMM, RNE, RTZ, RUP, UF } from '../format.js';

export interface Fmt {
  readonly width: number;
  readonly p: number;
  readonly emin: number;
  readonly emax: number;
}
export const S: Fmt = { width: 32, p: 24, emin: -126, emax: 127 };
export const D: Fmt = { width: 64, p: 53, emin: -1022, emax: 1023 };

/** An operation's outcome: the result's bit pattern and the flags it raises. */
export interface Outcome {
  bits: bigint;
  flags: number;
}

/** A rational n/d, d > 0 (non-negative except where a sign is applied). */
interface Q {
  n: bigint;
  d: bigint;
}

function q(n: bigint, d = 1n): Q {
  return { n, d };
}
function pow2(e: number): Q {
  return e >= 0 ? q(1n << BigInt(e)) : q(1n, 1n << BigInt(-e));
}
function cmpQ(a: Q, b: Q): number {
  const l = a.n * b.d;
  const r = b.n * a.d;
  return l < r ? -1 : l > r ? 1 : 0;
}
function mulQ(a: Q, b: Q): Q {
  return q(a.n * b.n, a.d * b.d);
}

/**
 * A positive real known through two questions: compare it with a rational, and floor of it
 * divided by a power of two. Enough to round it by definition.
 */
interface Real {
  cmp(x: Q): number;
  floorOver(quantum: Q): bigint;
  /** A guess at the binade, within a few of the true one (saves walking there from 0). */
  guess: number;
}

const bitLen = (n: bigint): number => n.toString(2).length;

function rationalReal(v: Q): Real {
  return {
    cmp: (x) => cmpQ(v, x),
    floorOver: (u) => (v.n * u.d) / (v.d * u.n),
    guess: bitLen(v.n) - bitLen(v.d),
  };
}

function naiveIsqrt(n: bigint): bigint {
  // The largest r with r² <= n, one bit at a time from the top.
  let r = 0n;
  for (let bit = BigInt(n.toString(2).length); bit >= 0n; bit--) {
    const t = r | (1n << bit);
    if (t * t <= n) r = t;
  }
  return r;
}

/** sqrt(v) for a rational v > 0. */
function rootReal(v: Q): Real {
  return {
    cmp: (x) => cmpQ(v, mulQ(x, x)),
    floorOver: (u) => naiveIsqrt((v.n * u.d * u.d) / (v.d * u.n * u.n)),
    guess: Math.floor((bitLen(v.n) - bitLen(v.d)) / 2),
  };
}

// ---- decoding and encoding --------------------------------------------------------------

type Value =
  | { kind: 'nan'; signaling: boolean }
  | { kind: 'inf'; neg: boolean }
  | { kind: 'num'; neg: boolean; mag: Q }; // mag 0 for zeros

export function decode(bits: bigint, f: Fmt): Value {
  const ebits = f.width - f.p;
  const neg = ((bits >> BigInt(f.width - 1)) & 1n) === 1n;
  const e = Number((bits >> BigInt(f.p - 1)) & ((1n << BigInt(ebits)) - 1n));
  const frac = bits & ((1n << BigInt(f.p - 1)) - 1n);
  const bias = f.emax;
  if (e === (1 << ebits) - 1) {
    if (frac === 0n) return { kind: 'inf', neg };
    return { kind: 'nan', signaling: frac >> BigInt(f.p - 2) === 0n };
  }
  // value = 2^(E - bias) × (1.frac) for normals, 2^emin × (0.frac) for subnormals
  const lead = e === 0 ? 0n : 1n;
  const scale = pow2((e === 0 ? f.emin : e - bias) - (f.p - 1));
  return { kind: 'num', neg, mag: mulQ(q((lead << BigInt(f.p - 1)) + frac), scale) };
}

function signBits(neg: boolean, f: Fmt): bigint {
  return neg ? 1n << BigInt(f.width - 1) : 0n;
}
function infBits(neg: boolean, f: Fmt): bigint {
  return signBits(neg, f) | (((1n << BigInt(f.width - f.p)) - 1n) << BigInt(f.p - 1));
}
function maxBits(neg: boolean, f: Fmt): bigint {
  return infBits(neg, f) - 1n;
}
function canonical(f: Fmt): bigint {
  return ((1n << BigInt(f.width - f.p + 1)) - 1n) << BigInt(f.p - 2);
}

/** Bits of the representable magnitude k × 2^qe (known to be representable and finite). */
function encode(neg: boolean, k: bigint, qe: number, f: Fmt): bigint {
  if (k === 0n) return signBits(neg, f);
  // Normalise k to p bits where possible.
  while (k < 1n << BigInt(f.p - 1) && qe > f.emin - (f.p - 1)) {
    k <<= 1n;
    qe -= 1;
  }
  while (k >= 1n << BigInt(f.p)) {
    if ((k & 1n) !== 0n) throw new Error('reference: not representable');
    k >>= 1n;
    qe += 1;
  }
  if (k < 1n << BigInt(f.p - 1)) return signBits(neg, f) | k; // subnormal
  const biased = BigInt(qe + (f.p - 1) + f.emax);
  return signBits(neg, f) | (biased << BigInt(f.p - 1)) | (k - (1n << BigInt(f.p - 1)));
}

// ---- rounding by definition ---------------------------------------------------------------

/** The exponent e with 2^e <= x < 2^(e+1). */
function binade(x: Real): number {
  let e = x.guess;
  while (x.cmp(pow2(e)) < 0) e -= 1;
  while (x.cmp(pow2(e + 1)) >= 0) e += 1;
  return e;
}

/** Round |x| to a multiple k of 2^qe: whether it rounds up from floor, and exactness. */
function roundAt(x: Real, qe: number, neg: boolean, rm: number): { k: bigint; exact: boolean } {
  const k = x.floorOver(pow2(qe));
  const exact = x.cmp(mulQ(q(k), pow2(qe))) === 0;
  if (exact) return { k, exact };
  const vsMid = x.cmp(mulQ(q(2n * k + 1n, 2n), pow2(qe)));
  let up: boolean;
  if (rm === RNE) up = vsMid > 0 || (vsMid === 0 && k % 2n === 1n);
  else if (rm === RMM) up = vsMid >= 0;
  else if (rm === RTZ) up = false;
  else if (rm === RDN) up = neg;
  else up = !neg;
  return { k: up ? k + 1n : k, exact };
}

/** A nonzero real of sign `neg` rounded to format f by rm. */
function roundReal(x: Real, neg: boolean, f: Fmt, rm: number): Outcome {
  const e = binade(x);
  const qe = Math.max(e, f.emin) - (f.p - 1);
  const { k, exact } = roundAt(x, qe, neg, rm);
  let flags = exact ? 0 : NX;
  // Overflow: the rounded magnitude (exponent unbounded above) exceeds the largest finite.
  const maxMag = mulQ(q((1n << BigInt(f.p)) - 1n), pow2(f.emax - (f.p - 1)));
  if (cmpQ(mulQ(q(k), pow2(qe)), maxMag) > 0) {
    flags |= OF | NX;
    const toInf = rm === RNE || rm === RMM || (rm === RUP && !neg) || (rm === RDN && neg);
    return { bits: toInf ? infBits(neg, f) : maxBits(neg, f), flags };
  }
  if (!exact && e < f.emin) {
    const unbounded = roundAt(x, e - (f.p - 1), neg, rm);
    const tiny = cmpQ(mulQ(q(unbounded.k), pow2(e - (f.p - 1))), pow2(f.emin)) < 0;
    if (tiny) flags |= UF;
  }
  return { bits: encode(neg, k, qe, f), flags };
}

/** A signed rational (value n/d, any sign) rounded; exact zero gets `zeroNeg`. */
function roundSigned(n: bigint, d: bigint, zeroNeg: boolean, f: Fmt, rm: number): Outcome {
  if (n === 0n) return { bits: signBits(zeroNeg, f), flags: 0 };
  const neg = n < 0n;
  return roundReal(rationalReal(q(neg ? -n : n, d)), neg, f, rm);
}

const nanOut = (f: Fmt, invalid: boolean): Outcome => ({
  bits: canonical(f),
  flags: invalid ? NV : 0,
});

function signed(v: { neg: boolean; mag: Q }): Q {
  return { n: v.neg ? -v.mag.n : v.mag.n, d: v.mag.d };
}

/** Exact sum of two signed finite values (with zero signs) rounded. */
function addValues(
  x: { neg: boolean; mag: Q },
  y: { neg: boolean; mag: Q },
  f: Fmt,
  rm: number,
): Outcome {
  const a = signed(x);
  const b = signed(y);
  const n = a.n * b.d + b.n * a.d;
  // IEEE 754 6.3: an exact zero sum of opposite signs is +0, -0 when rounding down;
  // x + x keeps x's sign.
  const zeroNeg = x.neg === y.neg ? x.neg : rm === RDN;
  return roundSigned(n, a.d * b.d, zeroNeg, f, rm);
}

// ---- operations ---------------------------------------------------------------------------

export function refAdd(a: bigint, b: bigint, f: Fmt, rm: number): Outcome {
  const x = decode(a, f);
  const y = decode(b, f);
  if (x.kind === 'nan' || y.kind === 'nan') {
    return nanOut(f, (x.kind === 'nan' && x.signaling) || (y.kind === 'nan' && y.signaling));
  }
  if (x.kind === 'inf' && y.kind === 'inf') {
    return x.neg === y.neg ? { bits: infBits(x.neg, f), flags: 0 } : nanOut(f, true);
  }
  if (x.kind === 'inf') return { bits: infBits(x.neg, f), flags: 0 };
  if (y.kind === 'inf') return { bits: infBits(y.neg, f), flags: 0 };
  return addValues(x, y, f, rm);
}

export function refMul(a: bigint, b: bigint, f: Fmt, rm: number): Outcome {
  const x = decode(a, f);
  const y = decode(b, f);
  if (x.kind === 'nan' || y.kind === 'nan') {
    return nanOut(f, (x.kind === 'nan' && x.signaling) || (y.kind === 'nan' && y.signaling));
  }
  const neg = x.neg !== y.neg;
  const isZero = (v: Value) => v.kind === 'num' && v.mag.n === 0n;
  if (x.kind === 'inf' || y.kind === 'inf') {
    if (isZero(x) || isZero(y)) return nanOut(f, true);
    return { bits: infBits(neg, f), flags: 0 };
  }
  if (x.kind !== 'num' || y.kind !== 'num') throw new Error('unreachable');
  const m = mulQ(x.mag, y.mag);
  return roundSigned(neg ? -m.n : m.n, m.d, neg, f, rm);
}

export function refFma(a: bigint, b: bigint, c: bigint, f: Fmt, rm: number): Outcome {
  const x = decode(a, f);
  const y = decode(b, f);
  const z = decode(c, f);
  const isZero = (v: Value) => v.kind === 'num' && v.mag.n === 0n;
  const infTimesZero = (x.kind === 'inf' && isZero(y)) || (y.kind === 'inf' && isZero(x));
  const anySignaling = [x, y, z].some((v) => v.kind === 'nan' && v.signaling);
  if (x.kind === 'nan' || y.kind === 'nan' || z.kind === 'nan') {
    // RISC-V: 0 × inf is invalid even when the addend is a quiet NaN.
    return nanOut(f, anySignaling || infTimesZero);
  }
  if (infTimesZero) return nanOut(f, true);
  const pneg = x.neg !== y.neg;
  if (x.kind === 'inf' || y.kind === 'inf') {
    if (z.kind === 'inf' && z.neg !== pneg) return nanOut(f, true);
    return { bits: infBits(pneg, f), flags: 0 };
  }
  if (z.kind === 'inf') return { bits: infBits(z.neg, f), flags: 0 };
  if (x.kind !== 'num' || y.kind !== 'num' || z.kind !== 'num') throw new Error('unreachable');
  return addValues({ neg: pneg, mag: mulQ(x.mag, y.mag) }, z, f, rm);
}

export function refDiv(a: bigint, b: bigint, f: Fmt, rm: number): Outcome {
  const x = decode(a, f);
  const y = decode(b, f);
  if (x.kind === 'nan' || y.kind === 'nan') {
    return nanOut(f, (x.kind === 'nan' && x.signaling) || (y.kind === 'nan' && y.signaling));
  }
  const neg = x.neg !== y.neg;
  if (x.kind === 'inf') {
    return y.kind === 'inf' ? nanOut(f, true) : { bits: infBits(neg, f), flags: 0 };
  }
  if (y.kind === 'inf') return { bits: signBits(neg, f), flags: 0 };
  if (y.mag.n === 0n) {
    if (x.mag.n === 0n) return nanOut(f, true);
    return { bits: infBits(neg, f), flags: DZ };
  }
  const n = x.mag.n * y.mag.d;
  return roundSigned(neg ? -n : n, x.mag.d * y.mag.n, neg, f, rm);
}

export function refSqrt(a: bigint, f: Fmt, rm: number): Outcome {
  const x = decode(a, f);
  if (x.kind === 'nan') return nanOut(f, x.signaling);
  if (x.kind === 'num' && x.mag.n === 0n) return { bits: signBits(x.neg, f), flags: 0 };
  if (x.neg) return nanOut(f, true);
  if (x.kind === 'inf') return { bits: infBits(false, f), flags: 0 };
  return roundReal(rootReal(x.mag), false, f, rm);
}

/** binary32 <-> binary64. */
export function refConvert(a: bigint, from: Fmt, to: Fmt, rm: number): Outcome {
  const x = decode(a, from);
  if (x.kind === 'nan') return nanOut(to, x.signaling);
  if (x.kind === 'inf') return { bits: infBits(x.neg, to), flags: 0 };
  return roundSigned(signed(x).n, x.mag.d, x.neg, to, rm);
}

/** An integer (any sign) to format f. */
export function refFromInt(v: bigint, f: Fmt, rm: number): Outcome {
  return roundSigned(v, 1n, false, f, rm);
}

export type IntKind = 'w' | 'wu' | 'l' | 'lu';

/**
 * Float to integer: the 64-bit register pattern it writes (W/WU sign-extended from bit 31)
 * and flags. Out of range after rounding, or NaN, saturates with NV (no NX).
 */
export function refToInt(a: bigint, f: Fmt, kind: IntKind, rm: number): Outcome {
  const bitsW = kind === 'w' || kind === 'wu' ? 32 : 64;
  const unsigned = kind === 'wu' || kind === 'lu';
  const min = unsigned ? 0n : -(1n << BigInt(bitsW - 1));
  const max = unsigned ? (1n << BigInt(bitsW)) - 1n : (1n << BigInt(bitsW - 1)) - 1n;
  const asRegister = (v: bigint): bigint => {
    const m = (1n << BigInt(bitsW)) - 1n;
    let u = v & m;
    if (bitsW === 32 && u >> 31n === 1n) u |= 0xffffffff00000000n; // sign-extend bit 31
    return u & 0xffffffffffffffffn;
  };
  const x = decode(a, f);
  if (x.kind === 'nan') return { bits: asRegister(max), flags: NV };
  if (x.kind === 'inf') return { bits: asRegister(x.neg ? min : max), flags: NV };
  const mag = x.mag;
  // Round the magnitude to an integer per the mode, with the sign applied after.
  let k = mag.n / mag.d;
  const rest = cmpQ(mag, q(k));
  if (rest !== 0) {
    const vsHalf = cmpQ(mag, q(2n * k + 1n, 2n));
    let up: boolean;
    if (rm === RNE) up = vsHalf > 0 || (vsHalf === 0 && k % 2n === 1n);
    else if (rm === RMM) up = vsHalf >= 0;
    else if (rm === RTZ) up = false;
    else if (rm === RDN) up = x.neg;
    else up = !x.neg;
    if (up) k += 1n;
  }
  const v = x.neg ? -k : k;
  if (v < min) return { bits: asRegister(min), flags: NV };
  if (v > max) return { bits: asRegister(max), flags: NV };
  return { bits: asRegister(v), flags: rest !== 0 ? NX : 0 };
}

/** RISC-V's NaN-propagation-free comparisons: the integer result and flags. */
export function refCompare(a: bigint, b: bigint, f: Fmt, op: 'eq' | 'lt' | 'le'): Outcome {
  const x = decode(a, f);
  const y = decode(b, f);
  if (x.kind === 'nan' || y.kind === 'nan') {
    const signaling = (x.kind === 'nan' && x.signaling) || (y.kind === 'nan' && y.signaling);
    return { bits: 0n, flags: op === 'eq' && !signaling ? 0 : NV };
  }
  // -1 for -inf, 1 for +inf, 0 for finite values, which then compare as rationals.
  const rank = (v: Value): number => (v.kind === 'inf' ? (v.neg ? -1 : 1) : 0);
  let o = Math.sign(rank(x) - rank(y));
  if (o === 0 && x.kind === 'num' && y.kind === 'num') o = cmpQ(signed(x), signed(y));
  const result = op === 'eq' ? o === 0 : op === 'lt' ? o < 0 : o <= 0;
  return { bits: result ? 1n : 0n, flags: 0 };
}

export { RDN, RMM, RNE, RTZ, RUP };
