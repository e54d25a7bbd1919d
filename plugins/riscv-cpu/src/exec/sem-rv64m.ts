/**
 * RV64M: multiplication and division (unprivileged spec ch. 13). The 32-bit (W) forms use
 * JavaScript's exact int32 arithmetic; the 64-bit forms use `muldiv.ts` on halves.
 */

import type { Operands } from './operands.js';
import { hi, lo, put, putW, type Semantics } from './sem-base.js';

const alu = (f: (o: Operands) => string): Semantics => ({ gen: (o) => `{${f(o)}}` });
const args = (o: Operands) => `${lo(o.rs1)},${hi(o.rs1)},${lo(o.rs2)},${hi(o.rs2)}`;
const wide = (fn: 'MUL128' | 'DIV64', kind: number) =>
  alu((o) => `const l_=${fn}(h,${kind},${args(o)});${put(o.rd, 'l_', 'h.ldHi')}`);

export const RV64M: Readonly<Record<string, Semantics>> = {
  mul: alu(
    (o) =>
      `const a_=${lo(o.rs1)},b_=${lo(o.rs2)};` +
      `const h_=(MULHU32(a_,b_)+IMUL(a_,${hi(o.rs2)})+IMUL(${hi(o.rs1)},b_))|0;` +
      put(o.rd, 'IMUL(a_,b_)', 'h_'),
  ),
  mulhu: wide('MUL128', 0),
  mulh: wide('MUL128', 1),
  mulhsu: wide('MUL128', 2),
  div: wide('DIV64', 0),
  divu: wide('DIV64', 1),
  rem: wide('DIV64', 2),
  remu: wide('DIV64', 3),
  mulw: alu((o) => putW(o.rd, `IMUL(${lo(o.rs1)},${lo(o.rs2)})`)),
  // -2^31 / -1 overflows to -2^31 in `| 0`, and % gives -0, which `| 0` makes 0: both as
  // the spec says. Division by zero: quotient all ones, remainder the dividend.
  divw: alu((o) => `const b_=${lo(o.rs2)};${putW(o.rd, `b_===0?-1:(${lo(o.rs1)}/b_)|0`)}`),
  divuw: alu(
    (o) => `const b_=${lo(o.rs2)}>>>0;${putW(o.rd, `b_===0?-1:((${lo(o.rs1)}>>>0)/b_)|0`)}`,
  ),
  remw: alu(
    (o) => `const b_=${lo(o.rs2)};${putW(o.rd, `b_===0?${lo(o.rs1)}:(${lo(o.rs1)}%b_)|0`)}`,
  ),
  remuw: alu(
    (o) =>
      `const b_=${lo(o.rs2)}>>>0;${putW(o.rd, `b_===0?${lo(o.rs1)}:((${lo(o.rs1)}>>>0)%b_)|0`)}`,
  ),
};
