/**
 * The RISC-V F and D extensions' arithmetic, exact to IEEE 754-2008 and the unprivileged spec:
 * five rounding modes, fflags, single-rounding fused multiply-add, NaN boxing, canonical NaNs.
 * One function per instruction (loads and stores excepted: the CPU moves those bits itself),
 * operating on register numbers; `FP_OPS` finds them by assembler name. See README.md.
 *
 * - `regs.ts`: the register files (`FpRegs`, `createFpRegs`) and NaN boxing.
 * - `format.ts`: rounding modes, fflags bits, the two formats.
 * - `f32.ts`, `f64.ts`: add, sub, mul, div, sqrt. `fma.ts`: the fused multiply-adds.
 * - `convert.ts`: fcvt. `compare.ts`: feq/flt/fle, fmin/fmax. `sign.ts`: fsgnj*.
 * - `move.ts`: fmv between integer and f registers. `classify.ts`: fclass.
 * - Inside: `round.ts` (every rounding decision), `exact.ts` (the BigInt path), `eft.ts`
 *   (error-free transformations), `bits.ts`, `bigint.ts`.
 */
import { fclass_d, fclass_s } from './classify.js';
import {
  feq_d,
  feq_s,
  fle_d,
  fle_s,
  flt_d,
  flt_s,
  fmax_d,
  fmax_s,
  fmin_d,
  fmin_s,
} from './compare.js';
import {
  fcvt_d_l,
  fcvt_d_lu,
  fcvt_d_s,
  fcvt_d_w,
  fcvt_d_wu,
  fcvt_l_d,
  fcvt_l_s,
  fcvt_lu_d,
  fcvt_lu_s,
  fcvt_s_d,
  fcvt_s_l,
  fcvt_s_lu,
  fcvt_s_w,
  fcvt_s_wu,
  fcvt_w_d,
  fcvt_w_s,
  fcvt_wu_d,
  fcvt_wu_s,
} from './convert.js';
import { fadd_s, fdiv_s, fmul_s, fsqrt_s, fsub_s } from './f32.js';
import { fadd_d, fdiv_d, fmul_d, fsqrt_d, fsub_d } from './f64.js';
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
import { fmv_d_x, fmv_w_x, fmv_x_d, fmv_x_w } from './move.js';
import type { FpRegs } from './regs.js';
import { fsgnj_d, fsgnj_s, fsgnjn_d, fsgnjn_s, fsgnjx_d, fsgnjx_s } from './sign.js';

export { fclass_d, fclass_s } from './classify.js';
export {
  feq_d,
  feq_s,
  fle_d,
  fle_s,
  flt_d,
  flt_s,
  fmax_d,
  fmax_s,
  fmin_d,
  fmin_s,
} from './compare.js';
export {
  fcvt_d_l,
  fcvt_d_lu,
  fcvt_d_s,
  fcvt_d_w,
  fcvt_d_wu,
  fcvt_l_d,
  fcvt_l_s,
  fcvt_lu_d,
  fcvt_lu_s,
  fcvt_s_d,
  fcvt_s_l,
  fcvt_s_lu,
  fcvt_s_w,
  fcvt_s_wu,
  fcvt_w_d,
  fcvt_w_s,
  fcvt_wu_d,
  fcvt_wu_s,
} from './convert.js';
export { fadd_s, fdiv_s, fmul_s, fsqrt_s, fsub_s } from './f32.js';
export { fadd_d, fdiv_d, fmul_d, fsqrt_d, fsub_d } from './f64.js';
export {
  fmadd_d,
  fmadd_s,
  fmsub_d,
  fmsub_s,
  fnmadd_d,
  fnmadd_s,
  fnmsub_d,
  fnmsub_s,
} from './fma.js';
export { DZ, NV, NX, OF, RDN, RMM, RNE, RTZ, RUP, UF } from './format.js';
export { fmv_d_x, fmv_w_x, fmv_x_d, fmv_x_w } from './move.js';
export { createFpRegs, type FpRegs } from './regs.js';
export { fsgnj_d, fsgnj_s, fsgnjn_d, fsgnjn_s, fsgnjx_d, fsgnjx_s } from './sign.js';

/**
 * An FP instruction: the register file, then its operand fields in assembler order (rd, rs1,
 * rs2, rs3 as it has them), then rm for those that round. (`Function`, which the brief named,
 * is banned by the lint config; this is the precise type.)
 */
export type FpOp = (r: FpRegs, ...fields: number[]) => void;

/** Every RV64F and RV64D instruction but flw/fsw/fld/fsd, by assembler name with `.` -> `_`. */
export const FP_OPS: Readonly<Record<string, FpOp>> = Object.freeze({
  fmadd_s,
  fmsub_s,
  fnmsub_s,
  fnmadd_s,
  fadd_s,
  fsub_s,
  fmul_s,
  fdiv_s,
  fsqrt_s,
  fsgnj_s,
  fsgnjn_s,
  fsgnjx_s,
  fmin_s,
  fmax_s,
  fcvt_w_s,
  fcvt_wu_s,
  fmv_x_w,
  feq_s,
  flt_s,
  fle_s,
  fclass_s,
  fcvt_s_w,
  fcvt_s_wu,
  fmv_w_x,
  fcvt_l_s,
  fcvt_lu_s,
  fcvt_s_l,
  fcvt_s_lu,
  fmadd_d,
  fmsub_d,
  fnmsub_d,
  fnmadd_d,
  fadd_d,
  fsub_d,
  fmul_d,
  fdiv_d,
  fsqrt_d,
  fsgnj_d,
  fsgnjn_d,
  fsgnjx_d,
  fmin_d,
  fmax_d,
  fcvt_s_d,
  fcvt_d_s,
  feq_d,
  flt_d,
  fle_d,
  fclass_d,
  fcvt_w_d,
  fcvt_wu_d,
  fcvt_d_w,
  fcvt_d_wu,
  fcvt_l_d,
  fcvt_lu_d,
  fmv_x_d,
  fcvt_d_l,
  fcvt_d_lu,
  fmv_d_x,
});
