/** fclass: one case per bit of the mask, both formats, and an unboxed .s operand. */
import { describe, expect, it } from 'vitest';
import { fclass_d, fclass_s } from './classify.js';
import { D, S } from './test-support/reference.js';
import { runToX } from './test-support/run.js';

describe('fclass', () => {
  // [bit, binary32 example, binary64 example]
  const cases: [number, bigint, bigint][] = [
    [0, 0xff800000n, 0xfff0000000000000n], // -inf
    [1, 0xbf800000n, 0xbff0000000000000n], // negative normal
    [2, 0x807fffffn, 0x800fffffffffffffn], // negative subnormal
    [3, 0x80000000n, 0x8000000000000000n], // -0
    [4, 0x00000000n, 0x0000000000000000n], // +0
    [5, 0x00000001n, 0x0000000000000001n], // positive subnormal
    [6, 0x7f7fffffn, 0x7fefffffffffffffn], // positive normal
    [7, 0x7f800000n, 0x7ff0000000000000n], // +inf
    [8, 0x7f800001n, 0xfff0000000000001n], // signalling NaN
    [9, 0xffc00000n, 0x7ff8000000000000n], // quiet NaN
  ];
  for (const [bit, s, d] of cases) {
    it(`bit ${bit}`, () => {
      expect(runToX(fclass_s, S, [s])).toEqual({ bits: 1n << BigInt(bit), flags: 0 });
      expect(runToX(fclass_d, D, [d])).toEqual({ bits: 1n << BigInt(bit), flags: 0 });
    });
  }
  it('an unboxed .s operand is the canonical (quiet) NaN', () => {
    expect(runToX(fclass_s, D, [0x3ff0000000000000n])).toEqual({ bits: 1n << 9n, flags: 0 });
  });
});
