import { describe, expect, it } from 'vitest';
import {
  bytes,
  concat,
  empty,
  phandle,
  readCells,
  readString,
  readStringList,
  readU32,
  readU64,
  str,
  strList,
  u32,
  u64,
} from './values.js';

const hex = (v: Uint8Array) => Array.from(v, (b) => b.toString(16).padStart(2, '0')).join(' ');

describe('property values', () => {
  it.each([
    ['u32(1, 0xdeadbeef)', u32(1, 0xdeadbeef), '00 00 00 01 de ad be ef'],
    ['phandle(0x8000)', phandle(0x8000), '00 00 80 00'],
    [
      'u64(0x80000000, 2^40)',
      u64(0x8000_0000, 2 ** 40),
      '00 00 00 00 80 00 00 00 00 00 01 00 00 00 00 00',
    ],
    ['u64(2^64 - 1)', u64((1n << 64n) - 1n), 'ff ff ff ff ff ff ff ff'],
    ['str("ok")', str('ok'), '6f 6b 00'],
    ['strList("a", "", "bc")', strList('a', '', 'bc'), '61 00 00 62 63 00'],
    ['bytes(0, 255)', bytes(0, 255), '00 ff'],
    ['empty()', empty(), ''],
    ['concat(u32(1), str("x"))', concat(u32(1), str('x')), '00 00 00 01 78 00'],
  ])('%s is big-endian bytes as in a blob', (_, v, expected) => {
    expect(hex(v)).toBe(expected);
  });

  it('reads back what it writes', () => {
    expect(readCells(u32(1, 2, 3))).toEqual([1, 2, 3]);
    expect(readU32(u32(7, 9), 1)).toBe(9);
    expect(readU64(u64(1n << 63n, 5), 1)).toBe(5n);
    expect(readU64(u64(1n << 63n))).toBe(1n << 63n);
    expect(readStringList(strList('sifive,plic-1.0.0', 'riscv,plic0'))).toEqual([
      'sifive,plic-1.0.0',
      'riscv,plic0',
    ]);
    expect(readString(str('okay'))).toBe('okay');
  });

  it.each([
    ['a negative cell', () => u32(-1)],
    ['a cell above 2^32 - 1', () => u32(2 ** 32)],
    ['a fractional cell', () => u32(1.5)],
    ['an unsafe number as u64', () => u64(2 ** 60)],
    ['a bigint above 2^64 - 1', () => u64(1n << 64n)],
    ['a character above U+00FF', () => str('π')],
    ['a NUL inside a string', () => str('a\0b')],
    ['a byte above 255', () => bytes(256)],
    ['cells of a 3-byte value', () => readCells(bytes(1, 2, 3))],
    ['a cell past the end', () => readU32(u32(1), 1)],
    ['an unterminated string', () => readStringList(bytes(0x61))],
  ])('refuses %s with E_BAD_ARGUMENT', (_, f) => {
    expect(f).toThrow(expect.objectContaining({ code: 'E_BAD_ARGUMENT' }));
  });
});
