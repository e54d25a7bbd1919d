/**
 * The RV64GC opcode table: one row per 32-bit instruction, as data, after riscv-opcodes.
 *
 * Each row is written in riscv-opcodes' own notation (`14..12=0 6..2=0x04 1..0=3`: bit ranges
 * with fixed values), copied from its `rv_i`, `rv64_i`, `rv_m`, `rv64_m`, `rv_a`, `rv64_a`,
 * `rv_f`, `rv64_f`, `rv_d`, `rv64_d`, `rv_zicsr`, `rv_zifencei`, `rv_system` and `rv_s` files,
 * so a row can be checked against upstream by eye; `mask`/`match` are computed from it once,
 * at load. The compressed instructions (`rv_c`, `rv64_c`, `rv_c_d`) are in `rvc.ts`, which
 * expands them into rows of this table.
 *
 * Deliberate choices, all following riscv-opcodes and the unprivileged spec:
 * - RV64 shifts: `slli`/`srli`/`srai` take a 6-bit shamt (`31..26` fixed), the RV32 5-bit forms
 *   are not in the table.
 * - `fence` constrains only funct3 and the opcode: fm, rd and rs1 are "reserved for future use,
 *   base implementations shall ignore" them, so every such word is a FENCE. `fence.tso` (fm=8,
 *   RW,RW) and `pause` (fence w,0) are such words rather than rows of their own, so that no two
 *   rows overlap; the disassembler names them.
 * - `fence.i` likewise ignores imm[11:0], rs1 and rd (Zifencei's forward-compatibility rule).
 * - Rows with an `rm` field accept all eight values; rm 5 and 6 (reserved) and a dynamic rm
 *   with an invalid `frm` are the executor's illegal-instruction checks.
 * - `csrr*` accept any CSR number; which CSRs exist, and with what privilege, is the CSR file's
 *   business.
 */

import { EmuhostError } from '@emuhost/sdk';

/**
 * What operands a row has and how its immediate is laid out; the disassembler prints by it and
 * the executor can dispatch on it. Register operands are named by the ISA's field names.
 */
export type Format =
  /** rd, rs1, rs2 */
  | 'R'
  /** rd, rs1, rs2, rm (fadd.d fd,fs1,fs2,rm) */
  | 'R-rm'
  /** rd, rs1; rs2 is fixed by the match (fmv.x.d, fclass.d) */
  | 'R1'
  /** rd, rs1, rm; rs2 is fixed by the match (fsqrt.d, fcvt.*) */
  | 'R1-rm'
  /** rd, rs1, rs2, rs3, rm (the fused multiply-adds) */
  | 'R4-rm'
  /** rd, rs1, immI: arithmetic with an immediate (addi, addiw, slti...) */
  | 'I'
  /** rd, immI(rs1): loads and jalr */
  | 'I-offset'
  /** rs2, immS(rs1): stores */
  | 'S'
  /** rs1, rs2, pc + immB */
  | 'B'
  /** rd, immU (lui, auipc) */
  | 'U'
  /** rd, pc + immJ (jal) */
  | 'J'
  /** rd, rs1, shamt6 (slli, srli, srai) */
  | 'shift'
  /** rd, rs1, shamt5 (slliw, srliw, sraiw) */
  | 'shiftw'
  /** rd, csr, rs1 */
  | 'csr'
  /** rd, csr, uimm5 in the rs1 field */
  | 'csri'
  /** rd, (rs1), aq, rl: lr.w / lr.d (rs2 fixed to 0) */
  | 'lr'
  /** rd, rs2, (rs1), aq, rl: sc and the AMOs */
  | 'amo'
  /** fm, pred, succ; rd and rs1 ignored */
  | 'fence'
  /** rs1 (vaddr), rs2 (asid) */
  | 'sfence.vma'
  /** no operands (ecall, ebreak, mret, sret, wfi, fence.i whose fields are ignored) */
  | 'none';

/** Which extension a row belongs to (misa letter, or the Z extension's name, or privileged). */
export type Ext = 'I' | 'M' | 'A' | 'F' | 'D' | 'Zicsr' | 'Zifencei' | 'priv';

/** Register file of one operand: `x` integer, `f` floating point, `-` not an operand. */
export type RegFile = 'x' | 'f' | '-';

