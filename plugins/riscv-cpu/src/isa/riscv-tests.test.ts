/**
 * Every instruction in the executable sections of riscv-tests ELFs decodes: the committed
 * fixtures always, and every required test of a full riscv-tests build when one is at
 * $RISCV_TESTS_DIR (default /work/shared/riscv-tests/isa, the prebuilt set of this project).
 * Data inside code is skipped by the ELF mapping symbols (`$d` ... `$x`), and the zero
 * padding after a section's last instruction is allowed.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decode } from './decode.js';
import { type ElfFile, parseElf } from './elf.js';
import { expandCompressed } from './rvc.js';

const SHF_EXECINSTR = 4n;

interface Scan {
  instructions: number;
  compressed: number;
  illegal: string[];
}

/** Walks the code regions of every executable section. */
function scan(elf: ElfFile): Scan {
  const out: Scan = { instructions: 0, compressed: 0, illegal: [] };
  elf.sections.forEach((sec, index) => {
    if (!(sec.flags & SHF_EXECINSTR)) return;
    const marks = elf.symbols
      .filter((s) => s.shndx === index && /^\$[xd]/.test(s.name))
      .map((s) => ({ at: Number(s.value - sec.addr), code: s.name.startsWith('$x') }))
      .sort((a, b) => a.at - b.at);
    const d = sec.data;
    const u16 = (at: number) => (d[at] as number) | ((d[at + 1] as number) << 8);
    const regions =
      marks.length > 0 && marks[0]?.at === 0 ? marks : [{ at: 0, code: true }, ...marks];
    regions.forEach((region, r) => {
      if (!region.code) return;
      const end = regions[r + 1]?.at ?? d.length;
      let at = region.at;
      while (at + 2 <= end) {
        if (d.subarray(at, end).every((b) => b === 0)) break; // padding to the section end
        const h = u16(at);
        if ((h & 3) === 3) {
          const w = (h | (u16(at + 2) << 16)) >>> 0;
          if (!decode(w))
            out.illegal.push(`0x${(sec.addr + BigInt(at)).toString(16)}: ${w.toString(16)}`);
          at += 4;
        } else {
          if (!expandCompressed(h))
            out.illegal.push(`0x${(sec.addr + BigInt(at)).toString(16)}: ${h.toString(16)}`);
          out.compressed++;
          at += 2;
        }
        out.instructions++;
      }
    });
  });
  return out;
}

const read = (path: string) => parseElf(new Uint8Array(readFileSync(path)));
const FIXTURES = new URL('fixtures/riscv-tests/', import.meta.url);
const DIR = process.env.RISCV_TESTS_DIR ?? '/work/shared/riscv-tests/isa';
/** The groups an RV64GC hart must pass (the optional Zfh/Zb* ones are excluded). */
const REQUIRED = /^rv64(u[imafdc]|si|mi)-[pv]-/;

describe('riscv-tests code decodes', () => {
  // Instruction counts as objdump -d counts them (its lines minus .word/.short data), and
  // the compressed ones among them.
  it.each([
    ['rv64uc-p-rvc', 1260, 99],
    ['rv64ud-p-fadd', 247, 0],
    ['rv64si-p-csr', 238, 0],
    ['rv64ui-v-add', 1097, 0],
  ])('%s: %i instructions, %i compressed', (name, instructions, compressed) => {
    const result = scan(read(new URL(name, FIXTURES).pathname));
    expect(result).toEqual({ instructions, compressed, illegal: [] });
  });

  it.skipIf(!existsSync(DIR))(`every required ELF in ${DIR}`, { timeout: 60_000 }, () => {
    const names = readdirSync(DIR).filter((n) => REQUIRED.test(n));
    expect(names.length).toBe(244);
    const scans = names.map((n) => ({ n, ...scan(read(join(DIR, n))) }));
    expect(scans.flatMap((s) => s.illegal.map((i) => `${s.n} ${i}`))).toEqual([]);
    const total = scans.reduce((a, s) => a + s.instructions, 0);
    // For the project's pinned build (riscv-tests 34e6b6d): objdump -d counts 150,219
    // instruction lines, 15 of them `.2byte 0x0` padding after a section's last instruction.
    if (process.env.RISCV_TESTS_DIR === undefined) expect(total).toBe(150_204);
    else expect(total).toBeGreaterThan(100_000);
  });
});
