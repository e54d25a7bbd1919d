/**
 * Code generators shared by the instruction semantics: 64-bit arithmetic on int32 halves,
 * effective addresses, register writes. Each returns JavaScript source that runs inside a
 * block (see `operands.ts` for the names in scope).
 *
 * The names generated code may use are fixed here and provided by `codegen.ts`:
 * `h` (the hart), `x` (integer registers), `fr`/`fw` (FP registers), the TLB arrays of the
 * block's data regime (`RLO RHI ROFF RV` for reads, `WLO WHI WOFF WV` for writes), and the
 * helpers in `HELPER_NAMES`.
 */
import type { Operands } from './operands.js';

/** Functions generated code calls, by the name it calls them. */
export const HELPER_NAMES = [
  'FLOOR',
  'IMUL',
  'LOAD',
  'STORE',
  'AMO',
  'LR',
  'SC',
  'CSR',
  'ILLEGAL',
  'ECALL',
  'EBREAK',
  'BADJUMP',
  'MRET',
  'SRET',
  'WFI',
  'SFENCE',
  'FENCEI',
  'MULHU32',
  'MUL128',
  'DIV64',
] as const;
export type HelperName = (typeof HELPER_NAMES)[number];

/** Low and high word of register `r`. */
export const lo = (r: string) => `x[${r}*2]`;
export const hi = (r: string) => `x[${r}*2+1]`;

/** Writes (l, h) to register `rd`; `l` and `h` must not read rd (use temporaries). */
export const put = (rd: string, l: string, h: string) => `x[${rd}*2]=${l};x[${rd}*2+1]=${h};`;

/** Writes a 32-bit result sign-extended (the W instructions, lw). */
export const putW = (rd: string, v: string) => `{const w_=${v};x[${rd}*2]=w_;x[${rd}*2+1]=w_>>31;}`;

/** A JS number holding a 64-bit value (exact below 2^53) into register `rd`. */
export const putNumber = (rd: string, v: string) =>
  `{const n_=${v};x[${rd}*2]=n_|0;x[${rd}*2+1]=FLOOR(n_/4294967296)|0;}`;

/**
 * The effective address rs1 + imm as halves, in consts `al` and `ah` (`a_` is scratch).
 */
export const ea = (o: Operands) =>
  `const a_=${lo(o.rs1)};const al=(a_+${o.imm})|0;` +
  `const ah=(${hi(o.rs1)}+(${o.imm}>>31)+((al>>>0)<(a_>>>0)?1:0))|0;`;

/**
 * Retires this instruction and leaves the block for `target`. Inside a region this continues
 * at `target` through the region's dispatch loop (`pc`, `n`, label `L`: see codegen.ts).
 */
export const jump = (o: Operands, target: string) =>
  o.region ? `pc=${target};n+=${o.k}+1;continue L;` : `h.pc=${target};return ${o.k}+1;`;

/**
 * Retires this instruction and returns to the hart's run loop at `target` (interrupts are
 * checked there): after a privilege change, a CSR write, a device access that asked for it.
 */
export const jumpToRun = (o: Operands, target: string) =>
  o.region ? `pc=${target};n+=${o.k}+1;break L;` : `h.pc=${target};return ${o.k}+1;`;

/** Ends the block at the next instruction when a helper asked (`h.exit`). */
export const exitIfAsked = (o: Operands) => `if(h.exit){h.exit=false;${jumpToRun(o, o.next)}}`;

/** Makes the helpers that may trap know how many instructions of the block retired. */
export const retiredSoFar = (o: Operands) => `h.k=${o.k};`;

/** Signed 64-bit a < b. */
export const lt64 = (al: string, ah: string, bl: string, bh: string) =>
  `(${ah}<${bh}||(${ah}===${bh}&&(${al}>>>0)<(${bl}>>>0)))`;

/** Unsigned 64-bit a < b. */
export const ltu64 = (al: string, ah: string, bl: string, bh: string) =>
  `((${ah}>>>0)<(${bh}>>>0)||(${ah}===${bh}&&(${al}>>>0)<(${bl}>>>0)))`;

/**
 * A 64-bit shift of (al, ah) by the amount `s` (0..63) into (rl, rh), declared with `let`.
 * `kind`: 'sll', 'srl' or 'sra'. With a literal amount the JIT's V8 folds the branches.
 */
export function shift64(kind: 'sll' | 'srl' | 'sra', s: string, al: string, ah: string): string {
  if (kind === 'sll')
    return (
      `let rl,rh;const s_=${s};if(s_===0){rl=${al};rh=${ah};}` +
      `else if(s_<32){rh=(${ah}<<s_)|(${al}>>>(32-s_));rl=${al}<<s_;}` +
      `else{rh=${al}<<(s_-32);rl=0;}`
    );
  const top = kind === 'srl' ? '>>>' : '>>';
  const fill = kind === 'srl' ? '0' : `${ah}>>31`;
  return (
    `let rl,rh;const s_=${s};if(s_===0){rl=${al};rh=${ah};}` +
    `else if(s_<32){rl=(${al}>>>s_)|(${ah}<<(32-s_));rh=(${ah}${top}s_)|0;}` +
    `else{rl=(${ah}${top}(s_-32))|0;rh=${fill};}`
  );
}

/** What an instruction does, as generated code. */
export interface Semantics {
  /** JavaScript statements (a block statement) for the instruction. */
  readonly gen: (o: Operands) => string;
  /** The instruction always leaves the block: nothing may follow it in one. */
  readonly ends?: boolean;
}