/** One instruction of the table. */
export interface OpcodeSpec {
  /** Assembler name as GNU as spells it: `addi`, `fmadd.d`, `amoswap.w`, `lr.d`, `csrrwi`. */
  readonly name: string;
  /** Bits that identify the instruction (32-bit unsigned). */
  readonly mask: number;
  /** Value of those bits: a word `w` is this instruction iff `(w & mask) >>> 0 === match`. */
  readonly match: number;
  readonly format: Format;
  readonly ext: Ext;
  /**
   * Register file of rd, rs1, rs2, rs3, in that order (always 4 characters), e.g. `'xf--'`
   * for fcvt.w.d (integer rd, float rs1). `-` marks a field that is not a register operand.
   */
  readonly regs: `${RegFile}${RegFile}${RegFile}${RegFile}`;
  /** Position in `OPCODES` (stable for a given table; handy as a dispatch index). */
  readonly id: number;
  /** The riscv-opcodes constraint text this row was built from. */
  readonly fixed: string;
}

type Row = readonly [name: string, format: Format, regs: OpcodeSpec['regs'], fixed: string];

// riscv-opcodes names opcode bits 6..2 and 1..0 separately; all rows here are 32-bit (1..0=3).
const I: readonly Row[] = [
  ['lui', 'U', 'x---', '6..2=0x0D 1..0=3'],
  ['auipc', 'U', 'x---', '6..2=0x05 1..0=3'],
  ['jal', 'J', 'x---', '6..2=0x1b 1..0=3'],
  ['jalr', 'I-offset', 'xx--', '14..12=0 6..2=0x19 1..0=3'],
  ['beq', 'B', '-xx-', '14..12=0 6..2=0x18 1..0=3'],
  ['bne', 'B', '-xx-', '14..12=1 6..2=0x18 1..0=3'],
  ['blt', 'B', '-xx-', '14..12=4 6..2=0x18 1..0=3'],
  ['bge', 'B', '-xx-', '14..12=5 6..2=0x18 1..0=3'],
  ['bltu', 'B', '-xx-', '14..12=6 6..2=0x18 1..0=3'],
  ['bgeu', 'B', '-xx-', '14..12=7 6..2=0x18 1..0=3'],
  ['lb', 'I-offset', 'xx--', '14..12=0 6..2=0x00 1..0=3'],
  ['lh', 'I-offset', 'xx--', '14..12=1 6..2=0x00 1..0=3'],
  ['lw', 'I-offset', 'xx--', '14..12=2 6..2=0x00 1..0=3'],
  ['lbu', 'I-offset', 'xx--', '14..12=4 6..2=0x00 1..0=3'],
  ['lhu', 'I-offset', 'xx--', '14..12=5 6..2=0x00 1..0=3'],
  ['sb', 'S', '-xx-', '14..12=0 6..2=0x08 1..0=3'],
  ['sh', 'S', '-xx-', '14..12=1 6..2=0x08 1..0=3'],
  ['sw', 'S', '-xx-', '14..12=2 6..2=0x08 1..0=3'],
  ['addi', 'I', 'xx--', '14..12=0 6..2=0x04 1..0=3'],
  ['slti', 'I', 'xx--', '14..12=2 6..2=0x04 1..0=3'],
  ['sltiu', 'I', 'xx--', '14..12=3 6..2=0x04 1..0=3'],
  ['xori', 'I', 'xx--', '14..12=4 6..2=0x04 1..0=3'],
  ['ori', 'I', 'xx--', '14..12=6 6..2=0x04 1..0=3'],
  ['andi', 'I', 'xx--', '14..12=7 6..2=0x04 1..0=3'],
  ['add', 'R', 'xxx-', '31..25=0 14..12=0 6..2=0x0C 1..0=3'],
  ['sub', 'R', 'xxx-', '31..25=32 14..12=0 6..2=0x0C 1..0=3'],
  ['sll', 'R', 'xxx-', '31..25=0 14..12=1 6..2=0x0C 1..0=3'],
  ['slt', 'R', 'xxx-', '31..25=0 14..12=2 6..2=0x0C 1..0=3'],
  ['sltu', 'R', 'xxx-', '31..25=0 14..12=3 6..2=0x0C 1..0=3'],
  ['xor', 'R', 'xxx-', '31..25=0 14..12=4 6..2=0x0C 1..0=3'],
  ['srl', 'R', 'xxx-', '31..25=0 14..12=5 6..2=0x0C 1..0=3'],
  ['sra', 'R', 'xxx-', '31..25=32 14..12=5 6..2=0x0C 1..0=3'],
  ['or', 'R', 'xxx-', '31..25=0 14..12=6 6..2=0x0C 1..0=3'],
  ['and', 'R', 'xxx-', '31..25=0 14..12=7 6..2=0x0C 1..0=3'],
  ['fence', 'fence', '----', '14..12=0 6..2=0x03 1..0=3'],
  ['ecall', 'none', '----', '31..20=0x000 19..7=0 6..2=0x1C 1..0=3'],
  ['ebreak', 'none', '----', '31..20=0x001 19..7=0 6..2=0x1C 1..0=3'],
  // rv64_i
  ['lwu', 'I-offset', 'xx--', '14..12=6 6..2=0x00 1..0=3'],
  ['ld', 'I-offset', 'xx--', '14..12=3 6..2=0x00 1..0=3'],
  ['sd', 'S', '-xx-', '14..12=3 6..2=0x08 1..0=3'],
  ['slli', 'shift', 'xx--', '31..26=0 14..12=1 6..2=0x04 1..0=3'],
  ['srli', 'shift', 'xx--', '31..26=0 14..12=5 6..2=0x04 1..0=3'],
  ['srai', 'shift', 'xx--', '31..26=16 14..12=5 6..2=0x04 1..0=3'],
  ['addiw', 'I', 'xx--', '14..12=0 6..2=0x06 1..0=3'],
  ['slliw', 'shiftw', 'xx--', '31..25=0 14..12=1 6..2=0x06 1..0=3'],
  ['srliw', 'shiftw', 'xx--', '31..25=0 14..12=5 6..2=0x06 1..0=3'],
  ['sraiw', 'shiftw', 'xx--', '31..25=32 14..12=5 6..2=0x06 1..0=3'],
  ['addw', 'R', 'xxx-', '31..25=0 14..12=0 6..2=0x0E 1..0=3'],
  ['subw', 'R', 'xxx-', '31..25=32 14..12=0 6..2=0x0E 1..0=3'],
  ['sllw', 'R', 'xxx-', '31..25=0 14..12=1 6..2=0x0E 1..0=3'],
  ['srlw', 'R', 'xxx-', '31..25=0 14..12=5 6..2=0x0E 1..0=3'],
  ['sraw', 'R', 'xxx-', '31..25=32 14..12=5 6..2=0x0E 1..0=3'],
];

