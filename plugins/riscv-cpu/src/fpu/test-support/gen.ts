/**
 * fast-check generators of operand bit patterns, biased toward where floating point goes
 * wrong: zeros, subnormals, the smallest and largest normals, infinities, NaNs of both kinds,
 * significands ending in a lone bit (midpoints once shifted), runs of ones (carries), operands
 * that cancel, products and quotients near the overflow and underflow thresholds, integers
 * near 2^31, 2^32, 2^63, 2^64.
 */
import fc from 'fast-check';
import { type Fmt, refMul } from './reference.js';

const big = (n: number) => BigInt(n);

function fracBits(f: Fmt): number {
  return f.p - 1;
}
function expMax(f: Fmt): number {
  return (1 << (f.width - f.p)) - 1;
}

/** Fractions: 0, 1, all ones, quiet bit, lone bits, short runs, random. */
function fraction(f: Fmt): fc.Arbitrary<bigint> {
  const n = fracBits(f);
  const all = (1n << big(n)) - 1n;
  return fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(0n, 1n, 2n, 3n, all, all - 1n, 1n << big(n - 1)) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: n - 1 }).map((k) => 1n << big(k)) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.integer({ min: 0, max: n }), fc.integer({ min: 0, max: n }))
        .map(([a, b]) => ((1n << big(Math.max(a, b))) - 1n) ^ ((1n << big(Math.min(a, b))) - 1n)),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.bigInt({ min: 0n, max: all }), fc.integer({ min: 0, max: n }))
        .map(([v, k]) => (v >> big(k)) << big(k)),
    },
    { weight: 2, arbitrary: fc.bigInt({ min: 0n, max: all }) },
    { weight: 3, arbitrary: fc.noBias(fc.bigInt({ min: 0n, max: all })) },
  );
}

/** Biased exponent fields: 0, 1, 2, around the bias, the top normals, all ones, random. */
function exponentField(f: Fmt): fc.Arbitrary<number> {
  const max = expMax(f);
  const bias = f.emax;
  return fc.oneof(
    { weight: 1, arbitrary: fc.constantFrom(0, max) },
    { weight: 2, arbitrary: fc.constantFrom(1, 2, bias - 1, bias, bias + 1, max - 1, max - 2) },
    { weight: 5, arbitrary: fc.noBias(fc.integer({ min: 0, max })) },
  );
}

export function assemble(f: Fmt, neg: boolean, e: number, frac: bigint): bigint {
  return (neg ? 1n << big(f.width - 1) : 0n) | (big(e) << big(fracBits(f))) | frac;
}

/** Any bit pattern of format f, edge cases often. */
export function floatBits(f: Fmt): fc.Arbitrary<bigint> {
  return fc.oneof(
    {
      weight: 6,
      arbitrary: fc
        .tuple(fc.boolean(), exponentField(f), fraction(f))
        .map(([s, e, m]) => assemble(f, s, e, m)),
    },
    { weight: 2, arbitrary: fc.bigInt({ min: 0n, max: (1n << big(f.width)) - 1n }) },
  );
}

/** Finite patterns with the exponent field in [lo, hi] (clamped to the finite range). */
export function finiteInRange(f: Fmt, lo: number, hi: number): fc.Arbitrary<bigint> {
  const a = Math.max(0, Math.min(lo, expMax(f) - 1));
  const b = Math.max(a, Math.min(hi, expMax(f) - 1));
  return fc
    .tuple(fc.boolean(), fc.integer({ min: a, max: b }), fraction(f))
    .map(([s, e, m]) => assemble(f, s, e, m));
}

function exponentOf(f: Fmt, bits: bigint): number {
  return Number((bits >> big(fracBits(f))) & big(expMax(f)));
}

/** Pairs for addition: unrelated, nearly cancelling, or exponents a few bits apart. */
export function addPair(f: Fmt): fc.Arbitrary<[bigint, bigint]> {
  const signBit = 1n << big(f.width - 1);
  const mask = (1n << big(f.width)) - 1n;
  return fc.oneof(
    { weight: 3, arbitrary: fc.tuple(floatBits(f), floatBits(f)) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(floatBits(f), fc.bigInt({ min: -4n, max: 4n }), fc.boolean())
        .map(([a, d, flip]): [bigint, bigint] => [a, ((a + d) & mask) ^ (flip ? signBit : 0n)]),
    },
    {
      weight: 3,
      arbitrary: fc
        .tuple(floatBits(f), fc.integer({ min: 0, max: f.p + 4 }), fraction(f), fc.boolean())
        .map(([a, k, m, s]): [bigint, bigint] => {
          const e = Math.max(0, exponentOf(f, a) - k);
          return [a, assemble(f, s, Math.min(e, expMax(f) - 1), m)];
        }),
    },
  );
}

