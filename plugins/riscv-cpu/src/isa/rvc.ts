/**
 * RVC expansion: every 16-bit RV64C instruction as the 32-bit instruction it stands for.
 *
 * The rows are riscv-opcodes' `rv_c`, `rv64_c` and `rv_c_d` (their mask/match written in
 * riscv-opcodes' notation), each with the 32-bit row it expands to and a function giving that
 * row's operands (the spec's expansion column), or `undefined` where the spec says the code
 * point is reserved. Rows are tried in order; where two share a slot the earlier one claims
 * its registers first, as riscv-opcodes' register constraints (`rd_n2`, `c_rs2_n0`...) do:
 * C.ADDI16SP before C.LUI, C.JR before C.MV, C.EBREAK before C.JALR before C.ADD.
 *
 * Reserved (expand to 0): the all-zero halfword and every C.ADDI4SPN with nzuimm = 0,
 * C.ADDIW / C.LWSP / C.LDSP with rd = 0, C.ADDI16SP and C.LUI with a zero immediate (C.LUI with
 * rd = 0 and a zero immediate too), C.JR with rs1 = 0, quadrant 0 funct3 100, and the
 * funct6 100111 funct2 10/11 slots (Zcb's, not RV64C's). RV64C has no RV32-only encodings
 * left (C.JAL, C.FLW, C.FSW, C.FLWSP, C.FSWSP share their slots with C.ADDIW, C.LD, C.SD,
 * C.LDSP, C.SDSP). HINTs expand to their harmless 32-bit equivalents: C.NOP with an immediate
 * and C.ADDI with rd = 0 to `addi x0,...`, C.LI / C.LUI / C.MV / C.ADD / C.SLLI with rd = 0 to
 * writes of x0, the zero-shamt C.SLLI / C.SRLI / C.SRAI to shifts by 0.
 *
 * Each halfword's expansion is computed on its first use and cached in a 64 Ki-entry table, so
 * that on the execution path expansion is an array load.
 */

import { EmuhostError } from '@emuhost/sdk';
import { encode, type Operands } from './encode.js';
import { type OpcodeSpec, opcodeByName, parseFixedBits } from './opcodes.js';

/** One compressed instruction. */
export interface RvcSpec {
  /** Assembler name (`c.addi4spn`, `c.ldsp`...). */
  readonly name: string;
  /** 16-bit mask and match, as for `OpcodeSpec`. */
  readonly mask: number;
  readonly match: number;
  /** The 32-bit row it expands to. */
  readonly expandsTo: OpcodeSpec;
  /** Operands of the 32-bit form, `undefined` for a reserved code point. */
  readonly operands: (h: number) => Operands | undefined;
}

/** Bit `from` of h, moved to bit `to`. */
const bit = (h: number, from: number, to: number): number => ((h >>> from) & 1) << to;
/** Bits hi..lo of h, moved so that lo lands on `to`. */
const bits = (h: number, hi: number, lo: number, to: number): number =>
  ((h >>> lo) & ((1 << (hi - lo + 1)) - 1)) << to;
/** Sign-extends the low `n` bits of v. */
const sext = (v: number, n: number): number => (v << (32 - n)) >> (32 - n);

/** Full register number in bits 11:7 (rd / rs1). */
const rFull = (h: number): number => (h >>> 7) & 31;
/** Full register number in bits 6:2 (rs2). */
const r2Full = (h: number): number => (h >>> 2) & 31;
/** Popular register x8..x15 in bits 9:7 (rs1', rd' of CA/CB). */
const rHigh = (h: number): number => 8 + ((h >>> 7) & 7);
/** Popular register x8..x15 in bits 4:2 (rd' of CIW/CL, rs2' of CS/CA). */
const rLow = (h: number): number => 8 + ((h >>> 2) & 7);

