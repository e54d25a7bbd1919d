/**
 * The snapshot file: a versioned header, then sections, each with its kind, name, length and
 * CRC-32, so that a reader can check the whole file (length, checksums, structure) before it
 * believes any of it.
 *
 * ```
 * header (32 bytes, little-endian)         section (24 bytes + name + payload)
 *  0  magic "EMUHSNAP"                       0  kind, 4 ASCII bytes ("META", "CPU ", "RAM "...)
 *  8  u32 format version (1)                 4  u32 name length in bytes (UTF-8)
 * 12  u32 number of sections                 8  u64 payload length in bytes
 * 16  u64 file length in bytes              16  u32 CRC-32 of the section header's bytes 0..15,
 * 24  u32 CRC-32 of bytes 0..23                 the name and the payload
 * 28  u32 reserved, 0                       20  u32 reserved, 0
 *                                           24  name, then payload
 * ```
 */

import { crc32 } from './crc32.js';
import { SnapshotError } from './errors.js';

export const SNAPSHOT_MAGIC = 'EMUHSNAP';
export const SNAPSHOT_FORMAT_VERSION = 1;
const HEADER = 32;
const SECTION_HEADER = 24;

/** A section: its kind (4 ASCII characters), a name (a device id, a region), its bytes. */
export interface Section {
  readonly kind: string;
  readonly name: string;
  readonly payload: Uint8Array;
}

/** Lays out `sections` as a snapshot file. */
export function encodeSnapshot(sections: readonly Section[]): Uint8Array {
  const enc = new TextEncoder();
  const names = sections.map((s) => enc.encode(s.name));
  let total = HEADER;
  for (const [i, s] of sections.entries())
    total += SECTION_HEADER + names[i]!.length + s.payload.length;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  out.set(enc.encode(SNAPSHOT_MAGIC), 0);
  dv.setUint32(8, SNAPSHOT_FORMAT_VERSION, true);
  dv.setUint32(12, sections.length, true);
  dv.setBigUint64(16, BigInt(total), true);
  dv.setUint32(24, crc32(out.subarray(0, 24)), true);
  let at = HEADER;
  for (const [i, s] of sections.entries()) {
    if (!/^[\x20-\x7e]{4}$/.test(s.kind))
      throw new SnapshotError('format', `section kind '${s.kind}' is not 4 ASCII characters`);
    const name = names[i]!;
    out.set(enc.encode(s.kind), at);
    dv.setUint32(at + 4, name.length, true);
    dv.setBigUint64(at + 8, BigInt(s.payload.length), true);
    out.set(name, at + SECTION_HEADER);
    out.set(s.payload, at + SECTION_HEADER + name.length);
    const end = at + SECTION_HEADER + name.length + s.payload.length;
    const crc = crc32(out.subarray(at + SECTION_HEADER, end), crc32(out.subarray(at, at + 16)));
    dv.setUint32(at + 16, crc, true);
    at = end;
  }
  return out;
}

/**
 * Reads a snapshot file's sections, checking all of it first: the magic and version, the
 * header's CRC, the length it records against the bytes there are (fewer: `truncated`), every
 * section's bounds and CRC (`corrupt`). Payloads are views into `bytes`.
 */
export function decodeSnapshot(bytes: Uint8Array): Section[] {
  if (bytes.length < HEADER)
    throw new SnapshotError('truncated', `${bytes.length} bytes is shorter than the header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dec = new TextDecoder('utf-8', { fatal: true });
  if (dec.decode(bytes.subarray(0, 8)) !== SNAPSHOT_MAGIC)
    throw new SnapshotError('format', 'not an emuhost snapshot (no EMUHSNAP magic)');
  if (crc32(bytes.subarray(0, 24)) !== dv.getUint32(24, true))
    throw new SnapshotError('corrupt', 'the header CRC does not match');
  const version = dv.getUint32(8, true);
  if (version !== SNAPSHOT_FORMAT_VERSION)
    throw new SnapshotError(
      'format',
      `snapshot format version ${version}; this emuhost reads version ${SNAPSHOT_FORMAT_VERSION}`,
    );
  const count = dv.getUint32(12, true);
  const total = dv.getBigUint64(16, true);
  if (total > BigInt(bytes.length))
    throw new SnapshotError('truncated', `the file has ${bytes.length} of its ${total} bytes`);
  if (total < BigInt(bytes.length))
    throw new SnapshotError('corrupt', `${BigInt(bytes.length) - total} bytes past the file's end`);
  const sections: Section[] = [];
  let at = HEADER;
  for (let i = 0; i < count; i++) {
    if (at + SECTION_HEADER > bytes.length)
      throw new SnapshotError('corrupt', `section ${i} of ${count} starts past the end`);
    const nameLen = dv.getUint32(at + 4, true);
    const payloadLen = dv.getBigUint64(at + 8, true);
    const end = BigInt(at + SECTION_HEADER + nameLen) + payloadLen;
    if (end > BigInt(bytes.length))
      throw new SnapshotError('corrupt', `section ${i} of ${count} runs past the end`);
    const crc = crc32(
      bytes.subarray(at + SECTION_HEADER, Number(end)),
      crc32(bytes.subarray(at, at + 16)),
    );
    const kind = String.fromCharCode(...bytes.subarray(at, at + 4));
    let name: string;
    try {
      name = dec.decode(bytes.subarray(at + SECTION_HEADER, at + SECTION_HEADER + nameLen));
    } catch {
      throw new SnapshotError('corrupt', `section ${i} has a name that is not UTF-8`);
    }
    if (crc !== dv.getUint32(at + 16, true))
      throw new SnapshotError('corrupt', `section ${i} (${kind.trim()} ${name}): CRC mismatch`);
    sections.push({
      kind,
      name,
      payload: bytes.subarray(at + SECTION_HEADER + nameLen, Number(end)),
    });
    at = Number(end);
  }
  if (at !== bytes.length)
    throw new SnapshotError('corrupt', `${bytes.length - at} bytes after the last section`);
  return sections;
}
