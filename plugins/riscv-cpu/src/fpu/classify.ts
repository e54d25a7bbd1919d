/**
 * Classifying bit patterns: NaN and signalling-NaN tests (JavaScript does not keep a NaN's
 * payload, so these read bits), and fclass's ten-bit mask.
 */
import { type FpRegs, readS, writeX } from './regs.js';

/** Whether binary32 `bits` is a signalling NaN (quiet bit clear, fraction nonzero). */
export function isSignalingS(bits: number): boolean {
  return (bits & 0x7fc00000) === 0x7f800000 && (bits & 0x3fffff) !== 0;
}

/** Whether f register `i` holds a binary64 signalling NaN. */
export function isSignalingD(r: FpRegs, i: number): boolean {
  const hi = r.fw[2 * i + 1]!;
  return (hi & 0x7ff80000) === 0x7ff00000 && ((hi & 0x7ffff) !== 0 || r.fw[2 * i] !== 0);
}

/**
 * fclass's mask from sign, exponent-field state and fraction state: bit 0 -inf, 1 -normal,
 * 2 -subnormal, 3 -0, 4 +0, 5 +subnormal, 6 +normal, 7 +inf, 8 signalling NaN, 9 quiet NaN.
 */
function classMask(
  neg: boolean,
  expAllOnes: boolean,
  expZero: boolean,
  fracZero: boolean,
  quiet: boolean,
): number {
  if (expAllOnes) {
    if (!fracZero) return quiet ? 1 << 9 : 1 << 8;
    return neg ? 1 << 0 : 1 << 7;
  }
  if (expZero) {
    if (fracZero) return neg ? 1 << 3 : 1 << 4;
    return neg ? 1 << 2 : 1 << 5;
  }
  return neg ? 1 << 1 : 1 << 6;
}

/** fclass.s (an improperly boxed operand is the canonical NaN: a quiet NaN). */
export function fclass_s(r: FpRegs, rd: number, rs1: number): void {
  const bits = readS(r, rs1);
  const exp = bits & 0x7f800000;
  const mask = classMask(
    bits < 0,
    exp === 0x7f800000,
    exp === 0,
    (bits & 0x7fffff) === 0,
    (bits & 0x400000) !== 0,
  );
  writeX(r, rd, mask, 0);
}

/** fclass.d */
export function fclass_d(r: FpRegs, rd: number, rs1: number): void {
  const hi = r.fw[2 * rs1 + 1]!;
  const exp = hi & 0x7ff00000;
  const mask = classMask(
    hi < 0,
    exp === 0x7ff00000,
    exp === 0,
    (hi & 0xfffff) === 0 && r.fw[2 * rs1] === 0,
    (hi & 0x80000) !== 0,
  );
  writeX(r, rd, mask, 0);
}