/** Pairs whose exponents sum (mul) or differ (div) to around the limits. */
export function scalePair(f: Fmt, divide: boolean): fc.Arbitrary<[bigint, bigint]> {
  const bias = f.emax;
  // Target result exponents: near overflow, near the normal/subnormal boundary, near zero.
  const targets = [f.emax, f.emax + 1, f.emin, f.emin - 1, f.emin - f.p, f.emin - f.p - 1];
  return fc.oneof(
    { weight: 2, arbitrary: fc.tuple(floatBits(f), floatBits(f)) },
    {
      weight: 3,
      arbitrary: fc
        .tuple(
          fc.constantFrom(...targets),
          fc.integer({ min: -2, max: 2 }),
          fc.integer({ min: 1, max: expMax(f) - 1 }),
          fraction(f),
          fraction(f),
          fc.boolean(),
          fc.boolean(),
        )
        .map(([t, jitter, ea, ma, mb, sa, sb]): [bigint, bigint] => {
          // mul: (ea - bias) + (eb - bias) = t; div: (ea - bias) - (eb - bias) = t.
          const want = t + jitter;
          const eb = divide ? ea - bias - want + bias : want - (ea - bias) + bias;
          const clamped = Math.max(0, Math.min(expMax(f) - 1, eb));
          return [assemble(f, sa, ea, ma), assemble(f, sb, clamped, mb)];
        }),
    },
  );
}

/** Triples for fused multiply-add, c often close to -(a×b) so that the sum cancels. */
export function fmaTriple(f: Fmt): fc.Arbitrary<[bigint, bigint, bigint]> {
  const signBit = 1n << big(f.width - 1);
  const mask = (1n << big(f.width)) - 1n;
  return fc.oneof(
    { weight: 3, arbitrary: fc.tuple(floatBits(f), floatBits(f), floatBits(f)) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(scalePair(f, false), floatBits(f))
        .map(([[a, b], c]): [bigint, bigint, bigint] => [a, b, c]),
    },
    {
      weight: 4,
      arbitrary: fc
        .tuple(
          finiteInRange(f, 1, expMax(f) - 1),
          finiteInRange(f, 1, expMax(f) - 1),
          fc.bigInt({ min: -3n, max: 3n }),
          fc.constantFrom(0, 1, 2, 3), // RTZ/RDN/RUP products sit on either side of a×b
        )
        .map(([a, b, d, rm]): [bigint, bigint, bigint] => {
          const p = refMul(a, b, f, rm).bits;
          return [a, b, ((p + d) & mask) ^ signBit];
        }),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(floatBits(f), floatBits(f), fc.integer({ min: -f.p - 4, max: f.p + 4 }), fraction(f))
        .map(([a, b, k, m]): [bigint, bigint, bigint] => {
          // c at a chosen distance from the product's binade.
          const e = exponentOf(f, a) + exponentOf(f, b) - f.emax + k;
          return [a, b, assemble(f, k % 2 === 0, Math.max(0, Math.min(expMax(f) - 1, e)), m)];
        }),
    },
  );
}

/** 64-bit integers (as unsigned patterns) near the conversion limits, or random. */
export function int64Bits(): fc.Arbitrary<bigint> {
  const mask = (1n << 64n) - 1n;
  const anchors = [0n, 1n << 31n, 1n << 32n, 1n << 53n, 1n << 63n, 1n << 64n, 1n << 24n];
  return fc.oneof(
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.constantFrom(...anchors), fc.bigInt({ min: -300n, max: 300n }), fc.boolean())
        .map(([a, d, neg]) => ((neg ? -(a + d) : a + d) & mask) as bigint),
    },
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.integer({ min: 0, max: 63 }), fc.bigInt({ min: 0n, max: mask }), fc.boolean())
        .map(([k, v, neg]) => {
          const x = (v >> big(k)) | (1n << big(63 - k));
          return (neg ? -x : x) & mask;
        }),
    },
    { weight: 2, arbitrary: fc.bigInt({ min: 0n, max: mask }) },
    { weight: 1, arbitrary: fc.bigInt({ min: -(1n << 31n), max: 1n << 32n }).map((v) => v & mask) },
    {
      // Next to a midpoint between two binary32 (25 bits) or binary64 (54 bits) values, off
      // by a little that a first rounding to 53 bits may hide.
      weight: 3,
      arbitrary: fc
        .tuple(
          fc.constantFrom(25, 54),
          fc.bigInt({ min: 0n, max: (1n << 53n) - 1n }),
          fc.noBias(fc.integer({ min: 0, max: 39 })),
          fc.bigInt({ min: -3000n, max: 3000n }),
          fc.boolean(),
        )
        .map(([bits, v, shift, d, neg]) => {
          const m = ((v & ((1n << big(bits - 2)) - 1n)) | (1n << big(bits - 2))) * 2n + 1n;
          const x = (m << big(Math.min(shift, 64 - bits))) + d;
          return (neg ? -x : x) & mask;
        }),
    },
  );
}

/** Float patterns near the integer conversion limits, halves, and random. */
export function nearIntegerBits(f: Fmt): fc.Arbitrary<bigint> {
  const bias = f.emax;
  return fc.oneof(
    { weight: 2, arbitrary: floatBits(f) },
    {
      weight: 3,
      arbitrary: fc
        .tuple(
          fc.constantFrom(-1, 0, 1, 2, 23, 24, 30, 31, 32, 52, 53, 62, 63, 64, 65),
          fraction(f),
          fc.boolean(),
        )
        .map(([e, m, s]) => assemble(f, s, e + bias, m)),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.constantFrom(31, 32, 63, 64), fc.bigInt({ min: -3n, max: 3n }), fc.boolean())
        .map(([e, d, s]) => assemble(f, s, e + bias, 0n) + d),
    },
  );
}
