import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CSR_NAMES, csrName } from './csr-names.js';
import { disassemble } from './disasm.js';
import { F_ABI_NAMES, X_ABI_NAMES } from './registers.js';

interface FixtureLine {
  readonly where: string;
  readonly pc: bigint;
  readonly word: number;
  readonly length: 2 | 4;
  readonly text: string;
}

/** Reads a make-fixtures.sh output: `[elf\t]pc\thex\ttext`. */
function readFixture(name: string): FixtureLine[] {
  const text = readFileSync(new URL(`fixtures/${name}`, import.meta.url), 'utf8');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((line) => {
      const cols = line.split('\t');
      const [where, pc, hex, asm] = cols.length === 4 ? cols : ['all-insns', ...cols];
      return {
        where: `${where}@${pc}`,
        pc: BigInt(`0x${pc}`),
        word: Number.parseInt(hex as string, 16),
        length: (hex as string).length === 4 ? 2 : 4,
        text: asm as string,
      };
    });
}

const TARGET_OPERAND = new Set([
  'jal',
  'beq',
  'bne',
  'blt',
  'bge',
  'bltu',
  'bgeu',
  'c.j',
  'c.beqz',
  'c.bnez',
]);

/**
 * Where this disassembler deliberately prints something else than objdump 2.40, by encoding,
 * with the reason.
 */
const DIVERGES: ReadonlyMap<string, readonly [ours: string, why: string]> = new Map([
  ['0100000f', ['pause', 'objdump 2.40 without Zihintpause prints `fence w,unknown`']],
  ['0000000f', ['fence 0,0', 'objdump prints an empty fence set as `unknown`']],
  ['8ff0000f', ['fence iorw,iorw', 'reserved fm: the spec says execute as a plain fence']],
  ['0ff5050f', ['fence iorw,iorw', 'fence rd/rs1 are ignored (spec), objdump refuses them']],
  ['fff5950f', ['fence.i', 'fence.i imm/rs1/rd are ignored (Zifencei), objdump refuses them']],
  [
    'd2057553',
    ['fcvt.d.w fa0,a0', 'riscv-opcodes gives fcvt.d.w an rm field; binutils fixes it to 0'],
  ],
  ['d2157553', ['fcvt.d.wu fa0,a0', 'as fcvt.d.w']],
  ['42057553', ['fcvt.d.s fa0,fa0', 'as fcvt.d.w']],
  ['0000', ['c.unimp', 'in an ELF whose arch attribute lacks C, objdump decodes no RVC']],
  ['00200073', ['.4byte 0x200073', 'uret (N extension) is not RV64GC']],
  ['6101', ['.2byte 0x6101', 'C.ADDI16SP with nzimm 0 is reserved; objdump accepts it']],
  ['0002', ['c.slli zero,0x0', 'zero-shamt HINT; objdump names it c.slli64 (RV128)']],
  ['8001', ['c.srli s0,0x0', 'zero-shamt HINT; objdump names it c.srli64 (RV128)']],
  ['8401', ['c.srai s0,0x0', 'zero-shamt HINT; objdump names it c.srai64 (RV128)']],
]);

/** objdump's text in our spelling: targets as 0x..., CSRs binutils 2.40 does not name. */
function expected(line: FixtureLine): string {
  const hex = line.word.toString(16).padStart(line.length * 2, '0');
  const diverges = DIVERGES.get(hex);
  if (diverges) return diverges[0];
  const space = line.text.indexOf(' ');
  if (space < 0) return line.text;
  const mnemonic = line.text.slice(0, space);
  const ops = line.text.slice(space + 1).split(',');
  if (TARGET_OPERAND.has(mnemonic)) ops[ops.length - 1] = `0x${ops[ops.length - 1]}`;
  if (mnemonic.startsWith('csrr') && ops[1]?.startsWith('0x')) ops[1] = csrName(Number(ops[1]));
  return `${mnemonic} ${ops.join(',')}`;
}

const ours = (l: FixtureLine) => disassemble(l.word, l.pc, l.length).replace(/ +/, ' ');

describe('disassemble', () => {
  it('prints every line of all-insns.S as objdump -M no-aliases does', () => {
    const lines = readFixture('all-insns.txt');
    expect(lines.length).toBeGreaterThan(500);
    const wrong = lines.filter((l) => ours(l) !== expected(l));
    expect(wrong.map((l) => `${l.where}: ${ours(l)} | objdump: ${l.text}`)).toEqual([]);
  });

  it('prints the riscv-tests sample as objdump does', () => {
    const lines = readFixture('riscv-tests.txt');
    expect(lines.length).toBeGreaterThan(300);
    const wrong = lines.filter((l) => ours(l) !== expected(l));
    expect(wrong.map((l) => `${l.where}: ${ours(l)} | objdump: ${l.text}`)).toEqual([]);
  });

  it('pads the mnemonic to eight columns, one space after a long one', () => {
    expect(disassemble(0x00150513, 0, 4)).toBe('addi    a0,a0,1');
    expect(disassemble(0x06b6252f, 0, 4)).toBe('amoadd.w.aqrl a0,a1,(a2)');
    expect(disassemble(0x00000073, 0, 4)).toBe('ecall');
    expect(disassemble(0x02c59553, 0, 4)).toBe('fadd.d  fa0,fa1,fa2,rtz');
    expect(disassemble(0x0505, 0, 2)).toBe('c.addi  a0,1');
  });

  it('resolves pc-relative targets against a 64-bit pc and names them', () => {
    // jal ra,-4 at 0: wraps to the top of the 64-bit space.
    expect(disassemble(0xffdff0ef, 0, 4)).toBe('jal     ra,0xfffffffffffffffc');
    expect(disassemble(0xffdff0ef, 0xffffffff80000000n, 4)).toBe('jal     ra,0xffffffff7ffffffc');
    const symbolize = (a: bigint) => (a === 0x80000050n ? 'reset_vector' : undefined);
    expect(disassemble(0x0500006f, 0x80000000, 4, { symbolize })).toBe(
      'jal     zero,0x80000050 <reset_vector>',
    );
    expect(disassemble(0x0500006f, 0x80000004, 4, { symbolize })).toBe('jal     zero,0x80000054');
  });

  it('prints illegal encodings as data directives', () => {
    expect(disassemble(0x00000000, 0, 4)).toBe('.4byte  0x0');
    expect(disassemble(0xffffffff, 0, 4)).toBe('.4byte  0xffffffff');
    expect(disassemble(0x0000707f, 0, 4)).toBe('.4byte  0x707f');
    expect(disassemble(0x0000, 0, 2)).toBe('c.unimp');
    expect(disassemble(0x8000, 0, 2)).toBe('.2byte  0x8000');
    expect(disassemble(0xc0001073, 0, 4)).toBe('unimp');
  });

  it('names every CSR the brief lists', () => {
    const names = [...CSR_NAMES.values()];
    for (const n of ['mstatus', 'satp', 'pmpcfg15', 'pmpaddr63', 'mhpmevent31', 'hpmcounter31']) {
      expect(names).toContain(n);
    }
    expect(CSR_NAMES.size).toBe(new Set(names).size);
    expect(csrName(0x7c0)).toBe('0x7c0');
  });

  it('exports the ABI register tables', () => {
    expect(X_ABI_NAMES).toHaveLength(32);
    expect(F_ABI_NAMES).toHaveLength(32);
    expect(X_ABI_NAMES[8]).toBe('s0');
    expect(F_ABI_NAMES[31]).toBe('ft11');
  });
});
