/**
 * The disassembler: one instruction as text, in GNU objdump's `-M no-aliases` style.
 *
 * Canonical names and operand orders, ABI register names, decimal immediates except the
 * `lui`/`auipc` immediate and shift amounts (hex, as objdump), CSR names, AMO ordering suffixes
 * (`amoadd.w.aqrl`), a rounding mode only when it is not dynamic, and compressed instructions
 * under their `c.` names (`c.addi a0,1`). `-M no-aliases` rather than objdump's default
 * because the default picks odd aliases in binutils 2.40 (`addi` prints as `add t0,t0,16`,
 * `addiw` as `addw`) and because a trace should say which instruction ran. Branch and jump
 * targets are absolute (`0x80000010`), optionally followed by ` <symbol>`.
 *
 * Where the output differs from objdump 2.40 on purpose (objdump names fewer CSRs, prints
 * `fence w,unknown`, `.4byte` for a FENCE or FENCE.I whose ignored fields are set, `c.slli64`
 * for the zero-shamt HINTs, and accepts C.ADDI16SP with a zero immediate), the fixture test
 * lists each case.
 *
 * Illegal encodings print as `.4byte 0x...` / `.2byte 0x...` (objdump's spelling), the
 * all-zero halfword as `c.unimp` and `csrrw zero,cycle,zero` as `unimp`, its canonical
 * spelling.
 */

import { decode } from '../isa/decode.js';
import {
  aq,
  csr,
  fm,
  immB,
  immI,
  immJ,
  immS,
  immU,
  pred,
  rd,
  rl,
  rm,
  rs1,
  rs2,
  rs3,
  shamt5,
  shamt6,
  succ,
} from '../isa/fields.js';
import type { OpcodeSpec, RegFile } from '../isa/opcodes.js';
import { compressedSpec, expandCompressed } from '../isa/rvc.js';
import { csrName } from './csr-names.js';
import { F_ABI_NAMES, ROUNDING_MODE_NAMES, X_ABI_NAMES } from './registers.js';

/** Options of `disassemble`. */
export interface DisasmOptions {
  /** Names an absolute branch/jump target: printed as `0x80000010 <name>` when it answers. */
  readonly symbolize?: (addr: bigint) => string | undefined;
}

const MASK64 = (1n << 64n) - 1n;
const UNIMP = 0xc0001073; // csrrw zero,cycle,zero: the canonical unimp
const PAUSE = 0x0100000f; // fence w,0 with rd = rs1 = 0 and fm = 0 (Zihintpause)
/** Exact conversions: binutils prints no rounding mode for them whatever the rm field holds. */
const NO_RM_SHOWN = new Set(['fcvt.d.w', 'fcvt.d.wu', 'fcvt.d.s']);

function reg(file: RegFile, n: number): string {
  return (file === 'f' ? F_ABI_NAMES : X_ABI_NAMES)[n] as string;
}

function target(pc: number | bigint, offset: number, opts: DisasmOptions): string {
  const addr = (BigInt(pc) + BigInt(offset)) & MASK64;
  const sym = opts.symbolize?.(addr);
  return `0x${addr.toString(16)}${sym === undefined ? '' : ` <${sym}>`}`;
}

function fenceSet(bits: number): string {
  if (bits === 0) return '0';
  return ['i', 'o', 'r', 'w'].filter((_, i) => bits & (8 >> i)).join('');
}

function ordering(insn: number): string {
  return (aq(insn) ? '.aq' : '') + (rl(insn) ? (aq(insn) ? 'rl' : '.rl') : '');
}