const M: readonly Row[] = [
  ['mul', 'R', 'xxx-', '31..25=1 14..12=0 6..2=0x0C 1..0=3'],
  ['mulh', 'R', 'xxx-', '31..25=1 14..12=1 6..2=0x0C 1..0=3'],
  ['mulhsu', 'R', 'xxx-', '31..25=1 14..12=2 6..2=0x0C 1..0=3'],
  ['mulhu', 'R', 'xxx-', '31..25=1 14..12=3 6..2=0x0C 1..0=3'],
  ['div', 'R', 'xxx-', '31..25=1 14..12=4 6..2=0x0C 1..0=3'],
  ['divu', 'R', 'xxx-', '31..25=1 14..12=5 6..2=0x0C 1..0=3'],
  ['rem', 'R', 'xxx-', '31..25=1 14..12=6 6..2=0x0C 1..0=3'],
  ['remu', 'R', 'xxx-', '31..25=1 14..12=7 6..2=0x0C 1..0=3'],
  // rv64_m
  ['mulw', 'R', 'xxx-', '31..25=1 14..12=0 6..2=0x0E 1..0=3'],
  ['divw', 'R', 'xxx-', '31..25=1 14..12=4 6..2=0x0E 1..0=3'],
  ['divuw', 'R', 'xxx-', '31..25=1 14..12=5 6..2=0x0E 1..0=3'],
  ['remw', 'R', 'xxx-', '31..25=1 14..12=6 6..2=0x0E 1..0=3'],
  ['remuw', 'R', 'xxx-', '31..25=1 14..12=7 6..2=0x0E 1..0=3'],
];

/** rv_a (funct3 2, .w) and rv64_a (funct3 3, .d): funct5 is 31..27 (29 and 28..27 upstream). */
const A: readonly Row[] = (['w', 'd'] as const).flatMap((size): Row[] => {
  const f3 = size === 'w' ? 2 : 3;
  const amo = (name: string, hi: number, lo: number): Row => [
    `${name}.${size}`,
    'amo',
    'xxx-',
    `31..29=${hi} 28..27=${lo} 14..12=${f3} 6..2=0x0B 1..0=3`,
  ];
  return [
    [`lr.${size}`, 'lr', 'xx--', `24..20=0 31..29=0 28..27=2 14..12=${f3} 6..2=0x0B 1..0=3`],
    amo('sc', 0, 3),
    amo('amoswap', 0, 1),
    amo('amoadd', 0, 0),
    amo('amoxor', 1, 0),
    amo('amoand', 3, 0),
    amo('amoor', 2, 0),
    amo('amomin', 4, 0),
    amo('amomax', 5, 0),
    amo('amominu', 6, 0),
    amo('amomaxu', 7, 0),
  ];
});