/** imm[5] at 12, imm[4:0] at 6:2, signed (C.ADDI, C.LI, C.ANDI, C.ADDIW). */
const imm6 = (h: number): number => sext(bit(h, 12, 5) | bits(h, 6, 2, 0), 6);
/** shamt[5] at 12, shamt[4:0] at 6:2. */
const shamt = (h: number): number => bit(h, 12, 5) | bits(h, 6, 2, 0);
/** C.ADDI4SPN nzuimm[5:4|9:6|2|3] at 12:5. */
const addi4spnImm = (h: number): number =>
  bits(h, 12, 11, 4) | bits(h, 10, 7, 6) | bit(h, 6, 2) | bit(h, 5, 3);
/** C.LW/C.SW uimm[5:3] at 12:10, uimm[2|6] at 6:5. */
const wImm = (h: number): number => bits(h, 12, 10, 3) | bit(h, 6, 2) | bit(h, 5, 6);
/** C.LD/C.SD/C.FLD/C.FSD uimm[5:3] at 12:10, uimm[7:6] at 6:5. */
const dImm = (h: number): number => bits(h, 12, 10, 3) | bits(h, 6, 5, 6);
/** C.ADDI16SP nzimm[9] at 12, nzimm[4|6|8:7|5] at 6:2, signed. */
const addi16spImm = (h: number): number =>
  sext(bit(h, 12, 9) | bit(h, 6, 4) | bit(h, 5, 6) | bits(h, 4, 3, 7) | bit(h, 2, 5), 10);
/** C.LUI nzimm[17] at 12, nzimm[16:12] at 6:2, signed, in place. */
const luiImm = (h: number): number => sext(bit(h, 12, 17) | bits(h, 6, 2, 12), 18);
/** C.J offset[11|4|9:8|10|6|7|3:1|5] at 12:2, signed. */
const jImm = (h: number): number =>
  sext(
    bit(h, 12, 11) |
      bit(h, 11, 4) |
      bits(h, 10, 9, 8) |
      bit(h, 8, 10) |
      bit(h, 7, 6) |
      bit(h, 6, 7) |
      bits(h, 5, 3, 1) |
      bit(h, 2, 5),
    12,
  );
/** C.BEQZ/C.BNEZ offset[8|4:3] at 12:10, offset[7:6|2:1|5] at 6:2, signed. */
const bImm = (h: number): number =>
  sext(bit(h, 12, 8) | bits(h, 11, 10, 3) | bits(h, 6, 5, 6) | bits(h, 4, 3, 1) | bit(h, 2, 5), 9);
/** C.LWSP uimm[5] at 12, uimm[4:2|7:6] at 6:2. */
const lwspImm = (h: number): number => bit(h, 12, 5) | bits(h, 6, 4, 2) | bits(h, 3, 2, 6);
/** C.LDSP/C.FLDSP uimm[5] at 12, uimm[4:3|8:6] at 6:2. */
const ldspImm = (h: number): number => bit(h, 12, 5) | bits(h, 6, 5, 3) | bits(h, 4, 2, 6);
/** C.SWSP uimm[5:2|7:6] at 12:7. */
const swspImm = (h: number): number => bits(h, 12, 9, 2) | bits(h, 8, 7, 6);
/** C.SDSP/C.FSDSP uimm[5:3|8:6] at 12:7. */
const sdspImm = (h: number): number => bits(h, 12, 10, 3) | bits(h, 9, 7, 6);

const SP = 2;
const RA = 1;

type Ops = (h: number) => Operands;
type Imm = (h: number) => number;

// Operand shapes of the 32-bit form, by the compressed format they come from.
/** CL: rd', imm(rs1'). */
const cl =
  (imm: Imm): Ops =>
  (h) => ({ rd: rLow(h), rs1: rHigh(h), imm: imm(h) });
/** CS: rs2', imm(rs1'). */
const cs =
  (imm: Imm): Ops =>
  (h) => ({ rs1: rHigh(h), rs2: rLow(h), imm: imm(h) });
/** CI on a full register: rd = rs1 = bits 11:7. */
const ci =
  (imm: Imm): Ops =>
  (h) => ({ rd: rFull(h), rs1: rFull(h), imm: imm(h) });
