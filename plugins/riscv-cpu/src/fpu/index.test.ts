/** The table of contents: FP_OPS names every RV64F/RV64D instruction but the loads/stores. */
import { describe, expect, it } from 'vitest';
import * as fpu from './index.js';

// The unprivileged spec's RV32F/RV64F and RV32D/RV64D listings, minus flw/fsw/fld/fsd.
const F = `fmadd.s fmsub.s fnmsub.s fnmadd.s fadd.s fsub.s fmul.s fdiv.s fsqrt.s fsgnj.s fsgnjn.s
  fsgnjx.s fmin.s fmax.s fcvt.w.s fcvt.wu.s fmv.x.w feq.s flt.s fle.s fclass.s fcvt.s.w
  fcvt.s.wu fmv.w.x fcvt.l.s fcvt.lu.s fcvt.s.l fcvt.s.lu`;
const D = `fmadd.d fmsub.d fnmsub.d fnmadd.d fadd.d fsub.d fmul.d fdiv.d fsqrt.d fsgnj.d fsgnjn.d
  fsgnjx.d fmin.d fmax.d fcvt.s.d fcvt.d.s feq.d flt.d fle.d fclass.d fcvt.w.d fcvt.wu.d
  fcvt.d.w fcvt.d.wu fcvt.l.d fcvt.lu.d fmv.x.d fcvt.d.l fcvt.d.lu fmv.d.x`;

describe('FP_OPS', () => {
  const names = `${F} ${D}`.split(/\s+/).map((n) => n.replaceAll('.', '_'));
  it('has exactly the 58 instructions, each the exported function of that name', () => {
    expect(names).toHaveLength(58);
    expect(Object.keys(fpu.FP_OPS).sort()).toEqual([...names].sort());
    const exports = fpu as unknown as Record<string, unknown>;
    for (const name of names) expect(fpu.FP_OPS[name]).toBe(exports[name]);
  });
  it('is frozen', () => {
    expect(Object.isFrozen(fpu.FP_OPS)).toBe(true);
  });
  it('runs an instruction looked up by name', () => {
    const r = fpu.createFpRegs(new Int32Array(64));
    r.f[1] = 1;
    r.f[2] = 3;
    fpu.FP_OPS.fdiv_d!(r, 3, 1, 2, fpu.RUP);
    expect(r.f[3]).toBe(1 / 3 + 2 ** -54);
    expect(r.fflags).toBe(fpu.NX);
  });
});