/**
 * rv_f/rv64_f (fmt 26..25=0, `.s`) and rv_d/rv64_d (fmt 26..25=1, `.d`): the same rows with a
 * different fmt field, except the conversions between the two formats and the load/store.
 */
const FD = (ext: 'F' | 'D'): readonly Row[] => {
  const s = ext === 'F' ? 's' : 'd';
  const fmt = ext === 'F' ? 0 : 1;
  const w = ext === 'F' ? 'w' : 'd'; // fmv.x.w / fmv.x.d
  const op = (f5: number, rest: string) =>
    `${rest} 31..27=0x${f5.toString(16).padStart(2, '0')} 26..25=${fmt} 6..2=0x14 1..0=3`;
  const rows: Row[] = [
    [`fmadd.${s}`, 'R4-rm', 'ffff', `26..25=${fmt} 6..2=0x10 1..0=3`],
    [`fmsub.${s}`, 'R4-rm', 'ffff', `26..25=${fmt} 6..2=0x11 1..0=3`],
    [`fnmsub.${s}`, 'R4-rm', 'ffff', `26..25=${fmt} 6..2=0x12 1..0=3`],
    [`fnmadd.${s}`, 'R4-rm', 'ffff', `26..25=${fmt} 6..2=0x13 1..0=3`],
    [`fadd.${s}`, 'R-rm', 'fff-', op(0x00, '')],
    [`fsub.${s}`, 'R-rm', 'fff-', op(0x01, '')],
    [`fmul.${s}`, 'R-rm', 'fff-', op(0x02, '')],
    [`fdiv.${s}`, 'R-rm', 'fff-', op(0x03, '')],
    [`fsqrt.${s}`, 'R1-rm', 'ff--', op(0x0b, '24..20=0')],
    [`fsgnj.${s}`, 'R', 'fff-', op(0x04, '14..12=0')],
    [`fsgnjn.${s}`, 'R', 'fff-', op(0x04, '14..12=1')],
    [`fsgnjx.${s}`, 'R', 'fff-', op(0x04, '14..12=2')],
    [`fmin.${s}`, 'R', 'fff-', op(0x05, '14..12=0')],
    [`fmax.${s}`, 'R', 'fff-', op(0x05, '14..12=1')],
    [`feq.${s}`, 'R', 'xff-', op(0x14, '14..12=2')],
    [`flt.${s}`, 'R', 'xff-', op(0x14, '14..12=1')],
    [`fle.${s}`, 'R', 'xff-', op(0x14, '14..12=0')],
    [`fclass.${s}`, 'R1', 'xf--', op(0x1c, '24..20=0 14..12=1')],
    [`fcvt.w.${s}`, 'R1-rm', 'xf--', op(0x18, '24..20=0')],
    [`fcvt.wu.${s}`, 'R1-rm', 'xf--', op(0x18, '24..20=1')],
    [`fcvt.l.${s}`, 'R1-rm', 'xf--', op(0x18, '24..20=2')],
    [`fcvt.lu.${s}`, 'R1-rm', 'xf--', op(0x18, '24..20=3')],
    [`fcvt.${s}.w`, 'R1-rm', 'fx--', op(0x1a, '24..20=0')],
    [`fcvt.${s}.wu`, 'R1-rm', 'fx--', op(0x1a, '24..20=1')],
    [`fcvt.${s}.l`, 'R1-rm', 'fx--', op(0x1a, '24..20=2')],
    [`fcvt.${s}.lu`, 'R1-rm', 'fx--', op(0x1a, '24..20=3')],
    [`fmv.x.${w}`, 'R1', 'xf--', op(0x1c, '24..20=0 14..12=0')],
    [`fmv.${w}.x`, 'R1', 'fx--', op(0x1e, '24..20=0 14..12=0')],
  ];
  const mem: Row[] =
    ext === 'F'
      ? [
          ['flw', 'I-offset', 'fx--', '14..12=2 6..2=0x01 1..0=3'],
          ['fsw', 'S', '-xf-', '14..12=2 6..2=0x09 1..0=3'],
        ]
      : [
          ['fld', 'I-offset', 'fx--', '14..12=3 6..2=0x01 1..0=3'],
          ['fsd', 'S', '-xf-', '14..12=3 6..2=0x09 1..0=3'],
          ['fcvt.s.d', 'R1-rm', 'ff--', '24..20=1 31..27=0x08 26..25=0 6..2=0x14 1..0=3'],
          ['fcvt.d.s', 'R1-rm', 'ff--', '24..20=0 31..27=0x08 26..25=1 6..2=0x14 1..0=3'],
        ];
  return [...mem, ...rows];
};

