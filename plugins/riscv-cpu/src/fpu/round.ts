/**
 * Rounding: every decision of which representable value an exact result becomes, in each of
 * the five modes, and the flags that decision raises (NX, UF with tininess after rounding, OF).
 *
 * Three entries, one per kind of caller:
 * - `roundPack`: the exact path's. An exact value sig × 2^exp (BigInt sig) becomes the bits
 *   of a binary32 or binary64, with every flag. Division and square root pass a quotient or
 *   root with at least p+2 bits whose last bit is "jammed" (ORed with 1 when anything nonzero
 *   was left over): rounding at a position two or more bits above it cannot tell the two apart.
 * - `fromNearestF64`/`F32` (and the `NoTie` forms): the fast paths'. JavaScript gives the
 *   round-to-nearest-even result r of an exact value V, an error-free transformation gives the
 *   sign of V - r (and whether V is a midpoint); the other modes are r or its neighbour. The
 *   callers guarantee that r and its neighbours are normal, so no OF/UF can arise there.
 * - `roundToIntegral`: fcvt to an integer format, rounding a double to an integral double.
 */
import { bitLength } from './bigint.js';
import { nextF32, nextF64 } from './bits.js';
import { type FlagSink, type Format, NX, OF, RDN, RMM, RNE, RTZ, RUP, UF } from './format.js';

/**
 * `sig` shifted right by `s` bits and rounded by `rm` (the value's sign is `neg`), and whether
 * anything nonzero was shifted out. A negative `s` shifts left, exactly.
 */
function shiftRound(sig: bigint, s: number, neg: boolean, rm: number): [bigint, boolean] {
  if (s <= 0) return [sig << BigInt(-s), false];
  const bs = BigInt(s);
  const q = sig >> bs;
  const rest = sig & ((1n << bs) - 1n);
  if (rest === 0n) return [q, false];
  const half = 1n << (bs - 1n);
  let up: boolean;
  switch (rm) {
    case RNE:
      up = rest > half || (rest === half && (q & 1n) === 1n);
      break;
    case RTZ:
      up = false;
      break;
    case RDN:
      up = neg;
      break;
    case RUP:
      up = !neg;
      break;
    default: // RMM
      up = rest >= half;
  }
  return [up ? q + 1n : q, true];
}

/** ±infinity or ±MAX, whichever `rm` gives for a result that overflowed. */
function overflowed(neg: boolean, fmt: Format, rm: number): bigint {
  const toInfinity = rm === RNE || rm === RMM || (rm === RUP && !neg) || (rm === RDN && neg);
  const inf = ((1n << BigInt(fmt.width - fmt.p)) - 1n) << BigInt(fmt.p - 1);
  return signBit(neg, fmt) | (toInfinity ? inf : inf - 1n);
}

/** The sign bit of `fmt` if `neg`, else 0. */
export function signBit(neg: boolean, fmt: Format): bigint {
  return neg ? 1n << BigInt(fmt.width - 1) : 0n;
}

/**
 * The bits of (-1)^neg × sig × 2^exp (sig > 0) rounded to `fmt` by `rm`; flags into `st`.
 * Tininess is detected after rounding: the value rounded to p bits with an unbounded exponent
 * is below 2^emin. UF is raised only when the result is also inexact.
 */
export function roundPack(
  neg: boolean,
  sig: bigint,
  exp: number,
  fmt: Format,
  rm: number,
  st: FlagSink,
): bigint {
  const { p, emin, emax } = fmt;
  const top = exp + bitLength(sig) - 1; // the value lies in [2^top, 2^(top+1))
  let lsb = Math.max(top, emin) - (p - 1); // the weight of the result's last significand bit
  let [q, inexact] = shiftRound(sig, lsb - exp, neg, rm);
  if (inexact) {
    // Tiny unless the unbounded rounding carries all the way up to 2^emin.
    const tiny =
      top < emin &&
      !(top === emin - 1 && shiftRound(sig, top - (p - 1) - exp, neg, rm)[0] === 1n << BigInt(p));
    st.fflags |= tiny ? NX | UF : NX;
  }
  if (q === 0n) return signBit(neg, fmt);
  if (q === 1n << BigInt(p)) {
    q >>= 1n;
    lsb += 1;
  }
  if (lsb + bitLength(q) - 1 > emax) {
    st.fflags |= OF | NX;
    return overflowed(neg, fmt, rm);
  }
  // A subnormal q (below 2^(p-1)) sits at lsb = emin - (p-1): biased exponent 0, fraction q.
  // A normal one adds its biased exponent to the fraction through its hidden bit.
  const biasedMinus1 = q >> BigInt(p - 1) === 0n ? 0 : lsb + (p - 1) + emax - 1;
  return signBit(neg, fmt) | ((BigInt(biasedMinus1) << BigInt(p - 1)) + q);
}

