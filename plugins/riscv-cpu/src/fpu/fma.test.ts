/**
 * The fused multiply-adds against the reference model (a×b + c rounded once), all four sign
 * variants, .s and .d, every rounding mode; and cases where fusing visibly matters.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  fmadd_d,
  fmadd_s,
  fmsub_d,
  fmsub_s,
  fnmadd_d,
  fnmadd_s,
  fnmsub_d,
  fnmsub_s,
} from './fma.js';
import { NV, NX, RDN, RNE } from './format.js';
import type { FpOp } from './index.js';
import { fmaTriple } from './test-support/gen.js';
import { D, type Fmt, refFma, S } from './test-support/reference.js';
import { expectedF, freshRegs, runF, same } from './test-support/run.js';

const RM = fc.integer({ min: 0, max: 4 });

/** Each instruction with the sign flips that turn it into a plain a×b + c. */
const variants: [string, FpOp, FpOp, boolean, boolean][] = [
  ['fmadd', fmadd_s, fmadd_d, false, false],
  ['fmsub', fmsub_s, fmsub_d, false, true],
  ['fnmsub', fnmsub_s, fnmsub_d, true, false],
  ['fnmadd', fnmadd_s, fnmadd_d, true, true],
];

describe('fused multiply-add against the reference', { timeout: 60_000 }, () => {
  for (const [f, name] of [
    [S, 's'],
    [D, 'd'],
  ] as [Fmt, string][]) {
    const sign = 1n << BigInt(f.width - 1);
    for (const [base, opS, opD, negP, negC] of variants) {
      const op = f === S ? opS : opD;
      const runs = base === 'fmadd' ? 2500 : 500;
      it(`${base}.${name}`, () => {
        fc.assert(
          fc.property(fmaTriple(f), RM, ([a, b, c], rm) => {
            const expected = refFma(negP ? a ^ sign : a, b, negC ? c ^ sign : c, f, rm);
            same(runF(op, f, [a, b, c], rm), expectedF(f, expected));
          }),
          { numRuns: runs },
        );
      });
    }
  }
});

describe("fmadd.d where the fast path's s + t is a midpoint that its last error term decides", () => {
  // Found by the property above with that branch disabled; checked in all five modes.
  const triples: [bigint, bigint, bigint][] = [
    [5386305154335113214n, 3n, 1n],
    [13828302655841107968n, 13117791300958381838n, 9227875636482146304n],
    [9007199254740990n, 14377741810380308480n, 1n],
    [10290725148541583408n, 13317566310599622656n, 9227875636482146304n],
    [9378746223999057920n, 5008002785635991555n, 9223372036854775809n],
    [9007199254740991n, 5156621573339217919n, 9781818390648717311n],
    [5156903048315928576n, 9231561531265209028n, 9534120411143340033n],
  ];
  for (const [a, b, c] of triples) {
    it(`0x${a.toString(16)} × 0x${b.toString(16)} + 0x${c.toString(16)}`, () => {
      for (let rm = 0; rm < 5; rm++) {
        same(runF(fmadd_d, D, [a, b, c], rm), expectedF(D, refFma(a, b, c, D, rm)));
      }
    });
  }
});

describe('fusing', () => {
  it('keeps the residual a×b + c that a*b+c in JavaScript loses', () => {
    // a = 1 + 2^-30, a² = 1 + 2^-29 + 2^-60: the 2^-60 is below binary64's ulp of 1.
    const a = 1 + 2 ** -30;
    const c = -(1 + 2 ** -29);
    expect(a * a + c).toBe(0);
    const r = freshRegs();
    r.f[1] = a;
    r.f[2] = c;
    fmadd_d(r, 3, 1, 1, 2, RNE);
    expect(r.f[3]).toBe(2 ** -60);
    expect(r.fflags).toBe(0); // exact
  });
  it('rounds once where a*b+c rounds twice', () => {
    // a×b = 1 + 3×2^-27 + 2^-53 is a midpoint, which JavaScript's a*b ties to even (down);
    // adding a tiny c then stays down, while the fused sum is just above the midpoint: up.
    const a = 1 + 2 ** -27;
    const b = 1 + 2 ** -26;
    const c = 2 ** -80;
    const below = 1 + 3 * 2 ** -27;
    expect(a * b + c).toBe(below);
    const r = freshRegs();
    r.f[1] = a;
    r.f[2] = b;
    r.f[3] = c;
    fmadd_d(r, 4, 1, 2, 3, RNE);
    expect(r.f[4]).toBe(below + 2 ** -52);
    expect(r.fflags).toBe(NX);
  });
  it('raises NV for 0 × inf even when the addend is a quiet NaN', () => {
    const r = freshRegs();
    r.f[1] = 0;
    r.f[2] = Number.POSITIVE_INFINITY;
    r.fw[6] = 0;
    r.fw[7] = 0x7ff80000; // quiet NaN
    fmadd_d(r, 4, 1, 2, 3, RNE);
    expect([r.fw[8], r.fw[9], r.fflags]).toEqual([0, 0x7ff80000, NV]);
  });
  it('gives -0 for an exactly cancelling sum when rounding down', () => {
    const r = freshRegs();
    r.f[1] = 3;
    r.f[2] = 5;
    r.f[3] = 15;
    fmsub_d(r, 4, 1, 2, 3, RDN);
    expect(Object.is(r.f[4], -0)).toBe(true);
    fmsub_d(r, 4, 1, 2, 3, RNE);
    expect(Object.is(r.f[4], 0)).toBe(true);
  });
});
