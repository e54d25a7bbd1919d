import { describe, expect, it } from 'vitest';
import { decode } from './decode.js';
import * as f from './fields.js';
import type { OpcodeSpec } from './opcodes.js';
import { compressedSpec, expandCompressed, RVC_OPCODES } from './rvc.js';

/**
 * Pairs of (RVC halfword, the 32-bit word GNU as emits for the expanded instruction), both
 * from binutils 2.40: the halfwords from all-insns.S, the words from the same instructions
 * written uncompressed and assembled with -march=rv64g.
 */
const KNOWN: readonly (readonly [number, number, string])[] = [
  [0x0048, 0x00410513, 'c.addi4spn a0,sp,4 = addi a0,sp,4'],
  [0x3fe4, 0x0f87b487, 'c.fld fs1,248(a5)'],
  [0x5fe0, 0x07c7a403, 'c.lw s0,124(a5)'],
  [0x7cfc, 0x0f84b783, 'c.ld a5,248(s1)'],
  [0xa988, 0x00a5b827, 'c.fsd fa0,16(a1)'],
  [0xc1c8, 0x00a5a223, 'c.sw a0,4(a1)'],
  [0xfc7c, 0x0ef43c23, 'c.sd a5,248(s0)'],
  [0x0001, 0x00000013, 'c.nop'],
  [0x1101, 0xfe010113, 'c.addi sp,-32'],
  [0x357d, 0xfff5051b, 'c.addiw a0,-1'],
  [0x5501, 0xfe000513, 'c.li a0,-32'],
  [0x7101, 0xe0010113, 'c.addi16sp sp,-512'],
  [0x7ffd, 0xffffffb7, 'c.lui t6,0xfffff'],
  [0x90fd, 0x03f4d493, 'c.srli s1,63'],
  [0x9781, 0x4207d793, 'c.srai a5,32'],
  [0x997d, 0xfff57513, 'c.andi a0,-1'],
  [0x8d0d, 0x40b50533, 'c.sub a0,a1'],
  [0x9cb1, 0x00c484bb, 'c.addw s1,a2'],
  [0xaffd, 0x7fe0006f, 'c.j .+2046'],
  [0xd381, 0xf00780e3, 'c.beqz a5,.-256'],
  [0xecfd, 0x0e049f63, 'c.bnez s1,.+254'],
  [0x10fe, 0x03f09093, 'c.slli ra,63'],
  [0x307e, 0x1f813007, 'c.fldsp ft0,504(sp)'],
  [0x50fe, 0x0fc12083, 'c.lwsp ra,252(sp)'],
  [0x747e, 0x1f813403, 'c.ldsp s0,504(sp)'],
  [0x8082, 0x00008067, 'c.jr ra'],
  [0x852e, 0x00b00533, 'c.mv a0,a1'],
  [0x9002, 0x00100073, 'c.ebreak'],
  [0x9502, 0x000500e7, 'c.jalr a0'],
  [0x9122, 0x00810133, 'c.add sp,s0'],
  [0xbfee, 0x1fb13c27, 'c.fsdsp fs11,504(sp)'],
  [0xdf86, 0x0e112e23, 'c.swsp ra,252(sp)'],
  [0xff86, 0x1e113c23, 'c.sdsp ra,504(sp)'],
];

// ---------------------------------------------------------------------------------------------
// An independent model of RV64C, written from the spec's RVC chapter: the opcode map as plain
// conditions, and each immediate as the spec's own scramble notation (`5:3|8:6` at bits 12:7
// means bits 12..10 hold imm[5:3] and bits 9..7 hold imm[8:6]).

/** imm bit numbers listed by a scramble like '11|4|9:8|10|6|7|3:1|5', most significant first. */
function immBits(notation: string): number[] {
  return notation.split('|').flatMap((part) => {
    const [hi, lo] = part.split(':').map(Number) as [number, number | undefined];
    const out: number[] = [];
    for (let b = hi; b >= (lo ?? hi); b--) out.push(b);
    return out;
  });
}

