/**
 * Error-free transformations: the exact rounding error of a binary64 operation, itself a
 * binary64. They let the fast paths learn whether JavaScript's round-to-nearest result is
 * exact and on which side the exact value lies, without leaving doubles.
 *
 * Two-sum (Knuth; inlined by the callers, six operations): for s = fl(a + b),
 * bv = s - a, err = (a - (s - bv)) + (b - bv) is exactly a + b - s, whatever the magnitudes,
 * as long as nothing overflows.
 */

/** 2^27 + 1: Veltkamp's constant, splitting a double into two halves of at most 26 bits. */
const SPLITTER = 134217729;

/**
 * a × b - p exactly, where p = fl(a × b) (Dekker's product). Exact when |a|, |b| < 2^996 (the
 * split does not overflow) and |p| >= 2^-900 (no partial product underflows, and the error is
 * a multiple of 2^-1074); callers check both.
 */
export function twoProductLow(a: number, b: number, p: number): number {
  let t = SPLITTER * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b);
  const bl = b - bh;
  return al * bl - (p - ah * bh - al * bh - ah * bl);
}