const ZICSR: readonly Row[] = [
  ['csrrw', 'csr', 'xx--', '14..12=1 6..2=0x1C 1..0=3'],
  ['csrrs', 'csr', 'xx--', '14..12=2 6..2=0x1C 1..0=3'],
  ['csrrc', 'csr', 'xx--', '14..12=3 6..2=0x1C 1..0=3'],
  ['csrrwi', 'csri', 'x---', '14..12=5 6..2=0x1C 1..0=3'],
  ['csrrsi', 'csri', 'x---', '14..12=6 6..2=0x1C 1..0=3'],
  ['csrrci', 'csri', 'x---', '14..12=7 6..2=0x1C 1..0=3'],
];

const ZIFENCEI: readonly Row[] = [['fence.i', 'none', '----', '14..12=1 6..2=0x03 1..0=3']];

/** rv_system (mret, wfi) and rv_s (sret, sfence.vma). */
const PRIV: readonly Row[] = [
  ['mret', 'none', '----', '11..7=0 19..15=0 31..20=0x302 14..12=0 6..2=0x1C 1..0=3'],
  ['sret', 'none', '----', '11..7=0 19..15=0 31..20=0x102 14..12=0 6..2=0x1C 1..0=3'],
  ['wfi', 'none', '----', '11..7=0 19..15=0 31..20=0x105 14..12=0 6..2=0x1C 1..0=3'],
  ['sfence.vma', 'sfence.vma', '-xx-', '11..7=0 31..25=0x09 14..12=0 6..2=0x1C 1..0=3'],
];

/**
 * Parses riscv-opcodes' constraint notation (`hi..lo=value` or `bit=value`, values in decimal,
 * `0x` hex or `0b` binary) into a mask and a match.
 */
export function parseFixedBits(fixed: string): { mask: number; match: number } {
  let mask = 0;
  let match = 0;
  for (const term of fixed.trim().split(/\s+/)) {
    const m = /^(\d+)(?:\.\.(\d+))?=(0x[0-9a-f]+|0b[01]+|\d+)$/i.exec(term);
    if (!m)
      throw new EmuhostError('E_BAD_ARGUMENT', `opcodes: cannot parse '${term}' in '${fixed}'`);
    const hi = Number(m[1]);
    const lo = m[2] === undefined ? hi : Number(m[2]);
    const value = Number(m[3]);
    const width = hi - lo + 1;
    if (lo > hi || hi > 31 || value >= 2 ** width) {
      throw new EmuhostError('E_BAD_ARGUMENT', `opcodes: '${term}' does not fit its bit range`);
    }
    const bits = (width === 32 ? 0xffffffff : (1 << width) - 1) << lo;
    if (mask & bits) {
      throw new EmuhostError('E_BAD_ARGUMENT', `opcodes: '${term}' overlaps another range`);
    }
    mask = (mask | bits) >>> 0;
    match = (match | (value << lo)) >>> 0;
  }
  return { mask, match };
}

const GROUPS: readonly (readonly [Ext, readonly Row[]])[] = [
  ['I', I],
  ['M', M],
  ['A', A],
  ['F', FD('F')],
  ['D', FD('D')],
  ['Zicsr', ZICSR],
  ['Zifencei', ZIFENCEI],
  ['priv', PRIV],
];

/** Every RV64GC instruction (IMAFD + Zicsr + Zifencei + the privileged ones), 32-bit forms. */
export const OPCODES: readonly OpcodeSpec[] = Object.freeze(
  GROUPS.flatMap(([ext, rows]) => rows.map((row) => [ext, row] as const)).map(
    ([ext, [name, format, regs, fixed]], id): OpcodeSpec =>
      Object.freeze({ name, ...parseFixedBits(fixed), format, ext, regs, id, fixed }),
  ),
);

const BY_NAME = new Map(OPCODES.map((s) => [s.name, s]));

/** The row named `name` (`'addi'`, `'fmadd.d'`...), or undefined. */
export function opcodeByName(name: string): OpcodeSpec | undefined {
  return BY_NAME.get(name);
}
