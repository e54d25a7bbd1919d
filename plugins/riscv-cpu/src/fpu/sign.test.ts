/** Sign injection: bit operations, payloads kept, no flags; .s operands unboxed first. */
import { describe, expect, it } from 'vitest';
import type { FpOp } from './index.js';
import { fsgnj_d, fsgnj_s, fsgnjn_d, fsgnjn_s, fsgnjx_d, fsgnjx_s } from './sign.js';
import { D, type Fmt, S } from './test-support/reference.js';
import { boxed, freshRegs, runF } from './test-support/run.js';

describe('fsgnj, fsgnjn, fsgnjx', () => {
  const SNAN_PAYLOAD_S = 0x7f812345n;
  const SNAN_PAYLOAD_D = 0x7ff0000012345678n;
  // [instruction, format, a, b, result (unboxed)]
  const cases: [string, FpOp, Fmt, bigint, bigint, bigint][] = [
    ["fsgnj.s takes b's sign", fsgnj_s, S, 0x3f800000n, 0x80000000n, 0xbf800000n],
    ['fsgnjn.s takes its opposite', fsgnjn_s, S, 0x3f800000n, 0x80000000n, 0x3f800000n],
    ['fsgnjx.s xors', fsgnjx_s, S, 0xbf800000n, 0x80000000n, 0x3f800000n],
    ['fsgnj.s keeps an sNaN payload', fsgnj_s, S, SNAN_PAYLOAD_S, 0x80000000n, 0xff812345n],
    ['fsgnjn.s = fneg of a NaN', fsgnjn_s, S, SNAN_PAYLOAD_S, SNAN_PAYLOAD_S, 0xff812345n],
    ["fsgnj.d takes b's sign", fsgnj_d, D, 0x3ff0000000000001n, 1n << 63n, 0xbff0000000000001n],
    ['fsgnjn.d', fsgnjn_d, D, 0xbff0000000000000n, 1n << 63n, 0x3ff0000000000000n],
    [
      'fsgnjx.d = fabs when a = b',
      fsgnjx_d,
      D,
      0xc000000000000000n,
      0xc000000000000000n,
      0x4000000000000000n,
    ],
    [
      'fsgnj.d keeps an sNaN payload',
      fsgnj_d,
      D,
      SNAN_PAYLOAD_D,
      1n << 63n,
      SNAN_PAYLOAD_D | (1n << 63n),
    ],
  ];
  for (const [name, op, f, a, b, result] of cases) {
    it(name, () => {
      expect(runF(op, f, [a, b])).toEqual({ bits: f === S ? boxed(result) : result, flags: 0 });
    });
  }
  it('fsgnj.s of an unboxed operand is the canonical NaN with the injected sign', () => {
    const r = freshRegs();
    r.f[1] = 1; // not boxed
    r.fw[4] = 0x80000000; // f2 = -0.0f
    r.fw[5] = -1;
    fsgnj_s(r, 3, 1, 2);
    expect([r.fw[6], r.fw[7]]).toEqual([0xffc00000 | 0, -1]);
  });
  it('works in place (rd = rs1 = rs2)', () => {
    const r = freshRegs();
    r.f[1] = -2;
    fsgnjx_d(r, 1, 1, 1);
    expect(r.f[1]).toBe(2);
  });
});
