/**
 * The exact path on its own against the reference model: the instruction tests reach it only
 * where the fast paths decline, so here it sees every kind of operand, in both formats.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import * as exact from './exact.js';
import { F32, F64, type Format } from './format.js';
import { addPair, floatBits, fmaTriple, scalePair } from './test-support/gen.js';
import {
  D,
  type Fmt,
  type Outcome,
  refAdd,
  refConvert,
  refDiv,
  refFma,
  refMul,
  refSqrt,
  S,
} from './test-support/reference.js';
import { same } from './test-support/run.js';

const RM = fc.integer({ min: 0, max: 4 });
const RUNS = { numRuns: 1000 };

function run(op: (st: { fflags: number }) => bigint): Outcome {
  const st = { fflags: 0 };
  const bits = op(st);
  return { bits, flags: st.fflags };
}

describe('the exact path against the reference', { timeout: 60_000 }, () => {
  for (const [f, fmt, name] of [
    [S, F32, 'binary32'],
    [D, F64, 'binary64'],
  ] as [Fmt, Format, string][]) {
    it(`add (${name})`, () => {
      fc.assert(
        fc.property(addPair(f), RM, ([a, b], rm) => {
          same(
            run((st) => exact.add(a, b, fmt, rm, st)),
            refAdd(a, b, f, rm),
          );
        }),
        RUNS,
      );
    });
    it(`mul (${name})`, () => {
      fc.assert(
        fc.property(scalePair(f, false), RM, ([a, b], rm) => {
          same(
            run((st) => exact.mul(a, b, fmt, rm, st)),
            refMul(a, b, f, rm),
          );
        }),
        RUNS,
      );
    });
    it(`div (${name})`, () => {
      fc.assert(
        fc.property(scalePair(f, true), RM, ([a, b], rm) => {
          same(
            run((st) => exact.div(a, b, fmt, rm, st)),
            refDiv(a, b, f, rm),
          );
        }),
        RUNS,
      );
    });
    it(`sqrt (${name})`, () => {
      fc.assert(
        fc.property(floatBits(f), RM, (a, rm) => {
          same(
            run((st) => exact.sqrt(a, fmt, rm, st)),
            refSqrt(a, f, rm),
          );
        }),
        RUNS,
      );
    });
    it(`fma (${name})`, () => {
      fc.assert(
        fc.property(fmaTriple(f), RM, ([a, b, c], rm) => {
          same(
            run((st) => exact.fma(a, b, c, fmt, rm, st)),
            refFma(a, b, c, f, rm),
          );
        }),
        RUNS,
      );
    });
  }
  it('convert binary64 -> binary32 -> binary64', () => {
    fc.assert(
      fc.property(floatBits(D), floatBits(S), RM, (a, b, rm) => {
        same(
          run((st) => exact.convert(a, F64, F32, rm, st)),
          refConvert(a, D, S, rm),
        );
        same(
          run((st) => exact.convert(b, F32, F64, rm, st)),
          refConvert(b, S, D, rm),
        );
      }),
      RUNS,
    );
  });
});
