/** fmv: bits unchanged, fmv.x.w sign-extends and ignores boxing, fmv.w.x boxes, x0 stays 0. */
import { describe, expect, it } from 'vitest';
import { fmv_d_x, fmv_w_x, fmv_x_d, fmv_x_w } from './move.js';
import { freshRegs, getX, setX } from './test-support/run.js';

describe('fmv', () => {
  it('fmv.x.w sign-extends the low 32 bits, boxed or not, payloads kept', () => {
    const r = freshRegs();
    r.fw[2] = 0xff812345 | 0; // f1: a negative sNaN pattern, upper half not boxed
    r.fw[3] = 0x12345678;
    fmv_x_w(r, 5, 1);
    expect(getX(r, 5)).toBe(0xffffffffff812345n);
    r.fw[2] = 0x3f800000;
    fmv_x_w(r, 5, 1);
    expect(getX(r, 5)).toBe(0x3f800000n);
  });
  it('fmv.w.x boxes the low 32 bits', () => {
    const r = freshRegs();
    setX(r, 6, 0x123456787f800001n);
    fmv_w_x(r, 2, 6);
    expect([r.fw[4], r.fw[5]]).toEqual([0x7f800001, -1]);
  });
  it('fmv.x.d and fmv.d.x move 64 bits unchanged', () => {
    const r = freshRegs();
    setX(r, 6, 0x7ff0000000000001n); // a signalling NaN
    fmv_d_x(r, 3, 6);
    fmv_x_d(r, 7, 3);
    expect(getX(r, 7)).toBe(0x7ff0000000000001n);
  });
  it('never writes x0', () => {
    const r = freshRegs();
    r.f[1] = -1;
    fmv_x_d(r, 0, 1);
    fmv_x_w(r, 0, 1);
    expect(getX(r, 0)).toBe(0n);
  });
});
