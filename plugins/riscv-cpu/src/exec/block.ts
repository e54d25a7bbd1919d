/**
 * A block: straight-line guest code pre-decoded once, run many times. It starts at a virtual
 * pc and ends at an instruction that always leaves (a jump, a trap, a system instruction), at
 * the end of its guest page, or after `MAX_INSNS`; conditional branches leave from the middle.
 * Each instruction is ten int32 fields (`operands.ts`), so the interpreter reads a typed array
 * and the JIT emits literals.
 *
 * Compressed instructions are expanded to their 32-bit equivalents at decode (the semantics
 * exist once); the length and the raw bits are kept for the pc and for `mtval`.
 */
import { decode, expandCompressed, fields, type OpcodeSpec } from '../isa/index.js';
import {
  F_AUX,
  F_CODE,
  F_IMM,
  F_LEN,
  F_PCOFF,
  F_RAW,
  F_RD,
  F_RS1,
  F_RS2,
  F_RS3,
  FIELDS,
} from './operands.js';

/** The longest block, in instructions. */
export const MAX_INSNS = 32;

export class Block {
  /** The compiled region (tier 2) that contains this block, once its page is hot. */
  region: ((budget: number) => number) | null = null;
  /** Times executed by the interpreter, for hotness. */
  count = 0;
  /** Another block at the same physical address (another virtual pc or regime). */
  next: Block | undefined = undefined;

  constructor(
    /** Virtual address of the first instruction. */
    readonly pc: number,
    /** Data regime the block's inline TLB accesses use (0 U, 1 S, 2 M). */
    readonly regime: number,
    /** FIELDS int32 per instruction. */
    readonly ops: Int32Array,
    readonly n: number,
    /** Bytes from `pc` to the instruction after the last one. */
    readonly endOff: number,
  ) {}
}

/** What the decoder needs to know about instructions by name. */
export interface DecodeTable {
  /** The code (semantics index) of an instruction name; 0 is "illegal". */
  codeOf(spec: OpcodeSpec): number;
  /** Whether the instruction always leaves the block. */
  ends(code: number): boolean;
}

/**
 * Decodes a block at virtual `pc` from `view` at byte offset `off` (the pc's byte in the page),
 * reading at most `avail` bytes (to the end of the page). Returns undefined when the first
 * instruction crosses the page (a 32-bit instruction in the page's last two bytes).
 */
export function decodeBlock(
  table: DecodeTable,
  view: DataView,
  off: number,
  avail: number,
  pc: number,
  regime: number,
): Block | undefined {
  const ops = new Int32Array(MAX_INSNS * FIELDS);
  let n = 0;
  let pos = 0;
  while (n < MAX_INSNS && pos + 2 <= avail) {
    const half = view.getUint16(off + pos, true);
    let len: number;
    let raw: number;
    let word: number;
    if ((half & 3) !== 3) {
      len = 2;
      raw = half;
      word = expandCompressed(half);
    } else {
      if (pos + 4 > avail) break;
      len = 4;
      raw = view.getInt32(off + pos, true);
      word = raw;
    }
    fill(table, ops, n, word, raw, pos, len);
    n++;
    pos += len;
    if (table.ends(ops[(n - 1) * FIELDS + F_CODE]!)) break;
  }
  if (n === 0) return undefined;
  return new Block(pc, regime, ops.slice(0, n * FIELDS), n, pos);
}

/** Decodes one instruction given as its word(s): for one that crosses a page. */
export function decodeOne(table: DecodeTable, raw: number, pc: number, regime: number): Block {
  const ops = new Int32Array(FIELDS);
  const len = (raw & 3) !== 3 ? 2 : 4;
  fill(table, ops, 0, len === 2 ? expandCompressed(raw) : raw, raw, 0, len);
  return new Block(pc, regime, ops, 1, len);
}

function fill(
  table: DecodeTable,
  ops: Int32Array,
  n: number,
  word: number,
  raw: number,
  pcoff: number,
  len: number,
): void {
  const i = n * FIELDS;
  const spec = word === 0 ? undefined : decode(word);
  ops[i + F_PCOFF] = pcoff;
  ops[i + F_LEN] = len;
  ops[i + F_RAW] = raw;
  if (spec === undefined) {
    ops[i + F_CODE] = 0;
    return;
  }
  ops[i + F_CODE] = table.codeOf(spec);
  const rd = fields.rd(word);
  // An integer destination x0 writes the scratch pair 32 instead: no generator tests for it.
  ops[i + F_RD] = spec.regs[0] === 'x' && rd === 0 ? 32 : rd;
  ops[i + F_RS1] = fields.rs1(word);
  ops[i + F_RS2] = fields.rs2(word);
  ops[i + F_RS3] = fields.rs3(word);
  ops[i + F_IMM] = immediate(spec, word);
  ops[i + F_AUX] =
    spec.format === 'csr' || spec.format === 'csri' ? fields.csr(word) : fields.rm(word);
}

function immediate(spec: OpcodeSpec, w: number): number {
  switch (spec.format) {
    case 'I':
    case 'I-offset':
      return fields.immI(w);
    case 'S':
      return fields.immS(w);
    case 'B':
      return fields.immB(w);
    case 'U':
      return fields.immU(w);
    case 'J':
      return fields.immJ(w);
    case 'shift':
      return fields.shamt6(w);
    case 'shiftw':
      return fields.shamt5(w);
    default:
      return 0;
  }
}
