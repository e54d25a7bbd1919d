/** Bit arithmetic on JavaScript numbers, valid over the whole safe-integer range. */

/**
 * Whether `n` is a power of two. `n & (n - 1)` sees only the low 32 bits, and
 * `Number.isInteger(Math.log2(n))` rounds near 2^53; rebuilding the power is exact.
 */
export function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}
