/**
 * fcvt against the reference model (every direction, every mode, edge-biased operands), and
 * the spec's saturation table case by case.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  fcvt_d_l,
  fcvt_d_lu,
  fcvt_d_s,
  fcvt_d_w,
  fcvt_d_wu,
  fcvt_l_d,
  fcvt_l_s,
  fcvt_lu_d,
  fcvt_lu_s,
  fcvt_s_d,
  fcvt_s_l,
  fcvt_s_lu,
  fcvt_s_w,
  fcvt_s_wu,
  fcvt_w_d,
  fcvt_w_s,
  fcvt_wu_d,
  fcvt_wu_s,
} from './convert.js';
import { NV, NX, RDN, RMM, RNE, RTZ, RUP } from './format.js';
import type { FpOp } from './index.js';
import { floatBits, int64Bits, nearIntegerBits } from './test-support/gen.js';
import {
  D,
  type Fmt,
  type IntKind,
  refConvert,
  refFromInt,
  refToInt,
  S,
} from './test-support/reference.js';
import { expectedF, runF, runFromX, runToX, same } from './test-support/run.js';

const RM = fc.integer({ min: 0, max: 4 });
const RUNS = { numRuns: 1000 };

const toInt: [string, FpOp, Fmt, IntKind][] = [
  ['fcvt.w.s', fcvt_w_s, S, 'w'],
  ['fcvt.wu.s', fcvt_wu_s, S, 'wu'],
  ['fcvt.l.s', fcvt_l_s, S, 'l'],
  ['fcvt.lu.s', fcvt_lu_s, S, 'lu'],
  ['fcvt.w.d', fcvt_w_d, D, 'w'],
  ['fcvt.wu.d', fcvt_wu_d, D, 'wu'],
  ['fcvt.l.d', fcvt_l_d, D, 'l'],
  ['fcvt.lu.d', fcvt_lu_d, D, 'lu'],
];

/** Integer operand: how the instruction reads x[rs1] (w: low 32 bits signed, ...). */
function operandValue(bits: bigint, kind: IntKind): bigint {
  const lo = bits & 0xffffffffn;
  switch (kind) {
    case 'w':
      return lo >= 1n << 31n ? lo - (1n << 32n) : lo;
    case 'wu':
      return lo;
    case 'l':
      return bits >= 1n << 63n ? bits - (1n << 64n) : bits;
    default:
      return bits;
  }
}

const fromInt: [string, FpOp, Fmt, IntKind][] = [
  ['fcvt.s.w', fcvt_s_w, S, 'w'],
  ['fcvt.s.wu', fcvt_s_wu, S, 'wu'],
  ['fcvt.s.l', fcvt_s_l, S, 'l'],
  ['fcvt.s.lu', fcvt_s_lu, S, 'lu'],
  ['fcvt.d.w', fcvt_d_w, D, 'w'],
  ['fcvt.d.wu', fcvt_d_wu, D, 'wu'],
  ['fcvt.d.l', fcvt_d_l, D, 'l'],
  ['fcvt.d.lu', fcvt_d_lu, D, 'lu'],
];

describe('fcvt against the reference', { timeout: 60_000 }, () => {
  for (const [name, op, f, kind] of toInt) {
    it(name, () => {
      fc.assert(
        fc.property(nearIntegerBits(f), RM, (a, rm) => {
          same(runToX(op, f, [a], rm), refToInt(a, f, kind, rm));
        }),
        RUNS,
      );
    });
  }
  for (const [name, op, f, kind] of fromInt) {
    it(name, () => {
      fc.assert(
        fc.property(int64Bits(), RM, (v, rm) => {
          same(runFromX(op, v, rm), expectedF(f, refFromInt(operandValue(v, kind), f, rm)));
        }),
        RUNS,
      );
    });
  }
  it('fcvt.s.d', () => {
    fc.assert(
      fc.property(floatBits(D), RM, (a, rm) => {
        same(runF(fcvt_s_d, D, [a], rm), expectedF(S, refConvert(a, D, S, rm)));
      }),
      { numRuns: 3000 },
    );
  });
  it('fcvt.d.s', () => {
    fc.assert(
      fc.property(floatBits(S), RM, (a, rm) => {
        same(runF(fcvt_d_s, S, [a], rm), expectedF(D, refConvert(a, S, D, rm)));
      }),
      RUNS,
    );
  });
});

/** A binary64 value's bits. */
function d(v: number): bigint {
  const b = new DataView(new ArrayBuffer(8));
  b.setFloat64(0, v);
  return b.getBigUint64(0);
}
const QNAN_D = 0x7ff8000000000000n;
const SNAN_D = 0x7ff0000000000001n;
const ONES = 0xffffffffffffffffn;
const INT_MIN_W = 0xffffffff80000000n;

