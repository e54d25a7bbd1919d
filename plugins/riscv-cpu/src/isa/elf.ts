/**
 * ELF reader: the parts of a 64-bit little-endian ELF file a machine needs to load and name a
 * guest program: the entry point, the program headers (what PT_LOAD puts where, by physical
 * address), the section headers, and the symbol table (to find `tohost`, or to put names on
 * addresses in a trace).
 *
 * Addresses (entry, p_vaddr, p_paddr, sh_addr, st_value) are `bigint`: they are 64-bit fields
 * and a kernel's virtual addresses do not fit a double. Offsets and sizes are numbers (they
 * are bounded by the file's length, which is checked). Data are views into the input, never
 * copies. A malformed file throws `EmuhostError('E_BAD_ARGUMENT')` naming what is wrong; the
 * file is host input, not guest state.
 */

import { EmuhostError } from '@emuhost/sdk';

/** e_machine of RISC-V. */
export const EM_RISCV = 243;
/** p_type of a loadable segment. */
export const PT_LOAD = 1;
/** sh_type of a section without file contents (.bss). */
export const SHT_NOBITS = 8;
const SHT_SYMTAB = 2;
/** e_flags bit: the file uses compressed instructions. */
export const EF_RISCV_RVC = 0x1;

/** One program header. */
export interface ElfSegment {
  /** p_type (`PT_LOAD` = 1, ...). */
  readonly type: number;
  /** p_flags: 4 = R, 2 = W, 1 = X. */
  readonly flags: number;
  readonly vaddr: bigint;
  /** Where the segment is loaded in guest-physical memory (what a bare-metal loader uses). */
  readonly paddr: bigint;
  /** Bytes present in the file (`data.length`); the remaining `memsz - filesz` are zero. */
  readonly filesz: number;
  readonly memsz: number;
  /** The segment's file bytes (a view of the input). */
  readonly data: Uint8Array;
}

/** One section header. */
export interface ElfSection {
  readonly name: string;
  readonly type: number;
  readonly flags: bigint;
  readonly addr: bigint;
  /** Size in bytes (in memory; also in the file unless type is `SHT_NOBITS`). */
  readonly size: number;
  /** The section's file bytes (empty for `SHT_NOBITS`). */
  readonly data: Uint8Array;
}

/** One symbol of `.symtab`. */
export interface ElfSymbol {
  readonly name: string;
  readonly value: bigint;
  readonly size: bigint;
  /** STT_* (0 NOTYPE, 1 OBJECT, 2 FUNC, 3 SECTION, 4 FILE). */
  readonly type: number;
  /** STB_* (0 LOCAL, 1 GLOBAL, 2 WEAK). */
  readonly bind: number;
  /** Index of the section the symbol is defined in (0 undefined, 0xfff1 absolute). */
  readonly shndx: number;
}

/** A parsed ELF file. */
export interface ElfFile {
  /** e_type: 2 EXEC, 3 DYN. */
  readonly type: number;
  readonly machine: number;
  readonly flags: number;
  readonly entry: bigint;
  readonly segments: readonly ElfSegment[];
  readonly sections: readonly ElfSection[];
  readonly symbols: readonly ElfSymbol[];
}

function bad(what: string): never {
  throw new EmuhostError('E_BAD_ARGUMENT', `elf: ${what}`);
}

/** A number from a 64-bit file offset or size, rejecting what cannot be in a JS-sized file. */
function small(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) bad(`${what} 0x${v.toString(16)} is too large`);
  return Number(v);
}

function slice(bytes: Uint8Array, offset: number, len: number, what: string): Uint8Array {
  if (offset + len > bytes.length) {
    bad(`${what} (0x${offset.toString(16)}+0x${len.toString(16)}) lies beyond the file end`);
  }
  return bytes.subarray(offset, offset + len);
}

function cString(bytes: Uint8Array, at: number): string {
  let end = at;
  while (end < bytes.length && bytes[end] !== 0) end++;
  if (end >= bytes.length && at < bytes.length) bad('unterminated string in a string table');
  return new TextDecoder().decode(bytes.subarray(at, end));
}

