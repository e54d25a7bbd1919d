import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OPCODES, opcodeByName, parseFixedBits } from './opcodes.js';
import { RVC_OPCODES } from './rvc.js';

/** name -> [mask, match] from riscv-tests' encoding.h (riscv-opcodes' own C output). */
function encodingH(): Map<string, readonly [number, number]> {
  const text = readFileSync(new URL('fixtures/encoding-h.txt', import.meta.url), 'utf8');
  const out = new Map<string, readonly [number, number]>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const [name, mask, match] = line.split(' ');
    out.set(name as string, [Number(mask), Number(match)]);
  }
  return out;
}

describe('OPCODES', () => {
  it('has the RV64GC instruction count per extension', () => {
    const count = (ext: string) => OPCODES.filter((s) => s.ext === ext).length;
    // Upstream files: rv_i 37 (no RV32 shifts, no fence.tso/pause) + rv64_i 15; rv_m 8 +
    // rv64_m 5; rv_a 11 + rv64_a 11; rv_f 26 + rv64_f 4; rv_d 26 + rv64_d 6; rv_zicsr 6;
    // rv_zifencei 1; rv_system 2 + rv_s 2.
    expect(count('I')).toBe(52);
    expect(count('M')).toBe(13);
    expect(count('A')).toBe(22);
    expect(count('F')).toBe(30);
    expect(count('D')).toBe(32);
    expect(count('Zicsr')).toBe(6);
    expect(count('Zifencei')).toBe(1);
    expect(count('priv')).toBe(4);
    expect(OPCODES).toHaveLength(160);
  });

  it('agrees with riscv-opcodes encoding.h on every mask and match (32- and 16-bit)', () => {
    const ref = encodingH();
    for (const spec of [...OPCODES, ...RVC_OPCODES]) {
      const key = spec.name.replace(/\./g, '_');
      expect([spec.name, ref.get(key)]).toEqual([spec.name, [spec.mask, spec.match]]);
    }
  });

  it('has unique names, ids equal to positions, 32-bit rows only', () => {
    expect(new Set(OPCODES.map((s) => s.name)).size).toBe(OPCODES.length);
    OPCODES.forEach((s, i) => {
      expect(s.id).toBe(i);
      expect(opcodeByName(s.name)).toBe(s);
      expect(s.mask & 3).toBe(3);
      expect(s.match & 3).toBe(3);
      expect((s.match & ~s.mask) >>> 0).toBe(0);
      expect(s.regs).toMatch(/^[xf-]{4}$/);
    });
  });

  it('has no two rows that a word could match both of', () => {
    const overlaps: string[] = [];
    for (let i = 0; i < OPCODES.length; i++) {
      for (let j = i + 1; j < OPCODES.length; j++) {
        const a = OPCODES[i]!;
        const b = OPCODES[j]!;
        // Two rows overlap iff they agree on every bit both fix.
        if (((a.match ^ b.match) & a.mask & b.mask) >>> 0 === 0)
          overlaps.push(`${a.name}/${b.name}`);
      }
    }
    expect(overlaps).toEqual([]);
  });

  it('marks the register file of each operand', () => {
    expect(opcodeByName('fcvt.w.d')?.regs).toBe('xf--');
    expect(opcodeByName('fcvt.d.l')?.regs).toBe('fx--');
    expect(opcodeByName('fsd')?.regs).toBe('-xf-');
    expect(opcodeByName('fmadd.s')?.regs).toBe('ffff');
    expect(opcodeByName('feq.s')?.regs).toBe('xff-');
    expect(opcodeByName('csrrwi')?.regs).toBe('x---');
  });
});

describe('parseFixedBits', () => {
  it('reads riscv-opcodes notation', () => {
    expect(parseFixedBits('14..12=0 6..2=0x04 1..0=3')).toEqual({ mask: 0x707f, match: 0x13 });
    expect(parseFixedBits('31..20=0x302 19..7=0 6..2=0x1C 1..0=3')).toEqual({
      mask: 0xffffffff,
      match: 0x30200073,
    });
    expect(parseFixedBits('12=1 6..5=0b10')).toEqual({ mask: 0x1060, match: 0x1040 });
  });

  it('refuses malformed, overlapping and out-of-range terms', () => {
    expect(() => parseFixedBits('14..12=8')).toThrow(/E_BAD_ARGUMENT/);
    expect(() => parseFixedBits('14..12=0 13=1')).toThrow(/overlaps/);
    expect(() => parseFixedBits('12..14=0')).toThrow(/E_BAD_ARGUMENT/);
    expect(() => parseFixedBits('rd')).toThrow(/cannot parse/);
  });
});
