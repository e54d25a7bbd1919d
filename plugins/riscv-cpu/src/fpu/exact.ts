/**
 * The exact path: every arithmetic operation on any operands, on BigInt significands, with
 * rounding done once by `roundPack`. It is the whole truth for inputs the fast paths decline
 * (NaNs, infinities, subnormal or overflowing results, tiny products, ...) and is generic over
 * the format: operands and results are bit patterns as BigInts.
 *
 * NaN rules (RISC-V): every NaN result is the canonical NaN; NV for any signalling NaN operand
 * and for the invalid operations (inf - inf, 0 × inf, 0/0, inf/inf, sqrt of a negative, and
 * fused multiply-add whose product is 0 × inf even when the addend is a quiet NaN).
 */
import { bitLength, isqrt } from './bigint.js';
import { DZ, type FlagSink, type Format, NV, RDN } from './format.js';
import { roundPack, signBit } from './round.js';

const FINITE = 0;
const INF = 1;
const QNAN = 2;
const SNAN = 3;

/** An operand: its kind and, when finite, the value (-1)^neg × sig × 2^exp (sig 0 for zeros). */
interface Operand {
  kind: number;
  neg: boolean;
  sig: bigint;
  exp: number;
}

function decode(bits: bigint, fmt: Format): Operand {
  const fracBits = BigInt(fmt.p - 1);
  const neg = bits >> BigInt(fmt.width - 1) === 1n;
  const biased = Number((bits >> fracBits) & ((1n << BigInt(fmt.width - fmt.p)) - 1n));
  const frac = bits & ((1n << fracBits) - 1n);
  const subnormalExp = fmt.emin - (fmt.p - 1);
  if (biased === 2 * fmt.emax + 1) {
    const kind = frac === 0n ? INF : frac >> (fracBits - 1n) === 1n ? QNAN : SNAN;
    return { kind, neg, sig: 0n, exp: 0 };
  }
  if (biased === 0) return { kind: FINITE, neg, sig: frac, exp: subnormalExp };
  return { kind: FINITE, neg, sig: frac | (1n << fracBits), exp: biased - 1 + subnormalExp };
}

function infinity(neg: boolean, fmt: Format): bigint {
  return signBit(neg, fmt) | (((1n << BigInt(fmt.width - fmt.p)) - 1n) << BigInt(fmt.p - 1));
}

/** The canonical NaN, raising NV when `invalid`. */
function nan(invalid: boolean, fmt: Format, st: FlagSink): bigint {
  if (invalid) st.fflags |= NV;
  return fmt.canonicalNaN;
}

function isNaNOperand(o: Operand): boolean {
  return o.kind >= QNAN;
}

/**
 * x + y for finite x, y (either may be a zero), exact then rounded once. An exact zero sum is
 * -0 when both addends are -0, +0 when both are +0, and otherwise (opposite zeros, or equal
 * magnitudes cancelling) +0, or -0 when rounding down.
 */
function sum(x: Operand, y: Operand, fmt: Format, rm: number, st: FlagSink): bigint {
  const exp = Math.min(x.exp, y.exp);
  const vx = x.sig << BigInt(x.exp - exp);
  const vy = y.sig << BigInt(y.exp - exp);
  const s = (x.neg ? -vx : vx) + (y.neg ? -vy : vy);
  if (s === 0n) {
    const neg = x.sig === 0n && y.sig === 0n && x.neg === y.neg ? x.neg : rm === RDN;
    return signBit(neg, fmt);
  }
  return roundPack(s < 0n, s < 0n ? -s : s, exp, fmt, rm, st);
}

/** a + b. */
export function add(a: bigint, b: bigint, fmt: Format, rm: number, st: FlagSink): bigint {
  const x = decode(a, fmt);
  const y = decode(b, fmt);
  if (isNaNOperand(x) || isNaNOperand(y)) return nan(x.kind === SNAN || y.kind === SNAN, fmt, st);
  if (x.kind === INF || y.kind === INF) {
    if (x.kind === INF && y.kind === INF && x.neg !== y.neg) return nan(true, fmt, st);
    return infinity(x.kind === INF ? x.neg : y.neg, fmt);
  }
  return sum(x, y, fmt, rm, st);
}

