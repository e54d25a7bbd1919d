/**
 * Property values of a device tree: big-endian byte strings, with encoders for the shapes a
 * DTS writes (`<cells>`, `/bits/ 64`, `"string"`, `"a", "b"`, `[bytes]`, an empty property)
 * and decoders back.
 *
 * Strings are byte strings (Latin-1): device-tree strings are ASCII in practice, and a
 * byte-for-byte mapping keeps a parsed user blob lossless whatever it holds. No TextEncoder:
 * plugin code runs in a compartment without one.
 */
import { EmuhostError } from '@emuhost/sdk';

/** A property value: the bytes exactly as they sit in the blob. */
export type PropValue = Uint8Array;

const U32_MAX = 0xffff_ffff;
const U64_MAX = (1n << 64n) - 1n;

/** `<a b c>`: 32-bit cells, big-endian. Each must be an integer in 0..0xffffffff. */
export function u32(...cells: readonly number[]): PropValue {
  const out = new Uint8Array(cells.length * 4);
  const view = new DataView(out.buffer);
  cells.forEach((c, i) => {
    if (!Number.isInteger(c) || c < 0 || c > U32_MAX) {
      throw new EmuhostError('E_BAD_ARGUMENT', `device-tree cell ${c} is not a u32`);
    }
    view.setUint32(i * 4, c);
  });
  return out;
}

/** A phandle reference or `phandle` property: one cell. */
export function phandle(p: number): PropValue {
  return u32(p);
}

/**
 * 64-bit values as two cells each (high, low): `reg`, `linux,initrd-start`. Numbers must be
 * safe integers (exact up to 2^53); pass a bigint above that.
 */
export function u64(...values: readonly (number | bigint)[]): PropValue {
  const out = new Uint8Array(values.length * 8);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => {
    if (typeof v === 'number' && (!Number.isSafeInteger(v) || v < 0)) {
      throw new EmuhostError('E_BAD_ARGUMENT', `device-tree value ${v} is not a u64`);
    }
    const b = BigInt(v);
    if (b < 0n || b > U64_MAX) {
      throw new EmuhostError('E_BAD_ARGUMENT', `device-tree value ${v} is not a u64`);
    }
    view.setBigUint64(i * 8, b);
  });
  return out;
}

/** `"text"`: the bytes of `s` and a NUL. */
export function str(s: string): PropValue {
  return strList(s);
}

/** `"a", "b"`: each string NUL-terminated, back to back (`compatible`). */
export function strList(...strings: readonly string[]): PropValue {
  const total = strings.reduce((n, s) => n + s.length + 1, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const s of strings) {
    out.set(latin1Bytes(s, true), at);
    at += s.length + 1;
  }
  return out;
}

/** `[00 11 22]`: raw bytes. */
export function bytes(...values: readonly number[]): PropValue {
  for (const v of values) {
    if (!Number.isInteger(v) || v < 0 || v > 0xff) {
      throw new EmuhostError('E_BAD_ARGUMENT', `device-tree byte ${v} is not in 0..255`);
    }
  }
  return Uint8Array.from(values);
}

/** An empty property (`dma-coherent;`): present, no value. */
export function empty(): PropValue {
  return new Uint8Array(0);
}

/** Values laid end to end, e.g. `concat(u64(base), u64(size))` or mixed cell widths. */
export function concat(...parts: readonly PropValue[]): PropValue {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The value's 32-bit cells; throws E_BAD_ARGUMENT if its length is not a multiple of 4. */
export function readCells(value: PropValue): number[] {
  if (value.length % 4 !== 0) {
    throw new EmuhostError('E_BAD_ARGUMENT', `a ${value.length}-byte value is not a cell list`);
  }
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const cells: number[] = [];
  for (let at = 0; at < value.length; at += 4) cells.push(view.getUint32(at));
  return cells;
}

/** Cell `index` (0-based) of the value; throws E_BAD_ARGUMENT if it is not there. */
export function readU32(value: PropValue, index = 0): number {
  const cell = readCells(value)[index];
  if (cell === undefined) {
    throw new EmuhostError('E_BAD_ARGUMENT', `the value has no cell ${index}`);
  }
  return cell;
}

/** The 64-bit value at cells `2*index`, `2*index + 1`. */
export function readU64(value: PropValue, index = 0): bigint {
  const hi = readU32(value, 2 * index);
  const lo = readU32(value, 2 * index + 1);
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** The NUL-terminated strings of the value; throws E_BAD_ARGUMENT if the last is unterminated. */
export function readStringList(value: PropValue): string[] {
  if (value.length === 0 || value[value.length - 1] !== 0) {
    throw new EmuhostError('E_BAD_ARGUMENT', 'the value is not a NUL-terminated string list');
  }
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    if (value[i] === 0) {
      out.push(latin1String(value, start, i));
      start = i + 1;
    }
  }
  return out;
}

/** The value as one string (its first, for a list). */
export function readString(value: PropValue): string {
  return readStringList(value)[0]!;
}

/**
 * The bytes of `s`, one per character (U+0001..U+00FF), with a NUL after them if `nul`.
 * Node and property names are encoded the same way.
 */
export function latin1Bytes(s: string, nul: boolean): Uint8Array {
  const out = new Uint8Array(s.length + (nul ? 1 : 0));
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c > 0xff) {
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `device-tree string ${JSON.stringify(s)} has a character outside U+0001..U+00FF`,
      );
    }
    out[i] = c;
  }
  return out;
}

/** Bytes [start, end) as a string, one character per byte. */
export function latin1String(b: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(b[i]!);
  return s;
}
