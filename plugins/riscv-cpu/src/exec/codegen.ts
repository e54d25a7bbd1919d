/**
 * From semantics to running code: the tier-1 interpreter, one generated function whose
 * `switch` has a case per instruction, run over a block's decoded fields. (Tier 2 generates
 * WebAssembly: `wasm/`.)
 *
 * The interpreter is made once per realm and shared by every hart: V8's type feedback and
 * optimized code belong to a function object, so one shared function warms up once. It takes
 * the hart and reads its register files and TLB arrays from it per block. Generated code is
 * created with `new Function` in the plugin's realm; the helpers it calls are bound to locals
 * (a global lookup in a `node:vm` context goes through the context's interceptors and is slow).
 */
import * as fpu from '../fpu/index.js';
import { OPCODES, type OpcodeSpec } from '../isa/index.js';
import type { Block, DecodeTable } from './block.js';
import { F_CODE, FIELDS, INTERP_OPERANDS } from './operands.js';
import { HELPER_NAMES, type HelperName, type Semantics } from './sem-base.js';
import { FP_MEMORY, fpCompute, fpHelper } from './sem-fp.js';
import { RV64A } from './sem-rv64a.js';
import { RV64I } from './sem-rv64i.js';
import { RV64M } from './sem-rv64m.js';
import { ILLEGAL_SEM, SYSTEM } from './sem-system.js';

/** Semantics by code; code 0 is the illegal instruction. */
const SEMS: Semantics[] = [ILLEGAL_SEM];
const NAMES: string[] = ['(illegal)'];
/** The softfloat operation (fpu FP_OPS key) and operand format of FP computational codes. */
const FP_CALLS: ({ name: string; format: string } | undefined)[] = [undefined];
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
  const computes =
    FP_MEMORY[spec.name] === undefined &&
    (spec.ext === 'F' || spec.ext === 'D') &&
    !RV64I[spec.name];
  FP_CALLS.push(computes ? { name: fpHelper(spec.name).slice(3), format: spec.format } : undefined);
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

/** For an F or D computational instruction code: its softfloat operation and format. */
export const fpCallOf = (code: number) => FP_CALLS[code];

/** The name of instruction code `code`. */
export const codeName = (code: number) => NAMES[code] ?? '?';

/** What the interpreter reads from a hart. */
export interface InterpHart {
  readonly x: Int32Array;
  readonly fr: unknown;
  readonly fw: Int32Array;
  /** Per data regime, the read and write TLB arrays. */
  readonly dt: readonly RegimeTlbs[];
}

export interface RegimeTlbs {
  readonly RT: Int32Array;
  readonly ROFF: Int32Array;
  readonly RV: DataView[];
  readonly WT: Int32Array;
  readonly WOFF: Int32Array;
  readonly WV: DataView[];
}

const TLB_NAMES = ['RT', 'ROFF', 'RV', 'WT', 'WOFF', 'WV'] as const;
const FP_NAMES = Object.keys(fpFunctions());

/** The semantics of instruction code `code`. */
export const semanticsOf = (code: number): Semantics | undefined => SEMS[code];

/** `interp(h, block)` runs a block on hart `h`; returns the instructions retired. */
export type Interpreter = (h: InterpHart, b: Block) => number;

let shared: Interpreter | undefined;

/** The interpreter (one per realm, shared by every hart). */
export function interpreter(helpers: Readonly<Record<HelperName, unknown>>): Interpreter {
  if (shared !== undefined) return shared;
  const cases = SEMS.map((sem, code) => `case ${code}:${sem.gen(INTERP_OPERANDS)}break;`).join(
    '\n',
  );
  const names = [...HELPER_NAMES, ...FP_NAMES];
  const body =
    `"use strict";const {${names.join(',')}}=env;` +
    'return function interp(h,b){' +
    'const x=h.x,fr=h.fr,fw=h.fw,ops=b.ops,n=b.n,base=b.pc,t=h.dt[b.regime];' +
    `const ${TLB_NAMES.map((n) => `${n}=t.${n}`).join(',')};` +
    `for(let k=0,i=0;k<n;k++,i+=${FIELDS}){switch(ops[i+${F_CODE}]){\n${cases}\n}}` +
    'h.pc=base+b.endOff;return n;};';
  shared = new Function('env', body)({ ...helpers, ...fpFunctions() }) as Interpreter;
  return shared;
}