/** CB-format ALU: rd' = rs1' in bits 9:7. */
const cb =
  (imm: Imm): Ops =>
  (h) => ({ rd: rHigh(h), rs1: rHigh(h), imm: imm(h) });
/** CA: rd' = rs1', rs2'. */
const ca: Ops = (h) => ({ rd: rHigh(h), rs1: rHigh(h), rs2: rLow(h) });
/** Branch on rs1' against x0. */
const cbz: Ops = (h) => ({ rs1: rHigh(h), rs2: 0, imm: bImm(h) });
/** Stack-pointer-relative load into a full register. */
const spLoad =
  (imm: Imm): Ops =>
  (h) => ({ rd: rFull(h), rs1: SP, imm: imm(h) });
/** Stack-pointer-relative store of bits 6:2. */
const spStore =
  (imm: Imm): Ops =>
  (h) => ({ rs1: SP, rs2: r2Full(h), imm: imm(h) });

/** When a code point of a row is reserved, by the expanded operand that is zero. */
type Reserved = 'imm=0' | 'rd=0' | 'rs1=0' | '';

type Row = readonly [name: string, fixed: string, to: string, operands: Ops, reserved?: Reserved];

// Quadrant, then funct3 order, as the spec's RVC opcode map.
// biome-ignore format: one row per instruction reads as the spec's table
const ROWS: readonly Row[] = [
  // Quadrant 0
  ['c.addi4spn', '1..0=0 15..13=0', 'addi', (h) => ({ rd: rLow(h), rs1: SP, imm: addi4spnImm(h) }), 'imm=0'],
  ['c.fld', '1..0=0 15..13=1', 'fld', cl(dImm)],
  ['c.lw', '1..0=0 15..13=2', 'lw', cl(wImm)],
  ['c.ld', '1..0=0 15..13=3', 'ld', cl(dImm)],
  ['c.fsd', '1..0=0 15..13=5', 'fsd', cs(dImm)],
  ['c.sw', '1..0=0 15..13=6', 'sw', cs(wImm)],
  ['c.sd', '1..0=0 15..13=7', 'sd', cs(dImm)],
  // Quadrant 1
  ['c.addi', '1..0=1 15..13=0', 'addi', ci(imm6)],
  ['c.addiw', '1..0=1 15..13=1', 'addiw', ci(imm6), 'rd=0'],
  ['c.li', '1..0=1 15..13=2', 'addi', (h) => ({ rd: rFull(h), rs1: 0, imm: imm6(h) })],
  ['c.addi16sp', '1..0=1 15..13=3 11..7=2', 'addi', (h) => ({ rd: SP, rs1: SP, imm: addi16spImm(h) }), 'imm=0'],
  ['c.lui', '1..0=1 15..13=3', 'lui', (h) => ({ rd: rFull(h), imm: luiImm(h) }), 'imm=0'],
  ['c.srli', '1..0=1 15..13=4 11..10=0', 'srli', cb(shamt)],
  ['c.srai', '1..0=1 15..13=4 11..10=1', 'srai', cb(shamt)],
  ['c.andi', '1..0=1 15..13=4 11..10=2', 'andi', cb(imm6)],
  ['c.sub', '1..0=1 15..13=4 12..10=0b011 6..5=0', 'sub', ca],
  ['c.xor', '1..0=1 15..13=4 12..10=0b011 6..5=1', 'xor', ca],
  ['c.or', '1..0=1 15..13=4 12..10=0b011 6..5=2', 'or', ca],
  ['c.and', '1..0=1 15..13=4 12..10=0b011 6..5=3', 'and', ca],
  ['c.subw', '1..0=1 15..13=4 12..10=0b111 6..5=0', 'subw', ca],
  ['c.addw', '1..0=1 15..13=4 12..10=0b111 6..5=1', 'addw', ca],
  ['c.j', '1..0=1 15..13=5', 'jal', (h) => ({ rd: 0, imm: jImm(h) })],
  ['c.beqz', '1..0=1 15..13=6', 'beq', cbz],
  ['c.bnez', '1..0=1 15..13=7', 'bne', cbz],
  // Quadrant 2
  ['c.slli', '1..0=2 15..13=0', 'slli', ci(shamt)],
  ['c.fldsp', '1..0=2 15..13=1', 'fld', spLoad(ldspImm)],
  ['c.lwsp', '1..0=2 15..13=2', 'lw', spLoad(lwspImm), 'rd=0'],
  ['c.ldsp', '1..0=2 15..13=3', 'ld', spLoad(ldspImm), 'rd=0'],
  ['c.jr', '1..0=2 15..13=4 12=0 6..2=0', 'jalr', (h) => ({ rd: 0, rs1: rFull(h), imm: 0 }), 'rs1=0'],
  ['c.mv', '1..0=2 15..13=4 12=0', 'add', (h) => ({ rd: rFull(h), rs1: 0, rs2: r2Full(h) })],
  ['c.ebreak', '1..0=2 15..13=4 12=1 11..2=0', 'ebreak', () => ({})],
  ['c.jalr', '1..0=2 15..13=4 12=1 6..2=0', 'jalr', (h) => ({ rd: RA, rs1: rFull(h), imm: 0 })],
  ['c.add', '1..0=2 15..13=4 12=1', 'add', (h) => ({ rd: rFull(h), rs1: rFull(h), rs2: r2Full(h) })],
  ['c.fsdsp', '1..0=2 15..13=5', 'fsd', spStore(sdspImm)],
  ['c.swsp', '1..0=2 15..13=6', 'sw', spStore(swspImm)],
  ['c.sdsp', '1..0=2 15..13=7', 'sd', spStore(sdspImm)],
];

