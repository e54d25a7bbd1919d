/**
 * Running one FP instruction on operand bit patterns, the way the CPU will: operands in f1..f3
 * (binary32 ones NaN-boxed) or x6, the result read back from f4 or x5 with fflags. A binary32
 * result comes back as the whole 64-bit register, so an unboxed result fails the comparison
 * with `boxed(expected)`.
 */
import type { FpOp } from '../index.js';
import { createFpRegs, type FpRegs, readBitsD, writeBitsD } from '../regs.js';
import type { Fmt, Outcome } from './reference.js';

export function freshRegs(): FpRegs {
  return createFpRegs(new Int32Array(64));
}

/** binary32 bits as a 64-bit register holds them, NaN-boxed. */
export function boxed(bits: bigint): bigint {
  return 0xffffffff00000000n | bits;
}

/** Puts an operand of format f into f register i (boxing a binary32). */
export function setF(r: FpRegs, i: number, f: Fmt, bits: bigint): void {
  writeBitsD(r, i, f.width === 32 ? boxed(bits) : bits);
}

export function setX(r: FpRegs, i: number, bits: bigint): void {
  r.x[2 * i] = Number(bits & 0xffffffffn) | 0;
  r.x[2 * i + 1] = Number((bits >> 32n) & 0xffffffffn) | 0;
}

export function getX(r: FpRegs, i: number): bigint {
  return (BigInt(r.x[2 * i + 1]! >>> 0) << 32n) | BigInt(r.x[2 * i]! >>> 0);
}

/** The outcome the reference gives, as the register would hold it. */
export function expectedF(f: Fmt, o: Outcome): Outcome {
  return { bits: f.width === 32 ? boxed(o.bits) : o.bits, flags: o.flags };
}

/** Runs an f-to-f instruction with `operands` in f1.. and the rounding mode last (if any). */
export function runF(op: FpOp, f: Fmt, operands: bigint[], rm?: number): Outcome {
  const r = freshRegs();
  const regs = operands.map((bits, k) => {
    setF(r, k + 1, f, bits);
    return k + 1;
  });
  if (rm === undefined) op(r, 4, ...regs);
  else op(r, 4, ...regs, rm);
  return { bits: readBitsD(r, 4), flags: r.fflags };
}

/** Runs an f-to-x instruction (fcvt to an integer, compares, fclass, fmv.x.*). */
export function runToX(op: FpOp, f: Fmt, operands: bigint[], rm?: number): Outcome {
  const r = freshRegs();
  const regs = operands.map((bits, k) => {
    setF(r, k + 1, f, bits);
    return k + 1;
  });
  if (rm === undefined) op(r, 5, ...regs);
  else op(r, 5, ...regs, rm);
  return { bits: getX(r, 5), flags: r.fflags };
}

/** Runs an x-to-f instruction with the 64-bit `value` in x6. */
export function runFromX(op: FpOp, value: bigint, rm?: number): Outcome {
  const r = freshRegs();
  setX(r, 6, value);
  if (rm === undefined) op(r, 4, 6);
  else op(r, 4, 6, rm);
  return { bits: readBitsD(r, 4), flags: r.fflags };
}

/** A readable rendering of an outcome for failure messages. */
export function show(o: Outcome): string {
  return `bits 0x${o.bits.toString(16)} flags 0x${o.flags.toString(16)}`;
}

/** Throws, with both outcomes in hex, unless they are equal. */
export function same(actual: Outcome, expected: Outcome): void {
  if (actual.bits !== expected.bits || actual.flags !== expected.flags) {
    throw new Error(`got ${show(actual)}, expected ${show(expected)}`);
  }
}
