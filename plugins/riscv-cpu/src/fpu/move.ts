/**
 * Transfers between the integer and f registers, bits unchanged (NaN payloads kept): fmv.x.w
 * reads the low 32 bits whatever the upper ones hold (a transfer ignores boxing) and sign-
 * extends them; fmv.w.x NaN-boxes; fmv.x.d and fmv.d.x move all 64 bits.
 */
import { type FpRegs, writeS, writeX } from './regs.js';

/** fmv.x.w */
export function fmv_x_w(r: FpRegs, rd: number, rs1: number): void {
  const lo = r.fw[2 * rs1]!;
  writeX(r, rd, lo, lo >> 31);
}
/** fmv.w.x */
export function fmv_w_x(r: FpRegs, rd: number, rs1: number): void {
  writeS(r, rd, r.x[2 * rs1]!);
}
/** fmv.x.d */
export function fmv_x_d(r: FpRegs, rd: number, rs1: number): void {
  writeX(r, rd, r.fw[2 * rs1]!, r.fw[2 * rs1 + 1]!);
}
/** fmv.d.x */
export function fmv_d_x(r: FpRegs, rd: number, rs1: number): void {
  r.fw[2 * rd] = r.x[2 * rs1]!;
  r.fw[2 * rd + 1] = r.x[2 * rs1 + 1]!;
}
