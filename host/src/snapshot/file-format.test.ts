import { describe, expect, it } from 'vitest';
import { crc32, crc32Table } from './crc32.js';
import { SnapshotError } from './errors.js';
import { decodeSnapshot, encodeSnapshot } from './file-format.js';

const enc = new TextEncoder();
const file = () =>
  encodeSnapshot([
    { kind: 'META', name: '', payload: enc.encode('{"format":1}') },
    { kind: 'DEV ', name: 'blk0', payload: new Uint8Array([1, 2, 3]) },
    { kind: 'RAM ', name: 'virt.ram', payload: new Uint8Array(5000).fill(7) },
  ]);

function reason(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof SnapshotError) return e.reason;
    throw e;
  }
  return undefined;
}

describe('snapshot file format', () => {
  it("CRC-32 is zlib's", () => {
    expect(crc32(enc.encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(enc.encode('6789'), crc32(enc.encode('12345')))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    // The table-driven fallback (Node without zlib.crc32) agrees with what runs here.
    const bytes = new Uint8Array(10_000).map((_, i) => (i * 131) ^ (i >> 3));
    expect(crc32Table(bytes)).toBe(crc32(bytes));
    expect(crc32Table(bytes.subarray(5000), crc32Table(bytes.subarray(0, 5000)))).toBe(
      crc32(bytes),
    );
    expect(crc32Table(enc.encode('123456789'))).toBe(0xcbf43926);
  });

  it('reads back what it wrote', () => {
    const s = decodeSnapshot(file());
    expect(s.map((x) => [x.kind, x.name, x.payload.length])).toEqual([
      ['META', '', 12],
      ['DEV ', 'blk0', 3],
      ['RAM ', 'virt.ram', 5000],
    ]);
    expect([...s[1]!.payload]).toEqual([1, 2, 3]);
  });

  it('refuses every truncation, as truncated', () => {
    const f = file();
    for (const n of [0, 10, 31, 32, 40, 60, f.length - 1])
      expect(
        reason(() => decodeSnapshot(f.subarray(0, n))),
        `${n} bytes`,
      ).toBe('truncated');
  });

  it('refuses any flipped byte (header, section header, name, payload)', () => {
    const f = file();
    for (let i = 8; i < f.length; i += 97) {
      const g = f.slice();
      g[i] = g[i]! ^ 0x40;
      expect(
        reason(() => decodeSnapshot(g)),
        `byte ${i}`,
      ).toMatch(/corrupt|truncated|format/);
    }
    const g = f.slice();
    g[0] = 0x58;
    expect(reason(() => decodeSnapshot(g))).toBe('format');
    expect(reason(() => decodeSnapshot(new Uint8Array([...f, 0])))).toBe('corrupt');
  });

  it('says E_SNAPSHOT', () => {
    expect(() => decodeSnapshot(new Uint8Array(3))).toThrow(/E_SNAPSHOT: snapshot truncated/);
  });
});

describe('seeded entropy positions', () => {
  it('a stream sought to a position gives the bytes an unbroken one gives from there', async () => {
    const { SeededEntropy } = await import('../backends/entropy.js');
    const a = new SeededEntropy('builtin:rng0', 7);
    const whole = new Uint8Array(300);
    a.fill(whole);
    for (const at of [0, 1, 63, 64, 65, 130, 299]) {
      const b = new SeededEntropy('builtin:rng0', 7);
      b.fill(new Uint8Array(5));
      b.seek(at);
      const rest = new Uint8Array(300 - at);
      b.fill(rest);
      expect([...rest], `at ${at}`).toEqual([...whole.subarray(at)]);
      expect(b.position).toBe(300);
    }
  });
});