/** Mnemonic (with any ordering suffix) and operand strings of a 32-bit instruction. */
function parts(
  spec: OpcodeSpec,
  insn: number,
  pc: number | bigint,
  opts: DisasmOptions,
): [string, string[]] {
  const file = (operand: 0 | 1 | 2 | 3) => spec.regs[operand] as RegFile;
  const d = reg(file(0), rd(insn));
  const s1 = reg(file(1), rs1(insn));
  const s2 = reg(file(2), rs2(insn));
  const withRm = (ops: string[]): string[] => {
    const mode = rm(insn);
    return mode === 7 || NO_RM_SHOWN.has(spec.name)
      ? ops
      : [...ops, ROUNDING_MODE_NAMES[mode] as string];
  };
  switch (spec.format) {
    case 'R':
      return [spec.name, [d, s1, s2]];
    case 'R-rm':
      return [spec.name, withRm([d, s1, s2])];
    case 'R1':
      return [spec.name, [d, s1]];
    case 'R1-rm':
      return [spec.name, withRm([d, s1])];
    case 'R4-rm':
      return [spec.name, withRm([d, s1, s2, reg(file(3), rs3(insn))])];
    case 'I':
      return [spec.name, [d, s1, String(immI(insn))]];
    case 'I-offset':
      return [spec.name, [d, `${immI(insn)}(${s1})`]];
    case 'S':
      return [spec.name, [s2, `${immS(insn)}(${s1})`]];
    case 'B':
      return [spec.name, [s1, s2, target(pc, immB(insn), opts)]];
    case 'U':
      return [spec.name, [d, `0x${(immU(insn) >>> 12).toString(16)}`]];
    case 'J':
      return [spec.name, [d, target(pc, immJ(insn), opts)]];
    case 'shift':
      return [spec.name, [d, s1, `0x${shamt6(insn).toString(16)}`]];
    case 'shiftw':
      return [spec.name, [d, s1, `0x${shamt5(insn).toString(16)}`]];
    case 'csr':
      return [spec.name, [d, csrName(csr(insn)), s1]];
    case 'csri':
      return [spec.name, [d, csrName(csr(insn)), String(rs1(insn))]];
    case 'lr':
      return [spec.name + ordering(insn), [d, `(${s1})`]];
    case 'amo':
      return [spec.name + ordering(insn), [d, s2, `(${s1})`]];
    case 'fence':
      if (fm(insn) === 8 && pred(insn) === 3 && succ(insn) === 3) return ['fence.tso', []];
      if (insn >>> 0 === PAUSE) return ['pause', []];
      return [spec.name, [fenceSet(pred(insn)), fenceSet(succ(insn))]];
    case 'sfence.vma':
      return [spec.name, [s1, s2]];
    case 'none':
      return [spec.name, []];
  }
}

/**
 * How objdump -M no-aliases shows each compressed instruction: which operands of the
 * expanded 32-bit instruction's operand list it keeps (`c.addi a0,1` is `addi a0,a0,1`
 * without the repeated register). `rs1` marks C.JR/C.JALR, whose one operand is rs1.
 */
const COMPRESSED_OPERANDS: Readonly<Record<string, readonly number[] | 'rs1'>> = {
  'c.addi4spn': [0, 1, 2],
  'c.fld': [0, 1],
  'c.lw': [0, 1],
  'c.ld': [0, 1],
  'c.fsd': [0, 1],
  'c.sw': [0, 1],
  'c.sd': [0, 1],
  'c.addi': [0, 2],
  'c.addiw': [0, 2],
  'c.li': [0, 2],
  'c.addi16sp': [0, 2],
  'c.lui': [0, 1],
  'c.srli': [0, 2],
  'c.srai': [0, 2],
  'c.andi': [0, 2],
  'c.sub': [0, 2],
  'c.xor': [0, 2],
  'c.or': [0, 2],
  'c.and': [0, 2],
  'c.subw': [0, 2],
  'c.addw': [0, 2],
  'c.j': [1],
  'c.beqz': [0, 2],
  'c.bnez': [0, 2],
  'c.slli': [0, 2],
  'c.fldsp': [0, 1],
  'c.lwsp': [0, 1],
  'c.ldsp': [0, 1],
  'c.jr': 'rs1',
  'c.mv': [0, 2],
  'c.ebreak': [],
  'c.jalr': 'rs1',
  'c.add': [0, 2],
  'c.fsdsp': [0, 1],
  'c.swsp': [0, 1],
  'c.sdsp': [0, 1],
};

function format(mnemonic: string, ops: readonly string[]): string {
  return ops.length === 0 ? mnemonic : `${mnemonic.padEnd(7)} ${ops.join(',')}`;
}

function hex(v: number): string {
  return `0x${(v >>> 0).toString(16)}`;
}

/**
 * One instruction as text. `insn` is the 32-bit word (`length` 4) or the halfword (`length`
 * 2, low 16 bits used); `pc` is its address, for pc-relative targets.
 */
export function disassemble(
  insn: number,
  pc: number | bigint,
  length: 2 | 4,
  opts: DisasmOptions = {},
): string {
  if (length === 2) {
    const h = insn & 0xffff;
    if (h === 0) return 'c.unimp';
    const word = expandCompressed(h);
    const cspec = compressedSpec(h);
    if (word === 0 || cspec === undefined) return format('.2byte', [hex(h)]);
    const [, ops] = parts(cspec.expandsTo, word, pc, opts);
    const pick = COMPRESSED_OPERANDS[cspec.name] ?? [];
    const shown =
      pick === 'rs1' ? [X_ABI_NAMES[rs1(word)] as string] : pick.map((i) => ops[i] as string);
    return format(cspec.name, shown);
  }
  if (insn >>> 0 === UNIMP) return 'unimp';
  const spec = decode(insn);
  if (spec === undefined) return format('.4byte', [hex(insn)]);
  const [mnemonic, ops] = parts(spec, insn, pc, opts);
  return format(mnemonic, ops);
}
