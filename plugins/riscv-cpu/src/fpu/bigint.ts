/**
 * The two BigInt helpers the exact path needs that the language lacks: bit length and integer
 * square root. Slow paths only.
 */

/** The number of bits of `n` > 0 (position of its leading one, plus one); 0 for 0. */
export function bitLength(n: bigint): number {
  if (n === 0n) return 0;
  const hex = n.toString(16);
  return (hex.length - 1) * 4 + (32 - Math.clz32(Number.parseInt(hex[0]!, 16)));
}

/** floor(sqrt(n)) for n >= 0, by Newton's iteration from a power of two above the root. */
export function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = 1n << BigInt((bitLength(n) + 1) >> 1);
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}