/** Assembles an immediate from `[hwHi, hwLo, notation]` segments; sign bit = top imm bit. */
function scramble(h: number, segs: readonly (readonly [number, number, string])[], sign: boolean) {
  let v = 0;
  let top = 0;
  for (const [hi, lo, notation] of segs) {
    const bits = immBits(notation);
    if (bits.length !== hi - lo + 1) throw new Error(`${notation} does not fill ${hi}:${lo}`);
    bits.forEach((immBit, i) => {
      v += ((h >> (hi - i)) & 1) * 2 ** immBit;
      top = Math.max(top, immBit);
    });
  }
  return sign && v >= 2 ** top ? v - 2 ** (top + 1) : v;
}

interface Expect {
  readonly c: string;
  readonly to: string;
  readonly rd?: number;
  readonly rs1?: number;
  readonly rs2?: number;
  readonly imm?: number;
  readonly reserved?: boolean;
}

const full = (h: number, lo: number) => (h >> lo) & 31;
const prime = (h: number, lo: number) => 8 + ((h >> lo) & 7);
const CI_IMM = [
  [12, 12, '5'],
  [6, 2, '4:0'],
] as const;

function model(h: number): Expect | 'reserved' {
  const op = h & 3;
  const f3 = h >> 13;
  const b12 = (h >> 12) & 1;
  const r7 = full(h, 7);
  const r2 = full(h, 2);
  if (op === 0) {
    const loadStore = (
      c: string,
      to: string,
      segs: readonly (readonly [number, number, string])[],
      store: boolean,
    ): Expect =>
      store
        ? { c, to, rs1: prime(h, 7), rs2: prime(h, 2), imm: scramble(h, segs, false) }
        : { c, to, rd: prime(h, 2), rs1: prime(h, 7), imm: scramble(h, segs, false) };
    const d = [
      [12, 10, '5:3'],
      [6, 5, '7:6'],
    ] as const;
    const w = [
      [12, 10, '5:3'],
      [6, 5, '2|6'],
    ] as const;
    switch (f3) {
      case 0: {
        const imm = scramble(h, [[12, 5, '5:4|9:6|2|3']], false);
        return { c: 'c.addi4spn', to: 'addi', rd: prime(h, 2), rs1: 2, imm, reserved: imm === 0 };
      }
      case 1:
        return loadStore('c.fld', 'fld', d, false);
      case 2:
        return loadStore('c.lw', 'lw', w, false);
      case 3:
        return loadStore('c.ld', 'ld', d, false);
      case 4:
        return 'reserved';
      case 5:
        return loadStore('c.fsd', 'fsd', d, true);
      case 6:
        return loadStore('c.sw', 'sw', w, true);
      default:
        return loadStore('c.sd', 'sd', d, true);
    }
  }
  if (op === 1) {
    const imm6 = scramble(h, CI_IMM, true);
    const shamt = scramble(h, CI_IMM, false);
    switch (f3) {
      case 0:
        return { c: 'c.addi', to: 'addi', rd: r7, rs1: r7, imm: imm6 };
      case 1:
        return { c: 'c.addiw', to: 'addiw', rd: r7, rs1: r7, imm: imm6, reserved: r7 === 0 };
      case 2:
        return { c: 'c.li', to: 'addi', rd: r7, rs1: 0, imm: imm6 };
      case 3: {
        if (r7 === 2) {
          const imm = scramble(
            h,
            [
              [12, 12, '9'],
              [6, 2, '4|6|8:7|5'],
            ],
            true,
          );
          return { c: 'c.addi16sp', to: 'addi', rd: 2, rs1: 2, imm, reserved: imm === 0 };
        }
        const imm = scramble(
          h,
          [
            [12, 12, '17'],
            [6, 2, '16:12'],
          ],
          true,
        );
        return { c: 'c.lui', to: 'lui', rd: r7, imm, reserved: imm === 0 };
      }
      case 4: {
        const rd = prime(h, 7);
        const f2 = (h >> 10) & 3;
        if (f2 === 0) return { c: 'c.srli', to: 'srli', rd, rs1: rd, imm: shamt };
        if (f2 === 1) return { c: 'c.srai', to: 'srai', rd, rs1: rd, imm: shamt };
        if (f2 === 2) return { c: 'c.andi', to: 'andi', rd, rs1: rd, imm: imm6 };
        const names = b12 ? ['c.subw', 'c.addw'] : ['c.sub', 'c.xor', 'c.or', 'c.and'];
        const c = names[(h >> 5) & 3];
        if (c === undefined) return 'reserved';
        return { c, to: c.slice(2), rd, rs1: rd, rs2: prime(h, 2) };
      }
      case 5: {
        const imm = scramble(h, [[12, 2, '11|4|9:8|10|6|7|3:1|5']], true);
        return { c: 'c.j', to: 'jal', rd: 0, imm };
      }
      default: {
        const imm = scramble(
          h,
          [
            [12, 10, '8|4:3'],
            [6, 2, '7:6|2:1|5'],
          ],
          true,
        );
        const [c, to] = f3 === 6 ? ['c.beqz', 'beq'] : ['c.bnez', 'bne'];
        return { c, to, rs1: prime(h, 7), rs2: 0, imm };
      }
    }
  }
  const ld = [
    [12, 12, '5'],
    [6, 2, '4:3|8:6'],
  ] as const;
  const sd = [[12, 7, '5:3|8:6']] as const;
  switch (f3) {
    case 0:
      return { c: 'c.slli', to: 'slli', rd: r7, rs1: r7, imm: scramble(h, CI_IMM, false) };
    case 1:
      return { c: 'c.fldsp', to: 'fld', rd: r7, rs1: 2, imm: scramble(h, ld, false) };
    case 2: {
      const imm = scramble(
        h,
        [
          [12, 12, '5'],
          [6, 2, '4:2|7:6'],
        ],
        false,
      );
      return { c: 'c.lwsp', to: 'lw', rd: r7, rs1: 2, imm, reserved: r7 === 0 };
    }
    case 3:
      return {
        c: 'c.ldsp',
        to: 'ld',
        rd: r7,
        rs1: 2,
        imm: scramble(h, ld, false),
        reserved: r7 === 0,
      };
    case 4:
      if (b12 === 0) {
        if (r2 === 0) return { c: 'c.jr', to: 'jalr', rd: 0, rs1: r7, imm: 0, reserved: r7 === 0 };
        return { c: 'c.mv', to: 'add', rd: r7, rs1: 0, rs2: r2 };
      }
      if (r2 === 0 && r7 === 0) return { c: 'c.ebreak', to: 'ebreak' };
      if (r2 === 0) return { c: 'c.jalr', to: 'jalr', rd: 1, rs1: r7, imm: 0 };
      return { c: 'c.add', to: 'add', rd: r7, rs1: r7, rs2: r2 };
    case 5:
      return { c: 'c.fsdsp', to: 'fsd', rs1: 2, rs2: r2, imm: scramble(h, sd, false) };
    case 6: {
      const imm = scramble(h, [[12, 7, '5:2|7:6']], false);
      return { c: 'c.swsp', to: 'sw', rs1: 2, rs2: r2, imm };
    }
    default:
      return { c: 'c.sdsp', to: 'sd', rs1: 2, rs2: r2, imm: scramble(h, sd, false) };
  }
}

