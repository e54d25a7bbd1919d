import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as f from './fields.js';

/**
 * The naive model: the word as a 32-character bit string, immediates assembled bit by bit
 * from the spec's instruction-format figures (unprivileged spec, "Immediate Encoding
 * Variants"), then read as two's complement.
 */
function bitsOf(w: number): (i: number) => string {
  const s = (w >>> 0).toString(2).padStart(32, '0');
  return (i) => s[31 - i] as string;
}
function signed(bitString: string): number {
  const v = Number.parseInt(bitString, 2);
  return bitString[0] === '1' ? v - 2 ** bitString.length : v;
}
function unsigned(bitString: string): number {
  return Number.parseInt(bitString, 2);
}
/** Bits of w from hi down to lo as a string. */
function range(w: number, hi: number, lo: number): string {
  const b = bitsOf(w);
  let s = '';
  for (let i = hi; i >= lo; i--) s += b(i);
  return s;
}

const model = {
  rd: (w: number) => unsigned(range(w, 11, 7)),
  rs1: (w: number) => unsigned(range(w, 19, 15)),
  rs2: (w: number) => unsigned(range(w, 24, 20)),
  rs3: (w: number) => unsigned(range(w, 31, 27)),
  rm: (w: number) => unsigned(range(w, 14, 12)),
  csr: (w: number) => unsigned(range(w, 31, 20)),
  immI: (w: number) => signed(range(w, 31, 20)),
  immS: (w: number) => signed(range(w, 31, 25) + range(w, 11, 7)),
  // imm[12|10:5] = inst[31|30:25], imm[4:1|11] = inst[11:8|7], imm[0] = 0
  immB: (w: number) =>
    signed([range(w, 31, 31), range(w, 7, 7), range(w, 30, 25), range(w, 11, 8), '0'].join('')),
  immU: (w: number) => signed(`${range(w, 31, 12)}000000000000`),
  // imm[20|10:1|11|19:12] = inst[31|30:21|20|19:12], imm[0] = 0
  immJ: (w: number) =>
    signed([range(w, 31, 31), range(w, 19, 12), range(w, 20, 20), range(w, 30, 21), '0'].join('')),
  shamt6: (w: number) => unsigned(range(w, 25, 20)),
  shamt5: (w: number) => unsigned(range(w, 24, 20)),
  aq: (w: number) => unsigned(range(w, 26, 26)),
  rl: (w: number) => unsigned(range(w, 25, 25)),
  pred: (w: number) => unsigned(range(w, 27, 24)),
  succ: (w: number) => unsigned(range(w, 23, 20)),
  fm: (w: number) => unsigned(range(w, 31, 28)),
  funct3: (w: number) => unsigned(range(w, 14, 12)),
  funct7: (w: number) => unsigned(range(w, 31, 25)),
  opcode: (w: number) => unsigned(range(w, 6, 0)),
};

describe('field extractors', () => {
  it('agree with the bit-by-bit model on random words (signed and unsigned input)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (w) => {
        const wrong = Object.entries(model).filter(([name, naive]) => {
          const fast = (f as unknown as Record<string, (w: number) => number>)[name]!;
          return fast(w) !== naive(w) || fast(w | 0) !== naive(w);
        });
        expect(wrong.map(([name]) => name)).toEqual([]);
      }),
      { numRuns: 3000 },
    );
  }, 60_000);

  it('decode known words', () => {
    expect(f.immI(0xfff00513)).toBe(-1); // addi a0,zero,-1
    expect(f.immS(0xfea43c23)).toBe(-8); // sd a0,-8(s0)
    expect(f.immB(0xfe0008e3)).toBe(-16); // beq zero,zero,.-16
    expect(f.immJ(0x7ffff7ef)).toBe(0xffffe); // jal a5,.+0xffffe
    expect(f.immJ(0x800002ef)).toBe(-0x100000); // jal t0,.-0x100000
    expect(f.immU(0x80000d97)).toBe(-0x80000000); // auipc s11,0x80000
    expect(f.csr(0xf1402573)).toBe(0xf14); // csrrs a0,mhartid,zero
    expect(f.shamt6(0x03f61593)).toBe(63); // slli a1,a2,63
  });
});
