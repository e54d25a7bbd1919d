/**
 * Bit-level views of JavaScript numbers as binary32 and binary64 values, through one 8-byte
 * scratch buffer (no allocation per call): bits to value and back, and the neighbouring
 * representable value (nextafter), which directed rounding steps to.
 *
 * The host is little-endian (checked by `createFpRegs`): word 0 is a binary64's low half.
 */

const scratch = new ArrayBuffer(8);
const asF64 = new Float64Array(scratch);
const asF32 = new Float32Array(scratch, 0, 1);
const asI32 = new Int32Array(scratch);

/** The binary32 value whose bit pattern is `bits` (a NaN pattern gives some NaN). */
export function f32FromBits(bits: number): number {
  asI32[0] = bits;
  return asF32[0]!;
}

/** The binary64 value of the words `lo`, `hi` (a NaN pattern gives some NaN). */
export function f64FromWords(lo: number, hi: number): number {
  asI32[0] = lo;
  asI32[1] = hi;
  return asF64[0]!;
}

/** The low word of `v`'s binary64 pattern (not meaningful for NaN). */
export function f64LowWord(v: number): number {
  asF64[0] = v;
  return asI32[0]!;
}

/**
 * The binary64 neighbour of the finite `v` toward +infinity (`up`) or -infinity. From ±0 it is
 * ±2^-1074; from ±MAX away from zero it is ±infinity.
 */
export function nextF64(v: number, up: boolean): number {
  if (v === 0) return up ? 5e-324 : -5e-324;
  asF64[0] = v;
  let lo = asI32[0]!;
  let hi = asI32[1]!;
  if (v > 0 === up) {
    // Away from zero: the magnitude's bit pattern grows by one.
    lo = (lo + 1) | 0;
    if (lo === 0) hi = (hi + 1) | 0;
  } else {
    if (lo === 0) hi = (hi - 1) | 0;
    lo = (lo - 1) | 0;
  }
  asI32[0] = lo;
  asI32[1] = hi;
  return asF64[0]!;
}

/** The binary32 neighbour of the finite binary32 value `v`, as `nextF64` does for binary64. */
export function nextF32(v: number, up: boolean): number {
  if (v === 0) return up ? 2 ** -149 : -(2 ** -149);
  asF32[0] = v;
  asI32[0] = v > 0 === up ? asI32[0]! + 1 : asI32[0]! - 1;
  return asF32[0]!;
}
