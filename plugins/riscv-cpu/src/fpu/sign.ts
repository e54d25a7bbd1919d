/**
 * Sign injection: fsgnj (take rs2's sign), fsgnjn (its opposite), fsgnjx (xor the signs), .s
 * and .d. Bit operations on the patterns: no flags, NaN payloads kept (so fmv, fneg and fabs,
 * which assemble to these, move NaNs unchanged). A .s operand that is not NaN-boxed reads as
 * the canonical NaN, as for every non-transfer binary32 instruction.
 */
import { type FpRegs, readS, writeS } from './regs.js';

const SIGN = 0x80000000 | 0;

function sgnjS(r: FpRegs, rd: number, rs1: number, rs2: number, op: 0 | 1 | 2): void {
  const a = readS(r, rs1);
  const b = readS(r, rs2);
  const sign = op === 0 ? b & SIGN : op === 1 ? ~b & SIGN : (a ^ b) & SIGN;
  writeS(r, rd, (a & ~SIGN) | sign);
}

function sgnjD(r: FpRegs, rd: number, rs1: number, rs2: number, op: 0 | 1 | 2): void {
  const fw = r.fw;
  const lo = fw[2 * rs1]!;
  const a = fw[2 * rs1 + 1]!;
  const b = fw[2 * rs2 + 1]!;
  const sign = op === 0 ? b & SIGN : op === 1 ? ~b & SIGN : (a ^ b) & SIGN;
  fw[2 * rd] = lo;
  fw[2 * rd + 1] = (a & ~SIGN) | sign;
}

/** fsgnj.s */
export function fsgnj_s(r: FpRegs, rd: number, rs1: number, rs2: number): void {
  sgnjS(r, rd, rs1, rs2, 0);
}
/** fsgnjn.s */
export function fsgnjn_s(r: FpRegs, rd: number, rs1: number, rs2: number): void {
  sgnjS(r, rd, rs1, rs2, 1);
}
/** fsgnjx.s */
export function fsgnjx_s(r: FpRegs, rd: number, rs1: number, rs2: number): void {
  sgnjS(r, rd, rs1, rs2, 2);
}
/** fsgnj.d */
export function fsgnj_d(r: FpRegs, rd: number, rs1: number, rs2: number): void {
  sgnjD(r, rd, rs1, rs2, 0);
}
/** fsgnjn.d */
export function fsgnjn_d(r: FpRegs, rd: number, rs1: number, rs2: number): void {
  sgnjD(r, rd, rs1, rs2, 1);
}
/** fsgnjx.d */
export function fsgnjx_d(r: FpRegs, rd: number, rs1: number, rs2: number): void {
  sgnjD(r, rd, rs1, rs2, 2);
}
