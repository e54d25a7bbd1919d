/**
 * feq/flt/fle and fmin/fmax: table-driven over the cases the spec singles out (NaNs of both
 * kinds, signed zeros, infinities, unboxed operands), plus the compares against the reference
 * on random operands.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  feq_d,
  feq_s,
  fle_d,
  fle_s,
  flt_d,
  flt_s,
  fmax_d,
  fmax_s,
  fmin_d,
  fmin_s,
} from './compare.js';
import { NV } from './format.js';
import type { FpOp } from './index.js';
import { floatBits } from './test-support/gen.js';
import { D, type Fmt, refCompare, S } from './test-support/reference.js';
import { boxed, freshRegs, runF, runToX, same } from './test-support/run.js';

const QNAN_S = 0x7fc00000n;
const SNAN_S = 0x7f800001n;
const QNAN_D = 0x7ff8000000000000n;
const SNAN_D = 0x7ff4000000000000n;
const ONE_S = 0x3f800000n;
const TWO_S = 0x40000000n;
const ONE_D = 0x3ff0000000000000n;
const NEG_ZERO_S = 0x80000000n;
const NEG_ZERO_D = 0x8000000000000000n;
const INF_D = 0x7ff0000000000000n;

describe('compares', { timeout: 60_000 }, () => {
  const compares: [string, FpOp, Fmt, 'eq' | 'lt' | 'le'][] = [
    ['feq.s', feq_s, S, 'eq'],
    ['flt.s', flt_s, S, 'lt'],
    ['fle.s', fle_s, S, 'le'],
    ['feq.d', feq_d, D, 'eq'],
    ['flt.d', flt_d, D, 'lt'],
    ['fle.d', fle_d, D, 'le'],
  ];
  for (const [name, op, f, kind] of compares) {
    it(`${name} against the reference`, () => {
      fc.assert(
        fc.property(floatBits(f), floatBits(f), (a, b) => {
          same(runToX(op, f, [a, b]), refCompare(a, b, f, kind));
        }),
        { numRuns: 600 },
      );
    });
  }
  // [instruction, format, a, b, result, flags]
  const cases: [string, FpOp, Fmt, bigint, bigint, bigint, number][] = [
    ['feq.s qNaN: quiet', feq_s, S, QNAN_S, ONE_S, 0n, 0],
    ['feq.s sNaN: NV', feq_s, S, ONE_S, SNAN_S, 0n, NV],
    ['flt.s qNaN: NV', flt_s, S, QNAN_S, ONE_S, 0n, NV],
    ['fle.s qNaN: NV', fle_s, S, ONE_S, QNAN_S, 0n, NV],
    ['feq.s -0 = +0', feq_s, S, NEG_ZERO_S, 0n, 1n, 0],
    ['flt.s -0 < +0 is false', flt_s, S, NEG_ZERO_S, 0n, 0n, 0],
    ['fle.s -0 <= +0', fle_s, S, NEG_ZERO_S, 0n, 1n, 0],
    ['feq.d qNaN: quiet', feq_d, D, QNAN_D, QNAN_D, 0n, 0],
    ['feq.d sNaN: NV', feq_d, D, SNAN_D, ONE_D, 0n, NV],
    ['flt.d qNaN: NV', flt_d, D, ONE_D, QNAN_D, 0n, NV],
    ['fle.d inf <= inf', fle_d, D, INF_D, INF_D, 1n, 0],
    ['flt.d -0 < +0 is false', flt_d, D, NEG_ZERO_D, 0n, 0n, 0],
  ];
  for (const [name, op, f, a, b, result, flags] of cases) {
    it(name, () => {
      expect(runToX(op, f, [a, b])).toEqual({ bits: result, flags });
    });
  }
  it('an unboxed .s operand compares as a quiet NaN', () => {
    expect(runToX(feq_s, D, [ONE_D, ONE_D])).toEqual({ bits: 0n, flags: 0 });
    expect(runToX(flt_s, D, [ONE_D, ONE_D])).toEqual({ bits: 0n, flags: NV });
  });
});

describe('fmin/fmax (2.2: -0 < +0, one NaN gives the other operand)', () => {
  // [instruction, format, a, b, result bits (unboxed), flags]
  const cases: [string, FpOp, Fmt, bigint, bigint, bigint, number][] = [
    ['fmin.s 1, 2', fmin_s, S, ONE_S, TWO_S, ONE_S, 0],
    ['fmax.s 1, 2', fmax_s, S, ONE_S, TWO_S, TWO_S, 0],
    ['fmin.s -0, +0', fmin_s, S, 0n, NEG_ZERO_S, NEG_ZERO_S, 0],
    ['fmax.s -0, +0', fmax_s, S, NEG_ZERO_S, 0n, 0n, 0],
    ['fmin.s qNaN, 1', fmin_s, S, QNAN_S, ONE_S, ONE_S, 0],
    ['fmax.s 1, sNaN', fmax_s, S, ONE_S, SNAN_S, ONE_S, NV],
    ['fmin.s qNaN, qNaN', fmin_s, S, 0x7fc01234n, QNAN_S, QNAN_S, 0],
    ['fmax.s sNaN, qNaN', fmax_s, S, SNAN_S, 0xffc00000n, QNAN_S, NV],
    ['fmin.d -0, +0', fmin_d, D, NEG_ZERO_D, 0n, NEG_ZERO_D, 0],
    ['fmax.d -0, +0', fmax_d, D, NEG_ZERO_D, 0n, 0n, 0],
    ['fmax.d +0, -0', fmax_d, D, 0n, NEG_ZERO_D, 0n, 0],
    ['fmin.d 1, qNaN', fmin_d, D, ONE_D, QNAN_D, ONE_D, 0],
    ['fmax.d sNaN, -inf', fmax_d, D, SNAN_D, INF_D | NEG_ZERO_D, INF_D | NEG_ZERO_D, NV],
    ['fmin.d qNaN, sNaN', fmin_d, D, 0x7ff8000000000001n, SNAN_D, QNAN_D, NV],
    ['fmin.d -inf, 1', fmin_d, D, INF_D | NEG_ZERO_D, ONE_D, INF_D | NEG_ZERO_D, 0],
  ];
  for (const [name, op, f, a, b, result, flags] of cases) {
    it(name, () => {
      const expected = f === S ? boxed(result) : result;
      expect(runF(op, f, [a, b])).toEqual({ bits: expected, flags });
    });
  }
  it('fmin.s reads an unboxed operand as a quiet NaN and returns the other', () => {
    const r = freshRegs();
    r.f[1] = 1; // binary64 1.0: not boxed
    r.fw[4] = 0x40000000; // f2 = 2.0f
    r.fw[5] = -1;
    fmin_s(r, 3, 1, 2);
    expect([r.fw[6], r.fw[7], r.fflags]).toEqual([0x40000000, -1, 0]);
  });
});
