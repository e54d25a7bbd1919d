/**
 * RV64A: load-reserved/store-conditional and the AMOs (unprivileged spec ch. 14), through the
 * helpers `LR`, `SC` and `AMO` (memops.ts): atomics are rare enough to take the slow path, and
 * it is where the reservation and the page watch that guards it live.
 */
import { hi, lo, put, putW, retiredSoFar, type Semantics } from './sem-base.js';

/** AMO operation codes, as `AMO` takes them. */
export const AMO_OPS = {
  amoswap: 0,
  amoadd: 1,
  amoxor: 2,
  amoand: 3,
  amoor: 4,
  amomin: 5,
  amomax: 6,
  amominu: 7,
  amomaxu: 8,
} as const;

const result = (rd: string, size: 4 | 8, v: string) =>
  size === 4 ? putW(rd, v) : put(rd, v, 'h.ldHi');

function amo(op: number, size: 4 | 8): Semantics {
  return {
    gen: (o) =>
      `{${retiredSoFar(o)}const v_=AMO(h,${op},${lo(o.rs1)},${hi(o.rs1)},${lo(o.rs2)},${hi(o.rs2)},${size},${o.pc});` +
      `${result(o.rd, size, 'v_')}}`,
  };
}

const table: Record<string, Semantics> = {};
for (const [name, op] of Object.entries(AMO_OPS)) {
  table[`${name}.w`] = amo(op, 4);
  table[`${name}.d`] = amo(op, 8);
}
for (const size of [4, 8] as const) {
  const s = size === 4 ? 'w' : 'd';
  table[`lr.${s}`] = {
    gen: (o) =>
      `{${retiredSoFar(o)}const v_=LR(h,${lo(o.rs1)},${hi(o.rs1)},${size},${o.pc});${result(o.rd, size, 'v_')}}`,
  };
  table[`sc.${s}`] = {
    gen: (o) =>
      `{${retiredSoFar(o)}const v_=SC(h,${lo(o.rs1)},${hi(o.rs1)},${lo(o.rs2)},${hi(o.rs2)},${size},${o.pc});` +
      `${put(o.rd, 'v_', '0')}}`,
  };
}

export const RV64A: Readonly<Record<string, Semantics>> = table;
