import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode, decodeIndexStats } from './decode.js';
import { OPCODES, type OpcodeSpec } from './opcodes.js';

/** The naive decoder the indexed one must equal: scan the whole table. */
function linearDecode(w: number): OpcodeSpec | undefined {
  return OPCODES.find((s) => (w & s.mask) >>> 0 === s.match);
}

/** 32-bit lines of the binutils fixtures (see ../disasm/fixtures/make-fixtures.sh). */
function objdumpLines(): { hex: string; word: number; mnemonic: string }[] {
  return ['all-insns.txt', 'riscv-tests.txt'].flatMap((name) =>
    readFileSync(new URL(`../disasm/fixtures/${name}`, import.meta.url), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => l.split('\t').slice(-2) as [string, string])
      .filter(([hex]) => hex.length === 8)
      .map(([hex, text]) => ({
        hex,
        word: Number.parseInt(hex, 16),
        mnemonic: text.split(' ')[0] as string,
      })),
  );
}

/** objdump's mnemonic as the name of our row (undefined: objdump calls it illegal). */
function rowName(hex: string, mnemonic: string): string | undefined {
  // Where the decoder follows the spec / riscv-opcodes and binutils 2.40 does not.
  const diverges: Record<string, string | undefined> = {
    '8ff0000f': 'fence', // reserved fm: a plain fence
    '0ff5050f': 'fence', // rd/rs1 set: ignored
    fff5950f: 'fence.i', // imm/rs1/rd set: ignored
    d2057553: 'fcvt.d.w', // rm != 0: riscv-opcodes has an rm field, binutils fixes it
    d2157553: 'fcvt.d.wu',
    '42057553': 'fcvt.d.s',
    '00200073': undefined, // uret: N extension
  };
  if (hex in diverges) return diverges[hex];
  if (mnemonic === '.4byte') return undefined;
  if (mnemonic === 'unimp') return 'csrrw';
  if (mnemonic === 'fence.tso') return 'fence';
  return mnemonic.replace(/\.(aq|rl|aqrl)$/, '');
}

describe('decode', () => {
  it('names every 32-bit word of the binutils fixtures as objdump does, covering every row', () => {
    const lines = objdumpLines();
    const wrong = lines.filter((l) => decode(l.word)?.name !== rowName(l.hex, l.mnemonic));
    expect(wrong.map((l) => `${l.hex}: ${decode(l.word)?.name} vs ${l.mnemonic}`)).toEqual([]);
    const seen = new Set(lines.map((l) => decode(l.word)?.name));
    expect(OPCODES.filter((s) => !seen.has(s.name)).map((s) => s.name)).toEqual([]);
  });

  it('decodes known words', () => {
    const known: [number, string][] = [
      [0x00000013, 'addi'], // nop
      [0x00008067, 'jalr'], // ret
      [0x0000100f, 'fence.i'],
      [0x0ff0000f, 'fence'],
      [0x8330000f, 'fence'], // fence.tso
      [0x0100000f, 'fence'], // pause
      [0x00000073, 'ecall'],
      [0x00100073, 'ebreak'],
      [0x30200073, 'mret'],
      [0x10200073, 'sret'],
      [0x10500073, 'wfi'],
      [0x12000073, 'sfence.vma'],
      [0xc0001073, 'csrrw'], // unimp
      [0x4000d013, 'srai'], // srai zero,ra,0
      [0x43f7d793, 'srai'], // srai a5,a5,63: shamt[5] in bit 25
      [0x03f61593, 'slli'], // slli a1,a2,63
      [0x0000c053, 'fadd.s'], // rm = 4 (rmm)
      [0x00c5d553, 'fadd.s'], // rm = 5 (reserved): legal at decode, the executor checks
      [0x1000302f, 'lr.d'],
      [0xe1efbeaf, 'amomaxu.d'],
    ];
    expect(known.map(([w]) => [w.toString(16), decode(w)?.name ?? 'illegal'])).toEqual(
      known.map(([w, n]) => [w.toString(16), n]),
    );
  });

  it('rejects encodings outside the table', () => {
    const illegal: [number, string][] = [
      [0x00000000, 'all zero'],
      [0xffffffff, 'all ones'],
      [0x0000707f, 'a reserved >= 80-bit length encoding'],
      [0x04001013, 'slli with funct6 != 0'],
      [0x60005013, 'srli/srai with funct6 011000'],
      [0x0200101b, 'slliw with shamt[5] set'],
      [0x4200501b, 'sraiw with shamt[5] set'],
      [0x04000033, 'OP with funct7 0x02'],
      [0x40006033, 'or with funct7 0x20'],
      [0x0000407b, 'OP-32 funct3 4 funct7 0 (RV64 has no such)'],
      [0x00007003, 'load funct3 7 (ldu, RV128)'],
      [0x00004023, 'store funct3 4'],
      [0x00002063, 'branch funct3 2'],
      [0x00001067, 'jalr funct3 1'],
      [0x0000200f, 'MISC-MEM funct3 2 (cbo.*, Zicbo)'],
      [0x0000300f, 'MISC-MEM funct3 3'],
      [0x000000f3, 'ecall with rd != 0'],
      [0x00108073, 'ebreak with rs1 != 0'],
      [0x00200073, 'uret (N extension)'],
      [0x30300073, 'a SYSTEM funct3 0 immediate that is no instruction'],
      [0x10000073, 'sret-like immediate 0x100'],
      [0x120000f3, 'sfence.vma with rd != 0'],
      [0x22000073, 'hfence.vvma (H)'],
      [0x00004073, 'SYSTEM funct3 4 (H loads)'],
      [0x0000102f, 'AMO funct3 1 (Zabha)'],
      [0x00c0112f, 'AMO funct3 1 again'],
      [0x1005252f | (1 << 20), 'lr.w with rs2 != 0'],
      [0x2800202f, 'AMO funct5 00101 (amocas, Zacas)'],
      [0x04000053, 'OP-FP fmt 2 (H)'],
      [0x06000053, 'OP-FP fmt 3 (Q)'],
      [0xe0052553, 'fmv.x.w with funct3 2'],
      [0x58100553, 'fsqrt.s with rs2 1'],
      [0xc0400553, 'fcvt.w.s with rs2 4'],
      [0x00001007, 'flh (Zfh)'],
      [0x00004007, 'LOAD-FP funct3 4 (flq)'],
      [0x00000057, 'OP-V'],
      [0x0000000b, 'custom-0'],
      [0x0000005b, 'custom-2'],
    ];
    expect(
      illegal
        .filter(([w]) => decode(w) !== undefined)
        .map(([w, why]) => `${w.toString(16)} ${why}`),
    ).toEqual([]);
  });

  it('agrees with a linear scan of OPCODES on random words', () => {
    const opcodes = [...new Set(OPCODES.map((s) => s.match & 0x7f))];
    const biased = fc
      .tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom(...opcodes))
      .map(([w, op]) => ((w & ~0x7f) | op) >>> 0);
    const word = fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), biased);
    fc.assert(
      fc.property(word, (w) => decode(w) === linearDecode(w) && decode(w | 0) === linearDecode(w)),
      { numRuns: 50_000 },
    );
  }, 60_000);

  it('keeps candidate lists short and the flattened index within 16-bit offsets', () => {
    const { longest, entries } = decodeIndexStats();
    expect(longest).toBeLessThanOrEqual(4);
    expect(entries).toBeLessThan(0x10000);
  });
});