/**
 * The result in mode `rm` of an exact value V, given r = V rounded to nearest-even (a normal
 * binary64 whose neighbours are normal) and whether V lies below r. V must not be a midpoint
 * between two binary64 values (true of quotients and square roots), or `rm` must not be RMM.
 */
export function fromNearestNoTieF64(r: number, below: boolean, rm: number): number {
  switch (rm) {
    case RTZ:
      return below === r > 0 ? nextF64(r, !below) : r;
    case RDN:
      return below ? nextF64(r, false) : r;
    case RUP:
      return below ? r : nextF64(r, true);
    default: // RNE; RMM without a midpoint
      return r;
  }
}

/**
 * The result in mode `rm` of an exact value V = r + d + e, where r = RN(V) is a normal
 * binary64 whose neighbours are normal, V - r has the sign of d (of e when d is 0), and V is a
 * midpoint exactly when e is 0 and |d| is half the gap from r to its neighbour on d's side
 * (so e, when nonzero, only breaks that tie). V must differ from r.
 */
export function fromNearestF64(r: number, d: number, e: number, rm: number): number {
  if (rm === RMM) {
    if (e !== 0) return r;
    // At a midpoint RNE picked the even one; RMM wants the larger magnitude.
    const n = nextF64(r, d > 0);
    return n - r === d + d && Math.abs(n) > Math.abs(r) ? n : r;
  }
  return fromNearestNoTieF64(r, d !== 0 ? d < 0 : e < 0, rm);
}

/** `fromNearestNoTieF64` for a binary32 r (held in a double). */
export function fromNearestNoTieF32(r: number, below: boolean, rm: number): number {
  switch (rm) {
    case RTZ:
      return below === r > 0 ? nextF32(r, !below) : r;
    case RDN:
      return below ? nextF32(r, false) : r;
    case RUP:
      return below ? r : nextF32(r, true);
    default:
      return r;
  }
}

/** `fromNearestF64` for a binary32 r (d and e are doubles, and d is exact when e is 0). */
export function fromNearestF32(r: number, d: number, e: number, rm: number): number {
  if (rm === RMM) {
    if (e !== 0) return r;
    const n = nextF32(r, d > 0);
    return n - r === d + d && Math.abs(n) > Math.abs(r) ? n : r;
  }
  return fromNearestNoTieF32(r, d !== 0 ? d < 0 : e < 0, rm);
}

/**
 * `v` rounded to an integral value by `rm` (NaN and infinities unchanged). At 2^52 and above
 * every double is integral; below, trunc(v) and v - trunc(v) are both exact.
 */
export function roundToIntegral(v: number, rm: number): number {
  if (!(Math.abs(v) < 4503599627370496)) return v;
  const t = Math.trunc(v);
  const frac = v - t;
  if (frac === 0) return v;
  switch (rm) {
    case RNE: {
      const a = Math.abs(frac);
      return a > 0.5 || (a === 0.5 && t % 2 !== 0) ? t + Math.sign(frac) : t;
    }
    case RTZ:
      return t;
    case RDN:
      return frac < 0 ? t - 1 : t;
    case RUP:
      return frac > 0 ? t + 1 : t;
    default: // RMM
      return Math.abs(frac) >= 0.5 ? t + Math.sign(frac) : t;
  }
}