describe("fcvt saturation (the spec's table) and rounding", () => {
  // [instruction, input, rm, register result, flags]
  const cases: [string, FpOp, bigint, number, bigint, number][] = [
    ['w NaN', fcvt_w_d, QNAN_D, RNE, 0x7fffffffn, NV],
    ['w sNaN', fcvt_w_d, SNAN_D, RNE, 0x7fffffffn, NV],
    ['w +inf', fcvt_w_d, d(Number.POSITIVE_INFINITY), RNE, 0x7fffffffn, NV],
    ['w -inf', fcvt_w_d, d(Number.NEGATIVE_INFINITY), RNE, INT_MIN_W, NV],
    ['w 2^31', fcvt_w_d, d(2 ** 31), RTZ, 0x7fffffffn, NV],
    ['w 2^31 - 0.5 RNE', fcvt_w_d, d(2 ** 31 - 0.5), RNE, 0x7fffffffn, NV],
    ['w 2^31 - 0.5 RTZ', fcvt_w_d, d(2 ** 31 - 0.5), RTZ, 0x7fffffffn, NX],
    ['w -2^31 - 0.5 RUP', fcvt_w_d, d(-(2 ** 31) - 0.5), RUP, INT_MIN_W, NX],
    ['w -2^31 - 0.5 RDN', fcvt_w_d, d(-(2 ** 31) - 0.5), RDN, INT_MIN_W, NV],
    ['w -2^31 - 1', fcvt_w_d, d(-(2 ** 31) - 1), RTZ, INT_MIN_W, NV],
    ['w -1.5 RNE', fcvt_w_d, d(-1.5), RNE, ONES - 1n, NX],
    ['w 2.5 RNE', fcvt_w_d, d(2.5), RNE, 2n, NX],
    ['w 2.5 RMM', fcvt_w_d, d(2.5), RMM, 3n, NX],
    ['w -2.5 RMM', fcvt_w_d, d(-2.5), RMM, ONES - 2n, NX],
    ['w -0.5 RUP (to -0)', fcvt_w_d, d(-0.5), RUP, 0n, NX],
    ['w -0', fcvt_w_d, d(-0), RNE, 0n, 0],
    ['wu NaN', fcvt_wu_d, QNAN_D, RNE, ONES, NV],
    ['wu +inf', fcvt_wu_d, d(Number.POSITIVE_INFINITY), RNE, ONES, NV],
    ['wu -inf', fcvt_wu_d, d(Number.NEGATIVE_INFINITY), RNE, 0n, NV],
    ['wu 2^32', fcvt_wu_d, d(2 ** 32), RNE, ONES, NV],
    ['wu 2^32 - 1 (sign-extended)', fcvt_wu_d, d(2 ** 32 - 1), RNE, ONES, 0],
    ['wu 3e9 (sign-extended)', fcvt_wu_d, d(3e9), RNE, 0xffffffffb2d05e00n, 0],
    ['wu -1', fcvt_wu_d, d(-1), RNE, 0n, NV],
    ['wu -0.25 RTZ', fcvt_wu_d, d(-0.25), RTZ, 0n, NX],
    ['wu -0.75 RNE', fcvt_wu_d, d(-0.75), RNE, 0n, NV],
    ['l NaN', fcvt_l_d, QNAN_D, RNE, 0x7fffffffffffffffn, NV],
    ['l 2^63', fcvt_l_d, d(2 ** 63), RNE, 0x7fffffffffffffffn, NV],
    ['l -2^63', fcvt_l_d, d(-(2 ** 63)), RNE, 0x8000000000000000n, 0],
    ['l -inf', fcvt_l_d, d(Number.NEGATIVE_INFINITY), RNE, 0x8000000000000000n, NV],
    ['l 2^63 - 1024', fcvt_l_d, d(2 ** 63 - 1024), RNE, 0x7ffffffffffffc00n, 0],
    ['lu NaN', fcvt_lu_d, QNAN_D, RNE, ONES, NV],
    ['lu 2^64', fcvt_lu_d, d(2 ** 64), RNE, ONES, NV],
    ['lu -1', fcvt_lu_d, d(-1), RNE, 0n, NV],
    ['lu 2^64 - 2048', fcvt_lu_d, d(2 ** 64 - 2048), RNE, 0xfffffffffffff800n, 0],
  ];
  for (const [name, op, input, rm, result, flags] of cases) {
    it(name, () => {
      expect(runToX(op, D, [input], rm)).toEqual({ bits: result, flags });
    });
  }
  it('fcvt.w.s reads an unboxed operand as NaN', () => {
    expect(runToX(fcvt_w_s, D, [d(1)], RNE)).toEqual({ bits: 0x7fffffffn, flags: NV });
  });
  it('fcvt.d.s and fcvt.s.d turn NaNs canonical, NV only for signalling ones', () => {
    expect(runF(fcvt_d_s, S, [0x7f800001n], RNE)).toEqual({ bits: QNAN_D, flags: NV });
    expect(runF(fcvt_d_s, S, [0xffc00001n], RNE)).toEqual({ bits: QNAN_D, flags: 0 });
    expect(runF(fcvt_s_d, D, [SNAN_D], RNE)).toEqual({ bits: 0xffffffff7fc00000n, flags: NV });
    expect(runF(fcvt_s_d, D, [0xfff8000000000123n], RNE)).toEqual({
      bits: 0xffffffff7fc00000n,
      flags: 0,
    });
  });
});
