import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EF_RISCV_RVC, EM_RISCV, findSymbol, PT_LOAD, parseElf, SHT_NOBITS } from './elf.js';

const fixture = (name: string) =>
  new Uint8Array(readFileSync(new URL(`fixtures/riscv-tests/${name}`, import.meta.url)));

describe('parseElf', () => {
  it('reads a riscv-tests p-env ELF (values as readelf prints them)', () => {
    const elf = parseElf(fixture('rv64uc-p-rvc'));
    expect(elf.type).toBe(2);
    expect(elf.machine).toBe(EM_RISCV);
    expect(elf.flags).toBe(0x5); // RVC, double-float ABI
    expect(elf.flags & EF_RISCV_RVC).toBe(EF_RISCV_RVC);
    expect(elf.entry).toBe(0x80000000n);
    const loads = elf.segments.filter((s) => s.type === PT_LOAD);
    expect(loads.map((s) => [s.paddr, s.vaddr, s.filesz, s.memsz, s.flags])).toEqual([
      [0x80000000n, 0x80000000n, 0x2df2, 0x2df2, 5],
      [0x80003000n, 0x80003000n, 0x48, 0x48, 6],
    ]);
    // The first instruction: j reset_vector.
    const first = loads[0]!.data;
    expect(first[0]! | (first[1]! << 8) | (first[2]! << 16) | (first[3]! << 24)).toBe(0x0500006f);
    expect(findSymbol(elf, 'tohost')?.value).toBe(0x80003000n);
    expect(findSymbol(elf, 'fromhost')?.value).toBe(0x80003040n);
    expect(findSymbol(elf, '_end')?.value).toBe(0x80004000n);
    expect(findSymbol(elf, 'nope')).toBeUndefined();
    const text = elf.sections.find((s) => s.name === '.text.init');
    expect([text?.addr, text?.size, text?.data.length]).toEqual([0x80000000n, 0x2df2, 0x2df2]);
  });

  it('reads a v-env ELF: a segment with zero fill, a .bss without file bytes', () => {
    const elf = parseElf(fixture('rv64ui-v-add'));
    const loads = elf.segments.filter((s) => s.type === PT_LOAD);
    expect(loads.map((s) => [s.paddr, s.filesz, s.memsz, s.data.length])).toEqual([
      [0x80000000n, 0x200, 0x200, 0x200],
      [0x80001000n, 0x2144, 0x8010, 0x2144],
    ]);
    const bss = elf.sections.find((s) => s.name === '.bss');
    expect([bss?.type, bss?.size, bss?.data.length]).toEqual([SHT_NOBITS, 0x5000, 0]);
    expect(findSymbol(elf, 'tohost')?.value).toBe(0x80001000n);
    expect(findSymbol(elf, 'tohost')?.size).toBe(8n);
    expect(findSymbol(elf, 'userstart')).toMatchObject({ value: 0x80002a14n, bind: 1, shndx: 3 });
  });

  it('reads from a view into a larger buffer', () => {
    const bytes = fixture('rv64ud-p-fadd');
    const padded = new Uint8Array(bytes.length + 16);
    padded.set(bytes, 16);
    const elf = parseElf(padded.subarray(16));
    expect(findSymbol(elf, 'tohost')?.value).toBe(0x80001000n);
    expect(elf.segments.find((s) => s.type === PT_LOAD)?.data[0]).toBe(bytes[0x1000]);
  });

  it('refuses malformed files with E_BAD_ARGUMENT', () => {
    const good = fixture('rv64si-p-csr');
    const patched = (at: number, bytes: number[]) => {
      const copy = good.slice();
      copy.set(bytes, at);
      return copy;
    };
    const u64 = (v: number) => Array.from({ length: 8 }, (_, i) => (v / 2 ** (8 * i)) & 0xff);
    const cases: [Uint8Array, RegExp][] = [
      [good.subarray(0, 40), /shorter than an ELF64 header/],
      [patched(0, [0x7f, 0x45, 0x4c, 0x47]), /no ELF magic/],
      [patched(4, [1]), /not ELFCLASS64/],
      [patched(5, [2]), /not little-endian/],
      [good.subarray(0, 0x1000), /lies beyond the file end/], // segments cut off
      [patched(32, u64(good.length)), /program header table/],
      [patched(64 + 56 + 32, u64(0x100000)), /p_filesz .* > p_memsz/],
      [patched(62, [0xff, 0]), /e_shstrndx/],
    ];
    for (const [bytes, message] of cases) {
      expect(() => parseElf(bytes)).toThrow(/E_BAD_ARGUMENT/);
      expect(() => parseElf(bytes)).toThrow(message);
    }
  });
});
