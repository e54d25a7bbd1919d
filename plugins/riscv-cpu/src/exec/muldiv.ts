/** Builtins bound once: a global lookup in a `node:vm` context goes through its interceptors. */
const { abs, floor, imul, trunc } = Math;
/**
 * 64-bit multiplication and division on int32 halves, exactly, without BigInt on the common
 * paths. `h.ldHi` (the hart's scratch word) carries the high word of a 64-bit result where
 * a function returns the low word.
 */

/** The high 32 bits of the unsigned 64-bit product of two 32-bit words. */
export function mulhu32(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const p00 = a0 * b0;
  const mid = a1 * b0 + (p00 >>> 16);
  const mid2 = a0 * b1 + (mid & 0xffff);
  return (a1 * b1 + floor(mid / 65536) + floor(mid2 / 65536)) | 0;
}

/** Where a 128-bit product's words go: [w0, w1, w2, w3], least significant first. */
const words = new Int32Array(4);

/** Unsigned 64x64 -> 128 into `words`. */
function umul128(al: number, ah: number, bl: number, bh: number): void {
  // Schoolbook on 32-bit limbs; each partial product is split into its 32-bit halves.
  const ll_l = imul(al, bl);
  const ll_h = mulhu32(al, bl);
  const lh_l = imul(al, bh);
  const lh_h = mulhu32(al, bh);
  const hl_l = imul(ah, bl);
  const hl_h = mulhu32(ah, bl);
  const hh_l = imul(ah, bh);
  const hh_h = mulhu32(ah, bh);
  words[0] = ll_l;
  let s = (ll_h >>> 0) + (lh_l >>> 0) + (hl_l >>> 0);
  words[1] = s | 0;
  s = floor(s / 4294967296) + (lh_h >>> 0) + (hl_h >>> 0) + (hh_l >>> 0);
  words[2] = s | 0;
  words[3] = (floor(s / 4294967296) + (hh_h >>> 0)) | 0;
}

/**
 * The high 64 bits of a 128-bit product of (al, ah) and (bl, bh): `kind` 0 mulhu, 1 mulh
 * (both signed), 2 mulhsu (a signed, b unsigned). Returns the low word of the result; the
 * high word goes to `out.ldHi`.
 */
export function mul128(
  out: { ldHi: number },
  kind: number,
  al: number,
  ah: number,
  bl: number,
  bh: number,
): number {
  umul128(al, ah, bl, bh);
  let w2 = words[2]!;
  let w3 = words[3]!;
  // Signed corrections: for a negative a, the unsigned product counts a + 2^64, so subtract
  // b << 64; likewise for b.
  if (kind !== 0 && ah < 0) {
    const l = (w2 - bl) | 0;
    w3 = (w3 - bh - (w2 >>> 0 < bl >>> 0 ? 1 : 0)) | 0;
    w2 = l;
  }
  if (kind === 1 && bh < 0) {
    const l = (w2 - al) | 0;
    w3 = (w3 - ah - (w2 >>> 0 < al >>> 0 ? 1 : 0)) | 0;
    w2 = l;
  }
  out.ldHi = w3;
  return w2;
}

const TWO32 = 4294967296;

/**
 * 64-bit division and remainder with RISC-V's rules (no trap): x / 0 = -1 (all ones),
 * x % 0 = x; the signed overflow -2^63 / -1 = -2^63, remainder 0. `kind`: 0 div, 1 divu,
 * 2 rem, 3 remu. Returns the low word; the high word goes to `out.ldHi`.
 */
export function div64(
  out: { ldHi: number },
  kind: number,
  al: number,
  ah: number,
  bl: number,
  bh: number,
): number {
  const signed = kind === 0 || kind === 2;
  const rem = kind >= 2;
  if (bl === 0 && bh === 0) {
    if (rem) {
      out.ldHi = ah;
      return al;
    }
    out.ldHi = -1;
    return -1;
  }
  // Both operands exact as doubles, |a| < 2^53: the rounded quotient cannot cross an integer
  // (its error, |a/b| * 2^-53, is below 1/|b|, the least distance from a non-integer
  // quotient to an integer), so truncating it is the exact quotient, and q * b is exact.
  const a = signed ? ah * TWO32 + (al >>> 0) : (ah >>> 0) * TWO32 + (al >>> 0);
  const b = signed ? bh * TWO32 + (bl >>> 0) : (bh >>> 0) * TWO32 + (bl >>> 0);
  if (abs(a) < 2 ** 53 && abs(b) < 2 ** 53) {
    const q = trunc(a / b);
    const v = rem ? a - q * b : q;
    out.ldHi = floor(v / TWO32) | 0;
    return v | 0;
  }
  return divBig(out, signed, rem, al, ah, bl, bh);
}

function divBig(
  out: { ldHi: number },
  signed: boolean,
  rem: boolean,
  al: number,
  ah: number,
  bl: number,
  bh: number,
): number {
  const big = (l: number, h: number) => {
    const u = (BigInt(h >>> 0) << 32n) | BigInt(l >>> 0);
    return signed ? BigInt.asIntN(64, u) : u;
  };
  const a = big(al, ah);
  const b = big(bl, bh);
  let v: bigint;
  if (signed && a === -(2n ** 63n) && b === -1n) v = rem ? 0n : a;
  else v = rem ? a % b : a / b;
  const u = BigInt.asUintN(64, v);
  out.ldHi = Number(u >> 32n) | 0;
  return Number(u & 0xffffffffn) | 0;
}
