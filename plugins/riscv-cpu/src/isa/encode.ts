/**
 * Instruction encoder: builds the 32-bit word of a table row from its operands.
 *
 * The inverse of `fields.ts`, driven by the row's `format`: RVC expansion uses it to build the
 * 32-bit equivalent of a compressed instruction, and tests (here and in the executor) use it
 * to write instructions by name instead of by hex. Operand conventions are those of the field
 * extractors: `imm` is the value the extractor returns, so `U` takes the immediate already
 * shifted into place (`0x12345000` for `lui a0,0x12345`) and `B`/`J` take byte offsets.
 * Operands a format does not use must be absent. Out-of-range operands throw
 * `EmuhostError('E_BAD_ARGUMENT')`: encoding is host-side work, never guest-driven.
 */

import { EmuhostError } from '@emuhost/sdk';
import { type OpcodeSpec, opcodeByName } from './opcodes.js';

/** Operands by field name; each format reads the ones it has (see `Format`). */
export interface Operands {
  readonly rd?: number;
  readonly rs1?: number;
  readonly rs2?: number;
  readonly rs3?: number;
  /** Rounding mode 0..7; defaults to 7 (dynamic), as assemblers do. */
  readonly rm?: number;
  /** Immediate, offset, shift amount, or the csri `uimm` (0..31). */
  readonly imm?: number;
  /** CSR number 0..0xfff. */
  readonly csr?: number;
  readonly aq?: 0 | 1;
  readonly rl?: 0 | 1;
  /** FENCE sets, 4 bits each (I=8, O=4, R=2, W=1), and fm (0 or 8). */
  readonly pred?: number;
  readonly succ?: number;
  readonly fm?: number;
}

type Field = keyof Operands;

const FIELDS_OF: Readonly<Record<OpcodeSpec['format'], readonly Field[]>> = {
  R: ['rd', 'rs1', 'rs2'],
  'R-rm': ['rd', 'rs1', 'rs2', 'rm'],
  R1: ['rd', 'rs1'],
  'R1-rm': ['rd', 'rs1', 'rm'],
  'R4-rm': ['rd', 'rs1', 'rs2', 'rs3', 'rm'],
  I: ['rd', 'rs1', 'imm'],
  'I-offset': ['rd', 'rs1', 'imm'],
  S: ['rs1', 'rs2', 'imm'],
  B: ['rs1', 'rs2', 'imm'],
  U: ['rd', 'imm'],
  J: ['rd', 'imm'],
  shift: ['rd', 'rs1', 'imm'],
  shiftw: ['rd', 'rs1', 'imm'],
  csr: ['rd', 'rs1', 'csr'],
  csri: ['rd', 'imm', 'csr'],
  lr: ['rd', 'rs1', 'aq', 'rl'],
  amo: ['rd', 'rs1', 'rs2', 'aq', 'rl'],
  fence: ['pred', 'succ', 'fm', 'rd', 'rs1'],
  'sfence.vma': ['rs1', 'rs2'],
  none: [],
};

function fail(spec: OpcodeSpec, what: string): never {
  throw new EmuhostError('E_BAD_ARGUMENT', `encode ${spec.name}: ${what}`);
}

function unsigned(spec: OpcodeSpec, field: string, v: number, bits: number): number {
  if (!Number.isInteger(v) || v < 0 || v >= 2 ** bits) {
    fail(spec, `${field} ${v} is not a ${bits}-bit unsigned value`);
  }
  return v;
}

function signed(spec: OpcodeSpec, v: number, bits: number, align = 1): number {
  const lim = 2 ** (bits - 1);
  if (!Number.isInteger(v) || v < -lim || v >= lim || v % align !== 0) {
    fail(
      spec,
      `immediate ${v} is not a ${bits}-bit signed value${align > 1 ? ` (x${align})` : ''}`,
    );
  }
  return v;
}

function immBits(spec: OpcodeSpec, imm: number): number {
  switch (spec.format) {
    case 'I':
    case 'I-offset':
      return (signed(spec, imm, 12) & 0xfff) << 20;
    case 'S': {
      const v = signed(spec, imm, 12);
      return (((v >> 5) & 0x7f) << 25) | ((v & 31) << 7);
    }
    case 'B': {
      const v = signed(spec, imm, 13, 2);
      return (
        (((v >> 12) & 1) << 31) |
        (((v >> 5) & 0x3f) << 25) |
        (((v >> 1) & 0xf) << 8) |
        (((v >> 11) & 1) << 7)
      );
    }
    case 'U':
      // Either the signed value immU returns or the unsigned 32-bit one.
      if (!Number.isInteger(imm) || imm < -(2 ** 31) || imm >= 2 ** 32 || imm % 4096 !== 0) {
        fail(spec, `U immediate ${imm} is not a 32-bit value with the low 12 bits clear`);
      }
      return imm & ~0xfff;
    case 'J': {
      const v = signed(spec, imm, 21, 2);
      return (
        (((v >> 20) & 1) << 31) |
        (((v >> 1) & 0x3ff) << 21) |
        (((v >> 11) & 1) << 20) |
        (v & 0xff000)
      );
    }
    case 'shift':
      return unsigned(spec, 'shamt', imm, 6) << 20;
    case 'shiftw':
      return unsigned(spec, 'shamt', imm, 5) << 20;
    case 'csri':
      return unsigned(spec, 'uimm', imm, 5) << 15;
    default:
      return fail(spec, 'takes no immediate');
  }
}

/** The word for `spec` (or the row named so) with `ops`; unsigned 32-bit. */
export function encode(specOrName: OpcodeSpec | string, ops: Operands = {}): number {
  const spec = typeof specOrName === 'string' ? opcodeByName(specOrName) : specOrName;
  if (spec === undefined) {
    throw new EmuhostError('E_UNKNOWN_ID', `encode: no instruction named '${specOrName}'`);
  }
  const allowed = FIELDS_OF[spec.format];
  for (const key of Object.keys(ops) as Field[]) {
    if (ops[key] !== undefined && !allowed.includes(key)) fail(spec, `has no '${key}' operand`);
  }
  let w = spec.match;
  if (ops.rd !== undefined) w |= unsigned(spec, 'rd', ops.rd, 5) << 7;
  if (ops.rs1 !== undefined) w |= unsigned(spec, 'rs1', ops.rs1, 5) << 15;
  if (ops.rs2 !== undefined) w |= unsigned(spec, 'rs2', ops.rs2, 5) << 20;
  if (ops.rs3 !== undefined) w |= unsigned(spec, 'rs3', ops.rs3, 5) << 27;
  if (allowed.includes('rm')) w |= unsigned(spec, 'rm', ops.rm ?? 7, 3) << 12;
  if (ops.imm !== undefined) w |= immBits(spec, ops.imm);
  if (ops.csr !== undefined) w |= unsigned(spec, 'csr', ops.csr, 12) << 20;
  if (ops.aq !== undefined) w |= unsigned(spec, 'aq', ops.aq, 1) << 26;
  if (ops.rl !== undefined) w |= unsigned(spec, 'rl', ops.rl, 1) << 25;
  if (ops.pred !== undefined) w |= unsigned(spec, 'pred', ops.pred, 4) << 24;
  if (ops.succ !== undefined) w |= unsigned(spec, 'succ', ops.succ, 4) << 20;
  if (ops.fm !== undefined) w |= unsigned(spec, 'fm', ops.fm, 4) << 28;
  w >>>= 0;
  // Operands never reach the fixed bits unless a row's format is wrong; check rather than trust.
  if ((w & spec.mask) >>> 0 !== spec.match) fail(spec, 'operands overlap the fixed bits');
  return w;
}