/** Parses a 64-bit little-endian ELF file. */
export function parseElf(bytes: Uint8Array): ElfFile {
  if (bytes.length < 64) bad(`file of ${bytes.length} bytes is shorter than an ELF64 header`);
  if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    bad('no ELF magic');
  }
  if (bytes[4] !== 2) bad(`EI_CLASS ${bytes[4]} is not ELFCLASS64`);
  if (bytes[5] !== 1) bad(`EI_DATA ${bytes[5]} is not little-endian`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (o: number) => dv.getUint16(o, true);
  const u32 = (o: number) => dv.getUint32(o, true);
  const u64 = (o: number) => dv.getBigUint64(o, true);

  const phoff = small(u64(32), 'e_phoff');
  const shoff = small(u64(40), 'e_shoff');
  const phentsize = u16(54);
  const phnum = u16(56);
  const shentsize = u16(58);
  const shnum = u16(60);
  const shstrndx = u16(62);
  if (phnum > 0 && phentsize < 56) bad(`e_phentsize ${phentsize} < 56`);
  if (shnum > 0 && shentsize < 64) bad(`e_shentsize ${shentsize} < 64`);
  slice(bytes, phoff, phnum * phentsize, 'program header table');
  slice(bytes, shoff, shnum * shentsize, 'section header table');

  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    const offset = small(u64(p + 8), 'p_offset');
    const filesz = small(u64(p + 32), 'p_filesz');
    const memsz = small(u64(p + 40), 'p_memsz');
    const type = u32(p);
    // Only a loadable segment promises its memory image holds the file bytes.
    if (type === PT_LOAD && filesz > memsz) {
      bad(`segment ${i}: p_filesz ${filesz} > p_memsz ${memsz}`);
    }
    segments.push({
      type,
      flags: u32(p + 4),
      vaddr: u64(p + 16),
      paddr: u64(p + 24),
      filesz,
      memsz,
      data: slice(bytes, offset, filesz, `segment ${i}`),
    });
  }

  const raw = Array.from({ length: shnum }, (_, i) => {
    const s = shoff + i * shentsize;
    const type = u32(s + 4);
    const offset = small(u64(s + 24), 'sh_offset');
    const size = small(u64(s + 32), 'sh_size');
    return {
      nameAt: u32(s),
      type,
      flags: u64(s + 8),
      addr: u64(s + 16),
      size,
      link: u32(s + 40),
      entsize: small(u64(s + 56), 'sh_entsize'),
      data: type === SHT_NOBITS ? new Uint8Array(0) : slice(bytes, offset, size, `section ${i}`),
    };
  });
  if (shnum > 0 && shstrndx >= shnum) bad(`e_shstrndx ${shstrndx} >= e_shnum ${shnum}`);
  const shstr = shnum > 0 ? (raw[shstrndx]?.data ?? new Uint8Array(0)) : new Uint8Array(0);
  const sections: ElfSection[] = raw.map((s) => ({
    name: s.nameAt < shstr.length ? cString(shstr, s.nameAt) : '',
    type: s.type,
    flags: s.flags,
    addr: s.addr,
    size: s.size,
    data: s.data,
  }));

  const symbols: ElfSymbol[] = [];
  for (const s of raw) {
    if (s.type !== SHT_SYMTAB) continue;
    const strtab = raw[s.link]?.data ?? bad(`.symtab sh_link ${s.link} names no section`);
    const entsize = s.entsize || 24;
    if (entsize < 24) bad(`.symtab sh_entsize ${entsize} < 24`);
    const base = s.data.byteOffset - bytes.byteOffset;
    for (let at = 0; at + entsize <= s.size; at += entsize) {
      const o = base + at;
      const nameAt = u32(o);
      const info = bytes[o + 4] as number;
      symbols.push({
        name: nameAt < strtab.length ? cString(strtab, nameAt) : '',
        value: u64(o + 8),
        size: u64(o + 16),
        type: info & 15,
        bind: info >> 4,
        shndx: u16(o + 6),
      });
    }
  }

  return {
    type: u16(16),
    machine: u16(18),
    flags: u32(48),
    entry: u64(24),
    segments,
    sections,
    symbols,
  };
}

/** The first symbol named `name` (e.g. `tohost`), or undefined. */
export function findSymbol(elf: ElfFile, name: string): ElfSymbol | undefined {
  return elf.symbols.find((s) => s.name === name);
}
