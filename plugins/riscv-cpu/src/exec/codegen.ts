/**
 * From semantics to running code, twice: the tier-1 interpreter (one generated function whose
 * `switch` has a case per instruction, run over a block's decoded fields) and the tier-2
 * compiler (a function per hot block, the same generators fed literal operands, so V8 sees
 * straight-line code with constant register indexes).
 *
 * Generated code is created with `new Function` in the plugin's realm. Everything it uses is
 * passed in and bound to locals (`env`): a global lookup in a `node:vm` context goes through
 * the context's interceptors and is slow.
 */
import * as fpu from '../fpu/index.js';
import { OPCODES, type OpcodeSpec } from '../isa/index.js';
import type { Block, DecodeTable } from './block.js';
import { F_CODE, FIELDS, INTERP_OPERANDS, literalOperands } from './operands.js';
import { HELPER_NAMES, type HelperName, type Semantics } from './sem-base.js';
import { FP_MEMORY, fpCompute, fpHelper } from './sem-fp.js';
import { RV64A } from './sem-rv64a.js';
import { RV64I } from './sem-rv64i.js';
import { RV64M } from './sem-rv64m.js';
import { ILLEGAL_SEM, SYSTEM } from './sem-system.js';

/** Semantics by code; code 0 is the illegal instruction. */
const SEMS: Semantics[] = [ILLEGAL_SEM];
const NAMES: string[] = ['(illegal)'];
const CODE_OF = new Map<string, number>();

for (const spec of OPCODES) {
  const sem =
    RV64I[spec.name] ??
    RV64M[spec.name] ??
    RV64A[spec.name] ??
    SYSTEM[spec.name] ??
    FP_MEMORY[spec.name] ??
    ((spec.ext === 'F' || spec.ext === 'D') && fpHelper(spec.name) in fpFunctions()
      ? fpCompute(spec.name, spec.format)
      : undefined);
  if (sem === undefined) throw new Error(`no semantics for '${spec.name}'`);
  CODE_OF.set(spec.name, SEMS.length);
  SEMS.push(sem);
  NAMES.push(spec.name);
}

/** The softfloat functions by the names generated code calls them. */
function fpFunctions(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(fpu.FP_OPS)) out[`FP_${name}`] = fn;
  return out;
}

export const DECODE_TABLE: DecodeTable = {
  codeOf: (spec: OpcodeSpec) => CODE_OF.get(spec.name) ?? 0,
  ends: (code: number) => SEMS[code]?.ends === true,
};

/** The name of instruction code `code`. */
export const codeName = (code: number) => NAMES[code] ?? '?';

/** What generated code is given: the hart, its register files, the helpers. */
export interface CodeEnv {
  readonly h: unknown;
  readonly x: Int32Array;
  readonly fr: unknown;
  readonly fw: Int32Array;
  /** Per data regime, the read and write TLB arrays. */
  readonly DT: readonly RegimeTlbs[];
  readonly helpers: Readonly<Record<HelperName, unknown>>;
}

export interface RegimeTlbs {
  readonly RLO: Int32Array;
  readonly RHI: Int32Array;
  readonly ROFF: Int32Array;
  readonly RV: DataView[];
  readonly WLO: Int32Array;
  readonly WHI: Int32Array;
  readonly WOFF: Int32Array;
  readonly WV: DataView[];
}

const TLB_NAMES = ['RLO', 'RHI', 'ROFF', 'RV', 'WLO', 'WHI', 'WOFF', 'WV'] as const;
const FP_NAMES = Object.keys(fpFunctions());

function prologue(names: readonly string[]): string {
  return `"use strict";const {${names.join(',')}}=env;`;
}

function envValues(env: CodeEnv): Record<string, unknown> {
  return {
    h: env.h,
    x: env.x,
    fr: env.fr,
    fw: env.fw,
    DT: env.DT,
    ...env.helpers,
    ...fpFunctions(),
  };
}

/** Builds the interpreter for one hart: `interp(block)` runs a block, returns instructions retired. */
export function makeInterpreter(env: CodeEnv): (b: Block) => number {
  const cases = SEMS.map((sem, code) => `case ${code}:${sem.gen(INTERP_OPERANDS)}break;`).join(
    '\n',
  );
  const body =
    prologue(['h', 'x', 'fr', 'fw', 'DT', ...HELPER_NAMES, ...FP_NAMES]) +
    'return function interp(b){' +
    'const ops=b.ops,n=b.n,base=b.pc,t=DT[b.regime];' +
    `const ${TLB_NAMES.map((n) => `${n}=t.${n}`).join(',')};` +
    `for(let k=0,i=0;k<n;k++,i+=${FIELDS}){switch(ops[i+${F_CODE}]){\n${cases}\n}}` +
    'h.pc=base+b.endOff;return n;};';
  return new Function('env', body)(envValues(env)) as (b: Block) => number;
}

/**
 * Compiles a region (tier 2): `blocks` (all of one virtual page, one data regime) into one
 * function with its own dispatch loop. It runs from `h.pc` block after block while control
 * stays on the region's block starts and fewer than `budget` instructions ran, then sets
 * `h.pc` and returns the count. One function per page (v86 compiles hot pages the same way)
 * gives V8 one large, hot body to optimize, and keeps jumps inside the page off the run loop.
 * A trap thrown inside adds the region's count so far to `h.k`.
 */
export function compileRegion(
  env: CodeEnv,
  blocks: readonly Block[],
  vbase: number,
  regime: number,
): (budget: number) => number {
  let cases = '';
  for (const b of blocks) {
    let code = '';
    for (let j = 0; j < b.n; j++) {
      const sem = SEMS[b.ops[j * FIELDS + F_CODE]!]!;
      code += sem.gen(literalOperands(b.ops, j, b.pc, true));
    }
    code += `pc=${b.pc + b.endOff};n+=${b.n};continue L;`;
    cases += `case ${b.pc - vbase}:{${code}}\n`;
  }
  const loop =
    'let pc=h.pc,n=0;try{L:for(;;){if(n>=budget)break;' +
    `switch(pc-(${vbase})){\n${cases}default:break L;}}}catch(e){h.k+=n;throw e;}h.pc=pc;return n;`;
  const used = [...HELPER_NAMES, ...FP_NAMES].filter((n) => loop.includes(n));
  const t = env.DT[regime]!;
  const tlbs = TLB_NAMES.filter((n) => loop.includes(n));
  const body = `${prologue(['h', 'x', 'fr', 'fw', ...used, ...tlbs])}return function region(budget){${loop}};`;
  const values = { ...envValues(env), ...Object.fromEntries(tlbs.map((n) => [n, t[n]])) };
  return new Function('env', body)(values) as (budget: number) => number;
}