/** a × b. */
export function mul(a: bigint, b: bigint, fmt: Format, rm: number, st: FlagSink): bigint {
  const x = decode(a, fmt);
  const y = decode(b, fmt);
  if (isNaNOperand(x) || isNaNOperand(y)) return nan(x.kind === SNAN || y.kind === SNAN, fmt, st);
  const neg = x.neg !== y.neg;
  if (x.kind === INF || y.kind === INF) {
    if ((x.kind === FINITE && x.sig === 0n) || (y.kind === FINITE && y.sig === 0n)) {
      return nan(true, fmt, st);
    }
    return infinity(neg, fmt);
  }
  if (x.sig === 0n || y.sig === 0n) return signBit(neg, fmt);
  return roundPack(neg, x.sig * y.sig, x.exp + y.exp, fmt, rm, st);
}

/** a × b + c, rounded once. */
export function fma(
  a: bigint,
  b: bigint,
  c: bigint,
  fmt: Format,
  rm: number,
  st: FlagSink,
): bigint {
  const x = decode(a, fmt);
  const y = decode(b, fmt);
  const z = decode(c, fmt);
  const zeroTimesInf =
    (x.kind === INF && y.kind === FINITE && y.sig === 0n) ||
    (y.kind === INF && x.kind === FINITE && x.sig === 0n);
  if (isNaNOperand(x) || isNaNOperand(y) || isNaNOperand(z) || zeroTimesInf) {
    const invalid = zeroTimesInf || x.kind === SNAN || y.kind === SNAN || z.kind === SNAN;
    return nan(invalid, fmt, st);
  }
  const neg = x.neg !== y.neg;
  if (x.kind === INF || y.kind === INF) {
    if (z.kind === INF && z.neg !== neg) return nan(true, fmt, st);
    return infinity(neg, fmt);
  }
  if (z.kind === INF) return infinity(z.neg, fmt);
  const product = { kind: FINITE, neg, sig: x.sig * y.sig, exp: x.exp + y.exp };
  return sum(product, z, fmt, rm, st);
}

/** a / b. The quotient gets p+3 bits or more and a jammed last bit (see `roundPack`). */
export function div(a: bigint, b: bigint, fmt: Format, rm: number, st: FlagSink): bigint {
  const x = decode(a, fmt);
  const y = decode(b, fmt);
  if (isNaNOperand(x) || isNaNOperand(y)) return nan(x.kind === SNAN || y.kind === SNAN, fmt, st);
  const neg = x.neg !== y.neg;
  if (x.kind === INF) return y.kind === INF ? nan(true, fmt, st) : infinity(neg, fmt);
  if (y.kind === INF) return signBit(neg, fmt);
  if (y.sig === 0n) {
    if (x.sig === 0n) return nan(true, fmt, st);
    st.fflags |= DZ;
    return infinity(neg, fmt);
  }
  if (x.sig === 0n) return signBit(neg, fmt);
  const k = Math.max(0, fmt.p + 3 + bitLength(y.sig) - bitLength(x.sig));
  const num = x.sig << BigInt(k);
  let q = num / y.sig;
  if (num % y.sig !== 0n) q |= 1n;
  return roundPack(neg, q, x.exp - y.exp - k, fmt, rm, st);
}

/** sqrt(a). The root gets p+3 bits or more and a jammed last bit (see `roundPack`). */
export function sqrt(a: bigint, fmt: Format, rm: number, st: FlagSink): bigint {
  const x = decode(a, fmt);
  if (isNaNOperand(x)) return nan(x.kind === SNAN, fmt, st);
  if (x.kind === FINITE && x.sig === 0n) return signBit(x.neg, fmt);
  if (x.neg) return nan(true, fmt, st);
  if (x.kind === INF) return infinity(false, fmt);
  let sig = x.sig;
  let exp = x.exp;
  if ((exp & 1) !== 0) {
    sig <<= 1n;
    exp -= 1;
  }
  const k = Math.max(0, Math.ceil((2 * (fmt.p + 3) - bitLength(sig)) / 2));
  sig <<= BigInt(2 * k);
  exp -= 2 * k;
  let root = isqrt(sig);
  if (root * root !== sig) root |= 1n;
  return roundPack(false, root, exp / 2, fmt, rm, st);
}

/** `a` in format `from` converted to format `to` (binary32 <-> binary64). */
export function convert(a: bigint, from: Format, to: Format, rm: number, st: FlagSink): bigint {
  const x = decode(a, from);
  if (isNaNOperand(x)) return nan(x.kind === SNAN, to, st);
  if (x.kind === INF) return infinity(x.neg, to);
  if (x.sig === 0n) return signBit(x.neg, to);
  return roundPack(x.neg, x.sig, x.exp, to, rm, st);
}