/** The RV64C instructions, in lookup order (see the file comment). */
export const RVC_OPCODES: readonly RvcSpec[] = Object.freeze(
  ROWS.map(([name, fixed, to, ops, reserved = '']): RvcSpec => {
    const expandsTo = opcodeByName(to);
    if (!expandsTo) throw new EmuhostError('E_UNKNOWN_ID', `rvc: ${name} expands to unknown ${to}`);
    const field = reserved.slice(0, -2) as keyof Operands | '';
    const operands =
      field === ''
        ? ops
        : (h: number) => {
            const o = ops(h);
            return o[field] === 0 ? undefined : o;
          };
    return Object.freeze({ name, ...parseFixedBits(fixed), expandsTo, operands });
  }),
);

/** Expanded word per halfword, valid once `rows[h]` is set; 0 when reserved or not RVC. */
const words = new Uint32Array(1 << 16);
/** Per halfword: 0 not computed yet, NO_ROW outside every row, else 1 + index in RVC_OPCODES. */
const rows = new Uint8Array(1 << 16);
const NO_ROW = 255;

/** Computes (once) and caches the expansion and row of halfword h. */
function fill(h: number): void {
  rows[h] = NO_ROW;
  if ((h & 3) === 3) return;
  for (let i = 0; i < RVC_OPCODES.length; i++) {
    const spec = RVC_OPCODES[i] as RvcSpec;
    if ((h & spec.mask) !== spec.match) continue;
    rows[h] = i + 1;
    const ops = spec.operands(h);
    if (ops) words[h] = encode(spec.expandsTo, ops);
    return;
  }
}

/**
 * The 32-bit instruction a 16-bit RVC halfword stands for (unsigned), or 0 when the halfword
 * is reserved or illegal (0 is never a valid 32-bit instruction). Only the low 16 bits of `h`
 * are read; a halfword whose low two bits are 11 is not compressed and gives 0.
 */
export function expandCompressed(h: number): number {
  const x = h & 0xffff;
  if (rows[x] === 0) fill(x);
  return words[x] as number;
}

/**
 * The compressed instruction whose slot `h` falls in (also for a reserved code point of it,
 * such as C.ADDI4SPN with nzuimm 0), or `undefined` outside every row.
 */
export function compressedSpec(h: number): RvcSpec | undefined {
  const x = h & 0xffff;
  if (rows[x] === 0) fill(x);
  const row = rows[x] as number;
  return row === NO_ROW ? undefined : RVC_OPCODES[row - 1];
}
