import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode } from './decode.js';
import { encode, type Operands } from './encode.js';
import * as f from './fields.js';
import { OPCODES, type OpcodeSpec } from './opcodes.js';

const reg = fc.integer({ min: 0, max: 31 });

/** Random in-range operands for a row's format. */
function operands(spec: OpcodeSpec): fc.Arbitrary<Operands> {
  const rm = fc.integer({ min: 0, max: 7 });
  const even = (bits: number) =>
    fc.integer({ min: -(2 ** (bits - 2)), max: 2 ** (bits - 2) - 1 }).map((v) => v * 2);
  const simm = (bits: number) => fc.integer({ min: -(2 ** (bits - 1)), max: 2 ** (bits - 1) - 1 });
  const bit = fc.constantFrom(0 as const, 1 as const);
  switch (spec.format) {
    case 'R':
      return fc.record({ rd: reg, rs1: reg, rs2: reg });
    case 'R-rm':
      return fc.record({ rd: reg, rs1: reg, rs2: reg, rm });
    case 'R1':
      return fc.record({ rd: reg, rs1: reg });
    case 'R1-rm':
      return fc.record({ rd: reg, rs1: reg, rm });
    case 'R4-rm':
      return fc.record({ rd: reg, rs1: reg, rs2: reg, rs3: reg, rm });
    case 'I':
    case 'I-offset':
      return fc.record({ rd: reg, rs1: reg, imm: simm(12) });
    case 'S':
      return fc.record({ rs1: reg, rs2: reg, imm: simm(12) });
    case 'B':
      return fc.record({ rs1: reg, rs2: reg, imm: even(13) });
    case 'U':
      return fc.record({ rd: reg, imm: simm(20).map((v) => v * 4096) });
    case 'J':
      return fc.record({ rd: reg, imm: even(21) });
    case 'shift':
      return fc.record({ rd: reg, rs1: reg, imm: fc.integer({ min: 0, max: 63 }) });
    case 'shiftw':
      return fc.record({ rd: reg, rs1: reg, imm: fc.integer({ min: 0, max: 31 }) });
    case 'csr':
      return fc.record({ rd: reg, rs1: reg, csr: fc.integer({ min: 0, max: 0xfff }) });
    case 'csri':
      return fc.record({ rd: reg, imm: reg, csr: fc.integer({ min: 0, max: 0xfff }) });
    case 'lr':
      return fc.record({ rd: reg, rs1: reg, aq: bit, rl: bit });
    case 'amo':
      return fc.record({ rd: reg, rs1: reg, rs2: reg, aq: bit, rl: bit });
    case 'fence': {
      const set = fc.integer({ min: 0, max: 15 });
      return fc.record({ pred: set, succ: set, fm: fc.constantFrom(0, 8), rd: reg, rs1: reg });
    }
    case 'sfence.vma':
      return fc.record({ rs1: reg, rs2: reg });
    case 'none':
      return fc.constant({});
  }
}

/** What the extractors read back for the operands a format has. */
function readBack(spec: OpcodeSpec, w: number): Operands {
  const imm: Partial<Record<OpcodeSpec['format'], number>> = {
    I: f.immI(w),
    'I-offset': f.immI(w),
    S: f.immS(w),
    B: f.immB(w),
    U: f.immU(w),
    J: f.immJ(w),
    shift: f.shamt6(w),
    shiftw: f.shamt5(w),
    csri: f.rs1(w),
  };
  const all: Record<string, number | undefined> = {
    rd: f.rd(w),
    rs1: f.rs1(w),
    rs2: f.rs2(w),
    rs3: f.rs3(w),
    rm: f.rm(w),
    imm: imm[spec.format],
    csr: f.csr(w),
    aq: f.aq(w),
    rl: f.rl(w),
    pred: f.pred(w),
    succ: f.succ(w),
    fm: f.fm(w),
  };
  return all as Operands;
}

describe('encode', () => {
  it('round-trips through decode and the field extractors for every row', () => {
    for (const spec of OPCODES) {
      fc.assert(
        fc.property(operands(spec), (ops) => {
          const w = encode(spec, ops);
          expect(decode(w)).toBe(spec);
          const back = readBack(spec, w) as Record<string, unknown>;
          const wrong = Object.entries(ops).filter(([k, v]) => back[k] !== v);
          expect(wrong.map(([k]) => `${spec.name} ${k}`)).toEqual([]);
        }),
        { numRuns: 60 },
      );
    }
  }, 60_000);

  it('builds known words by name', () => {
    expect(encode('addi', { rd: 10, rs1: 10, imm: 1 })).toBe(0x00150513);
    expect(encode('lui', { rd: 31, imm: 0xfffff000 })).toBe(0xffffffb7);
    expect(encode('lui', { rd: 31, imm: -4096 })).toBe(0xffffffb7);
    expect(encode('fadd.d', { rd: 10, rs1: 11, rs2: 12 })).toBe(0x02c5f553); // rm defaults to dyn
    expect(encode('amoadd.w', { rd: 10, rs1: 12, rs2: 11, aq: 1, rl: 1 })).toBe(0x06b6252f);
    expect(encode('fence', { pred: 3, succ: 3 })).toBe(0x0330000f);
    expect(encode('mret')).toBe(0x30200073);
  });

  it('refuses out-of-range operands, operands a format lacks, and unknown names', () => {
    expect(() => encode('addi', { rd: 32 })).toThrow(/E_BAD_ARGUMENT/);
    expect(() => encode('addi', { imm: 2048 })).toThrow(/12-bit signed/);
    expect(() => encode('beq', { imm: 3 })).toThrow(/x2/);
    expect(() => encode('lui', { imm: 0x1001 })).toThrow(/low 12 bits/);
    expect(() => encode('slli', { imm: 64 })).toThrow(/6-bit/);
    expect(() => encode('add', { imm: 1 })).toThrow(/no 'imm' operand/);
    expect(() => encode('fsqrt.d', { rs2: 1 })).toThrow(/no 'rs2' operand/);
    expect(() => encode('nope')).toThrow(/E_UNKNOWN_ID/);
  });
});
