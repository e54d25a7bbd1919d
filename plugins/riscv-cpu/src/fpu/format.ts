/**
 * The vocabulary shared by every FP file: RISC-V's rounding-mode and fflags encodings, the two
 * IEEE 754 binary formats (binary32 for F, binary64 for D), and the canonical NaNs.
 */

/** Rounding modes as `frm`/the instruction's rm field encode them (the CPU resolves DYN). */
export const RNE = 0; // to nearest, ties to even
export const RTZ = 1; // toward zero
export const RDN = 2; // toward -infinity
export const RUP = 3; // toward +infinity
export const RMM = 4; // to nearest, ties away from zero (max magnitude)

/** fflags bits. */
export const NV = 0x10; // invalid operation
export const DZ = 0x08; // divide by zero
export const OF = 0x04; // overflow
export const UF = 0x02; // underflow (tiny after rounding and inexact)
export const NX = 0x01; // inexact

/** Whatever accrues fflags: the register file, or a bare holder in tests. */
export interface FlagSink {
  fflags: number;
}

/** An IEEE 754 binary format, as the exact (BigInt) path needs it. */
export interface Format {
  /** Total width in bits. */
  readonly width: 32 | 64;
  /** Precision: significand bits including the hidden one. */
  readonly p: number;
  /** Exponent of the smallest normal (emin) and of the largest finite value (emax). */
  readonly emin: number;
  readonly emax: number;
  /** The canonical NaN's bit pattern. */
  readonly canonicalNaN: bigint;
}

export const F32: Format = { width: 32, p: 24, emin: -126, emax: 127, canonicalNaN: 0x7fc00000n };
export const F64: Format = {
  width: 64,
  p: 53,
  emin: -1022,
  emax: 1023,
  canonicalNaN: 0x7ff8000000000000n,
};

/** Canonical NaN words: binary32, and binary64's high word (its low word is 0). */
export const CANONICAL_NAN_S = 0x7fc00000;
export const CANONICAL_NAN_D_HI = 0x7ff80000;

/** Exact powers of two used as range limits by the fast paths. */
export const TWO_M1022 = 2 ** -1022; // smallest binary64 normal
export const TWO_M126 = 2 ** -126; // smallest binary32 normal
export const TWO_127 = 2 ** 127;
export const TWO_1023 = 2 ** 1023;