/** The operands of an expanded word, as the model states them. */
function operandsOf(spec: OpcodeSpec, w: number): Omit<Expect, 'c' | 'to' | 'reserved'> {
  switch (spec.format) {
    case 'R':
      return { rd: f.rd(w), rs1: f.rs1(w), rs2: f.rs2(w) };
    case 'I':
    case 'I-offset':
      return { rd: f.rd(w), rs1: f.rs1(w), imm: f.immI(w) };
    case 'S':
      return { rs1: f.rs1(w), rs2: f.rs2(w), imm: f.immS(w) };
    case 'B':
      return { rs1: f.rs1(w), rs2: f.rs2(w), imm: f.immB(w) };
    case 'U':
      return { rd: f.rd(w), imm: f.immU(w) };
    case 'J':
      return { rd: f.rd(w), imm: f.immJ(w) };
    case 'shift':
      return { rd: f.rd(w), rs1: f.rs1(w), imm: f.shamt6(w) };
    default:
      return {};
  }
}

describe('expandCompressed', () => {
  it('expands known halfwords to what GNU as emits for the long form', () => {
    expect(KNOWN.map(([h, , what]) => [what, expandCompressed(h).toString(16)])).toEqual(
      KNOWN.map(([, w, what]) => [what, w.toString(16)]),
    );
  });

  it('agrees with the spec model on all 2^16 halfwords', { timeout: 60_000 }, () => {
    const wrong: string[] = [];
    let legal = 0;
    for (let h = 0; h < 1 << 16; h++) {
      const w = expandCompressed(h);
      if ((h & 3) === 3) {
        if (w !== 0) wrong.push(`${h.toString(16)}: not compressed, expanded anyway`);
        continue;
      }
      const m = model(h);
      if (m === 'reserved' || m.reserved) {
        if (w !== 0) wrong.push(`${h.toString(16)}: reserved, expanded to ${w.toString(16)}`);
        if (m !== 'reserved' && compressedSpec(h)?.name !== m.c)
          wrong.push(`${h.toString(16)}: slot`);
        continue;
      }
      legal++;
      const spec = decode(w);
      const { c, to, reserved: _, ...ops } = m;
      if (spec?.name !== to || compressedSpec(h)?.name !== c) {
        wrong.push(
          `${h.toString(16)}: ${compressedSpec(h)?.name}->${spec?.name}, model ${c}->${to}`,
        );
      } else {
        const got = operandsOf(spec, w) as Record<string, number>;
        const bad = Object.entries(ops).filter(([k, v]) => got[k] !== v);
        if (bad.length > 0) {
          wrong.push(`${h.toString(16)} ${c}: ${JSON.stringify(got)} vs ${JSON.stringify(ops)}`);
        }
      }
    }
    expect(wrong.slice(0, 20)).toEqual([]);
    // binutils 2.40 decodes 46,744 of the 49,152 compressed halfwords; the one more it accepts
    // is C.ADDI16SP with nzimm 0, which the spec reserves.
    expect(legal).toBe(46_743);
  });

  it('gives 0 for the reserved code points the spec lists', () => {
    const reserved: [number, string][] = [
      [0x0000, 'all zero (c.addi4spn nzuimm 0)'],
      [0x0004, 'c.addi4spn nzuimm 0, rd = s1'],
      [0x8000, 'quadrant 0 funct3 100'],
      [0x2001, 'c.addiw rd = 0'],
      [0x6101, 'c.addi16sp nzimm 0'],
      [0x6001, 'c.lui rd = 0, nzimm 0'],
      [0x6501, 'c.lui a0, nzimm 0'],
      [0x9c41, 'funct6 100111 funct2 10'],
      [0x9c61, 'funct6 100111 funct2 11'],
      [0x4002, 'c.lwsp rd = 0'],
      [0x6002, 'c.ldsp rd = 0'],
      [0x8002, 'c.jr rs1 = 0'],
      [0x0003, 'a 32-bit encoding'],
    ];
    expect(reserved.filter(([h]) => expandCompressed(h) !== 0).map(([, why]) => why)).toEqual([]);
  });

  it('expands HINTs to harmless writes of x0', () => {
    const hints: [number, string][] = [
      [0x0005, 'c.nop with imm 1 (c.addi x0,1)'],
      [0x4015, 'c.li x0,5'],
      [0x6005, 'c.lui x0,1'],
      [0x002e, 'c.slli x0,11'],
      [0x800a, 'c.mv x0,sp'],
      [0x900a, 'c.add x0,sp'],
    ];
    for (const [h] of hints) expect(f.rd(expandCompressed(h))).toBe(0);
    // shamt 0 is a HINT in RV64C: a shift by 0 of a real register.
    expect(expandCompressed(0x8001)).toBe(0x00045413); // srli s0,s0,0
    expect(expandCompressed(0x0502)).toBe(0x00051513); // slli a0,a0,0
  });

  it('has one row per RV64C instruction', () => {
    expect(RVC_OPCODES.map((s) => s.name)).toHaveLength(36);
    expect(new Set(RVC_OPCODES.map((s) => s.name)).size).toBe(36);
  });
});
