/**
 * Operands as the instruction generators see them: JavaScript expressions. The interpreter
 * passes reads of the decoded block's fields (`ops[i+1]`), the JIT passes literals (`10`), so
 * one generator yields both the interpreter's switch case and a compiled block's code.
 *
 * Register operands are register numbers; generated code indexes the register file as
 * `x[r*2]` (low word) and `x[r*2+1]` (high word). An integer destination x0 is decoded as
 * register 32, a scratch pair no instruction reads, so no generator tests for x0.
 */
export interface Operands {
  readonly rd: string;
  readonly rs1: string;
  readonly rs2: string;
  readonly rs3: string;
  /** The immediate, sign-extended to int32 (U-type: already shifted); a shift amount. */
  readonly imm: string;
  /** The rounding-mode field, a CSR number, or AMO/fence bits, by instruction. */
  readonly aux: string;
  /** The instruction's virtual address (a JS number, exact below 2^53). */
  readonly pc: string;
  /** The address of the next instruction. */
  readonly next: string;
  /** The instruction as fetched (16 or 32 bits), for `mtval` on an illegal instruction. */
  readonly raw: string;
  /** How many instructions of the block retired before this one. */
  readonly k: string;
  /**
   * Whether the code runs inside a compiled region (a guest page's hot blocks in one function
   * with its own dispatch loop, `codegen.ts`) rather than as one block.
   */
  readonly region: boolean;
}

/** Decoded fields per instruction in a block's `ops` array. */
export const FIELDS = 10;
export const F_CODE = 0;
export const F_RD = 1;
export const F_RS1 = 2;
export const F_RS2 = 3;
export const F_RS3 = 4;
export const F_IMM = 5;
export const F_AUX = 6;
export const F_PCOFF = 7;
export const F_LEN = 8;
export const F_RAW = 9;

/** The interpreter's operands: reads of `ops` at the instruction's base index `i`. */
export const INTERP_OPERANDS: Operands = {
  rd: `ops[i+${F_RD}]`,
  rs1: `ops[i+${F_RS1}]`,
  rs2: `ops[i+${F_RS2}]`,
  rs3: `ops[i+${F_RS3}]`,
  imm: `ops[i+${F_IMM}]`,
  aux: `ops[i+${F_AUX}]`,
  pc: `(base+ops[i+${F_PCOFF}])`,
  next: `(base+ops[i+${F_PCOFF}]+ops[i+${F_LEN}])`,
  raw: `ops[i+${F_RAW}]`,
  k: 'k',
  region: false,
};

/** A compiled block's operands for instruction `j` of `ops`. */
export function literalOperands(
  ops: Int32Array,
  j: number,
  base: number,
  region: boolean,
): Operands {
  const i = j * FIELDS;
  const pc = base + ops[i + F_PCOFF]!;
  return {
    rd: String(ops[i + F_RD]),
    rs1: String(ops[i + F_RS1]),
    rs2: String(ops[i + F_RS2]),
    rs3: String(ops[i + F_RS3]),
    imm: `(${ops[i + F_IMM]})`,
    aux: String(ops[i + F_AUX]),
    pc: `(${pc})`,
    next: `(${pc + ops[i + F_LEN]!})`,
    raw: String(ops[i + F_RAW]),
    k: String(j),
    region,
  };
}
