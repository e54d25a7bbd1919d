/**
 * fadd/fsub/fmul/fdiv/fsqrt.d against the reference model, on edge-biased operands in all five
 * rounding modes (fast and exact paths alike: the generators reach both).
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { fadd_d, fdiv_d, fmul_d, fsqrt_d, fsub_d } from './f64.js';
import { addPair, floatBits, scalePair } from './test-support/gen.js';
import { D, refAdd, refDiv, refMul, refSqrt } from './test-support/reference.js';
import { expectedF, runF, same } from './test-support/run.js';

const RM = fc.integer({ min: 0, max: 4 });
const RUNS = { numRuns: 3000 };
const SIGN = 1n << 63n;

describe('binary64 arithmetic against the reference', { timeout: 60_000 }, () => {
  it('fadd.d', () => {
    fc.assert(
      fc.property(addPair(D), RM, ([a, b], rm) => {
        same(runF(fadd_d, D, [a, b], rm), expectedF(D, refAdd(a, b, D, rm)));
      }),
      RUNS,
    );
  });
  it('fsub.d', () => {
    fc.assert(
      fc.property(addPair(D), RM, ([a, b], rm) => {
        same(runF(fsub_d, D, [a, b ^ SIGN], rm), expectedF(D, refAdd(a, b, D, rm)));
      }),
      RUNS,
    );
  });
  it('fmul.d', () => {
    fc.assert(
      fc.property(scalePair(D, false), RM, ([a, b], rm) => {
        same(runF(fmul_d, D, [a, b], rm), expectedF(D, refMul(a, b, D, rm)));
      }),
      RUNS,
    );
  });
  it('fdiv.d', () => {
    fc.assert(
      fc.property(scalePair(D, true), RM, ([a, b], rm) => {
        same(runF(fdiv_d, D, [a, b], rm), expectedF(D, refDiv(a, b, D, rm)));
      }),
      RUNS,
    );
  });
  it('fsqrt.d', () => {
    fc.assert(
      fc.property(floatBits(D), RM, (a, rm) => {
        same(runF(fsqrt_d, D, [a], rm), expectedF(D, refSqrt(a, D, rm)));
      }),
      RUNS,
    );
  });
});
