/**
 * fadd/fsub/fmul/fdiv/fsqrt.s against the reference model, on edge-biased operands in all five
 * rounding modes, and the NaN boxing of their operands.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fadd_s, fdiv_s, fmul_s, fsqrt_s, fsub_s } from './f32.js';
import { NX } from './format.js';
import { addPair, floatBits, scalePair } from './test-support/gen.js';
import { refAdd, refDiv, refMul, refSqrt, S } from './test-support/reference.js';
import { boxed, expectedF, freshRegs, runF, same } from './test-support/run.js';

const RM = fc.integer({ min: 0, max: 4 });
const RUNS = { numRuns: 3000 };
const SIGN = 1n << 31n;

describe('binary32 arithmetic against the reference', { timeout: 60_000 }, () => {
  it('fadd.s', () => {
    fc.assert(
      fc.property(addPair(S), RM, ([a, b], rm) => {
        same(runF(fadd_s, S, [a, b], rm), expectedF(S, refAdd(a, b, S, rm)));
      }),
      RUNS,
    );
  });
  it('fsub.s', () => {
    fc.assert(
      fc.property(addPair(S), RM, ([a, b], rm) => {
        same(runF(fsub_s, S, [a, b ^ SIGN], rm), expectedF(S, refAdd(a, b, S, rm)));
      }),
      RUNS,
    );
  });
  it('fmul.s', () => {
    fc.assert(
      fc.property(scalePair(S, false), RM, ([a, b], rm) => {
        same(runF(fmul_s, S, [a, b], rm), expectedF(S, refMul(a, b, S, rm)));
      }),
      RUNS,
    );
  });
  it('fdiv.s', () => {
    fc.assert(
      fc.property(scalePair(S, true), RM, ([a, b], rm) => {
        same(runF(fdiv_s, S, [a, b], rm), expectedF(S, refDiv(a, b, S, rm)));
      }),
      RUNS,
    );
  });
  it('fsqrt.s', () => {
    fc.assert(
      fc.property(floatBits(S), RM, (a, rm) => {
        same(runF(fsqrt_s, S, [a], rm), expectedF(S, refSqrt(a, S, rm)));
      }),
      RUNS,
    );
  });
});

describe('NaN boxing of binary32 operands', () => {
  it('an operand whose upper half is not all ones reads as the canonical NaN', () => {
    const r = freshRegs();
    r.f[1] = 1; // a binary64 1.0: not a boxed binary32
    r.fw[4] = 0x3f800000; // f2 = 1.0f but with the upper word...
    r.fw[5] = -2; // ...one bit short of all ones
    r.fw[6] = 0x3f800000; // f3 = 1.0f, boxed
    r.fw[7] = -1;
    fadd_s(r, 4, 3, 3, 0);
    expect(r.fw[8]).toBe(0x40000000); // 2.0f
    expect(r.fw[9]).toBe(-1);
    for (const rs of [1, 2]) {
      r.fflags = 0;
      fadd_s(r, 4, rs, 3, 0);
      expect([r.fw[8], r.fw[9], r.fflags]).toEqual([0x7fc00000, -1, 0]); // a quiet NaN: no NV
    }
  });
  it('every result is boxed, and an exact one raises nothing', () => {
    const r = freshRegs();
    r.fw[2] = 0x40400000; // f1 = 3.0f
    r.fw[3] = -1;
    fmul_s(r, 1, 1, 1, 0);
    expect([r.fw[2], r.fw[3], r.fflags]).toEqual([0x41100000, -1, 0]); // 9.0f in place
    fdiv_s(r, 2, 1, 1, 0);
    fsqrt_s(r, 3, 1, 0);
    expect([r.fw[4], r.fw[5], r.fw[6], r.fw[7], r.fflags]).toEqual([
      0x3f800000, -1, 0x40400000, -1, 0,
    ]);
    fdiv_s(r, 4, 3, 1, 0); // 3/9 is inexact
    expect(r.fflags).toBe(NX);
    expect(runF(fadd_s, S, [0x3f800000n, 0x3f800000n], 0).bits).toBe(boxed(0x40000000n));
  });
});
