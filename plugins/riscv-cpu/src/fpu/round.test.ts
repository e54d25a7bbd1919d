/**
 * The rounding helpers on their own: roundToIntegral against a BigInt model, the nextafter
 * steps, and roundPack's tininess after rounding at the boundary the spec cares about.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nextF32, nextF64 } from './bits.js';
import { F64, NX, RDN, RMM, RNE, RTZ, RUP, UF } from './format.js';
import { roundPack, roundToIntegral } from './round.js';

describe('roundToIntegral', () => {
  it('rounds halves by mode', () => {
    const table: [number, number[]][] = [
      // value, then RNE RTZ RDN RUP RMM
      [2.5, [2, 2, 2, 3, 3]],
      [3.5, [4, 3, 3, 4, 4]],
      [-2.5, [-2, -2, -3, -2, -3]],
      [-0.5, [-0, -0, -1, -0, -1]],
      [0.25, [0, 0, 0, 1, 0]],
      [2 ** 52 + 1, [2 ** 52 + 1, 2 ** 52 + 1, 2 ** 52 + 1, 2 ** 52 + 1, 2 ** 52 + 1]],
    ];
    for (const [v, byMode] of table) {
      expect([RNE, RTZ, RDN, RUP, RMM].map((rm) => roundToIntegral(v, rm))).toEqual(byMode);
    }
  });
  it("lands on an integer within one of the value, on the mode's side", () => {
    fc.assert(
      fc.property(
        fc.double({ noNaN: true, min: -1e17, max: 1e17 }),
        fc.integer({ min: 0, max: 4 }),
        (v, rm) => {
          const i = roundToIntegral(v, rm);
          expect(Number.isInteger(i)).toBe(true);
          expect(Math.abs(i - v)).toBeLessThanOrEqual(1);
          if (rm === RDN) expect(i <= v).toBe(true);
          if (rm === RUP) expect(i >= v).toBe(true);
          if (rm === RTZ) expect(Math.abs(i) <= Math.abs(v)).toBe(true);
          if (rm === RNE || rm === RMM) expect(Math.abs(i - v)).toBeLessThanOrEqual(0.5);
        },
      ),
    );
  });
});

describe('nextafter', () => {
  it('steps over zero, binades and to infinity', () => {
    expect(nextF64(0, true)).toBe(5e-324);
    expect(nextF64(-0, false)).toBe(-5e-324);
    expect(nextF64(5e-324, false)).toBe(0);
    expect(nextF64(1, false)).toBe(1 - 2 ** -53);
    expect(nextF64(1, true)).toBe(1 + 2 ** -52);
    expect(nextF64(-1, true)).toBe(-1 + 2 ** -53);
    expect(nextF64(Number.MAX_VALUE, true)).toBe(Number.POSITIVE_INFINITY);
    expect(nextF64(2 ** 32, false)).toBe(2 ** 32 - 2 ** -21);
    expect(nextF32(1, false)).toBe(1 - 2 ** -24);
    expect(nextF32(-1, false)).toBe(-1 - 2 ** -23);
    expect(nextF32(0, false)).toBe(-(2 ** -149));
  });
});

describe('roundPack tininess', () => {
  // Just below 2^-1022: sig = 2^54 - 1 at exp -1076 is (1 - 2^-54) × 2^-1022.
  const sig = (1n << 54n) - 1n;
  it('not tiny when the unbounded rounding reaches 2^-1022 (RNE)', () => {
    const st = { fflags: 0 };
    expect(roundPack(false, sig, -1076, F64, RNE, st)).toBe(1n << 52n); // 2^-1022
    expect(st.fflags).toBe(NX);
  });
  it('tiny when it does not (RTZ)', () => {
    const st = { fflags: 0 };
    expect(roundPack(false, sig, -1076, F64, RTZ, st)).toBe((1n << 52n) - 1n);
    expect(st.fflags).toBe(NX | UF);
  });
  it('tiny when rounding to the subnormal grid reaches 2^-1022 but 53 bits would not', () => {
    // (1 - 3×2^-55) × 2^-1022: 53-bit rounding stays below 2^-1022, the subnormal grid
    // (spacing 2^-1074 = 2^-52 of 2^-1022) rounds up to it.
    const st = { fflags: 0 };
    const v = (1n << 55n) - 3n;
    expect(roundPack(false, v, -1077, F64, RNE, st)).toBe(1n << 52n);
    expect(st.fflags).toBe(NX | UF);
  });
});
