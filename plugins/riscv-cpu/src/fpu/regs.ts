/**
 * The register files the FP instructions read and write, and how values sit in them: the f
 * registers as 64-bit words, binary32 values NaN-boxed (upper 32 bits all ones), the integer
 * registers as pairs of int32 words.
 */
import { EmuhostError } from '@emuhost/sdk';
import { CANONICAL_NAN_D_HI, CANONICAL_NAN_S } from './format.js';

/** The register files the FP instructions read and write. */
export interface FpRegs {
  /** 32 f registers as doubles: aliases `fw` (same ArrayBuffer). */
  readonly f: Float64Array;
  /** The same 32 registers as 64 int32 words: fw[2*i] is the low word, fw[2*i+1] the high word. */
  readonly fw: Int32Array;
  /** The 32 integer registers as 64 int32 words: x[2*i] low, x[2*i+1] high. x0 must stay 0: never write rd=0. */
  readonly x: Int32Array;
  /** Accrued exception flags (fflags, 5 bits). Operations OR into it. */
  fflags: number;
}

/**
 * Fresh f registers (all +0.0, fflags 0) beside the CPU's integer registers `x` (64 words).
 * Throws `E_BAD_ARGUMENT` for an `x` of another length, or on a big-endian host, where `fw`'s
 * word order would not match the spec's low/high halves.
 */
export function createFpRegs(x: Int32Array): FpRegs {
  if (x.length < 64) {
    throw new EmuhostError(
      'E_BAD_ARGUMENT',
      `x must have at least 64 int32 words, got ${x.length}`,
    );
  }
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    throw new EmuhostError('E_BAD_ARGUMENT', 'the FP register file needs a little-endian host');
  }
  const buffer = new ArrayBuffer(32 * 8);
  const f = new Float64Array(buffer);
  const regs: WithView = {
    f,
    fw: new Int32Array(buffer),
    x,
    fflags: 0,
    f32: new Float32Array(buffer),
  };
  return regs;
}

/** createFpRegs' object also carries a binary32 view of the f registers (not part of FpRegs). */
interface WithView extends FpRegs {
  f32?: Float32Array;
}

/**
 * The f registers as 64 binary32 slots (slot 2*i is register i's low word), saving the binary32
 * fast paths a bit-pattern round trip. Made on first use for an FpRegs built elsewhere.
 */
function f32View(r: FpRegs): Float32Array {
  const w = r as WithView;
  if (w.f32 === undefined) w.f32 = new Float32Array(r.fw.buffer, r.fw.byteOffset, 64);
  return w.f32;
}

/** The value of f register `i` as a binary32 (in a double): NaN when not NaN-boxed. */
export function valueS(r: FpRegs, i: number): number {
  return r.fw[2 * i + 1] === -1 ? f32View(r)[2 * i]! : Number.NaN;
}

/** Writes the binary32 value `v` (exactly representable, not NaN) to f register `i`, boxed. */
export function writeValueS(r: FpRegs, i: number, v: number): void {
  f32View(r)[2 * i] = v;
  r.fw[2 * i + 1] = -1;
}

/** The binary32 bits of f register `i`: the canonical NaN unless it is properly NaN-boxed. */
export function readS(r: FpRegs, i: number): number {
  return r.fw[2 * i + 1] === -1 ? r.fw[2 * i]! : CANONICAL_NAN_S;
}

/** Writes binary32 `bits` to f register `i`, NaN-boxed. */
export function writeS(r: FpRegs, i: number, bits: number): void {
  r.fw[2 * i] = bits;
  r.fw[2 * i + 1] = -1;
}

/** Writes the binary64 canonical NaN to f register `i`. */
export function writeNaND(r: FpRegs, i: number): void {
  r.fw[2 * i] = 0;
  r.fw[2 * i + 1] = CANONICAL_NAN_D_HI;
}

/** The binary64 bits of f register `i` as a BigInt (the exact path's currency). */
export function readBitsD(r: FpRegs, i: number): bigint {
  return (BigInt(r.fw[2 * i + 1]! >>> 0) << 32n) | BigInt(r.fw[2 * i]! >>> 0);
}

/** Writes binary64 `bits` (a BigInt below 2^64) to f register `i`. */
export function writeBitsD(r: FpRegs, i: number, bits: bigint): void {
  r.fw[2 * i] = Number(bits & 0xffffffffn) | 0;
  r.fw[2 * i + 1] = Number(bits >> 32n) | 0;
}

/** Writes integer register `rd` (low and high words); x0 stays 0. */
export function writeX(r: FpRegs, rd: number, lo: number, hi: number): void {
  if (rd !== 0) {
    r.x[2 * rd] = lo;
    r.x[2 * rd + 1] = hi;
  }
}
