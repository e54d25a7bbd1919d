/**
 * A `newc` cpio writer: the archive format Linux unpacks as an initramfs
 * (Documentation/driver-api/early-userspace/buffer-format.rst).
 *
 * Device nodes are entries with a mode and an rdev, so no mknod and no root are needed.
 * Output is deterministic: entries sorted by path bytes, owner 0:0, mtime 0, inode numbers in
 * that order. Missing parent directories are added (mode 0755), because the kernel's unpacker
 * does not create them: a file whose directory is not yet there is silently dropped.
 */
import { EmuhostError } from '@emuhost/sdk';

/** One archive member. `mode` is the permission bits only (e.g. 0o755); the type is `type`. */
export type CpioEntry =
  | { readonly path: string; readonly type: 'dir'; readonly mode?: number }
  | {
      readonly path: string;
      readonly type: 'file';
      readonly mode?: number;
      readonly data: Uint8Array;
    }
  | { readonly path: string; readonly type: 'symlink'; readonly target: string }
  | {
      readonly path: string;
      readonly type: 'char' | 'block';
      readonly mode?: number;
      readonly major: number;
      readonly minor: number;
    };

/** File-type bits of `st_mode`. */
export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;

const MAGIC = '070701';
const HEADER_SIZE = 110;
const TRAILER = 'TRAILER!!!';

const DEFAULT_MODE = { dir: 0o755, file: 0o644, char: 0o600, block: 0o600 } as const;

/**
 * The archive for `entries` (uncompressed). Paths are relative to the archive root; a leading
 * `/` or `./` is dropped. Throws E_BAD_ARGUMENT for an empty path, `..`, or a duplicate.
 */
export function newcArchive(entries: readonly CpioEntry[]): Uint8Array {
  const byPath = new Map<string, CpioEntry>();
  for (const e of entries) {
    const path = normalize(e.path);
    if (byPath.has(path)) throw new EmuhostError('E_BAD_ARGUMENT', `cpio: "${path}" twice`);
    byPath.set(path, { ...e, path });
  }
  for (const path of [...byPath.keys()]) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      const existing = byPath.get(dir);
      if (!existing) byPath.set(dir, { path: dir, type: 'dir' });
      else if (existing.type !== 'dir') {
        throw new EmuhostError(
          'E_BAD_ARGUMENT',
          `cpio: "${dir}" is a ${existing.type}, not a directory`,
        );
      }
    }
  }
  const sorted = [...byPath.values()].sort((a, b) => Buffer.compare(utf8(a.path), utf8(b.path)));

  const chunks: Uint8Array[] = [];
  let ino = 1;
  for (const e of sorted) chunks.push(...member(e, ino++));
  chunks.push(...member({ path: TRAILER, type: 'file', data: new Uint8Array(0) }, 0, true));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function member(e: CpioEntry, ino: number, trailer = false): Uint8Array[] {
  const name = utf8(`${e.path}\0`);
  let mode: number;
  let data: Uint8Array = new Uint8Array(0);
  let rdev: [number, number] = [0, 0];
  switch (e.type) {
    case 'dir':
      mode = S_IFDIR | (e.mode ?? DEFAULT_MODE.dir);
      break;
    case 'file':
      mode = trailer ? 0 : S_IFREG | (e.mode ?? DEFAULT_MODE.file);
      data = e.data;
      break;
    case 'symlink':
      mode = S_IFLNK | 0o777;
      data = utf8(e.target);
      break;
    case 'char':
    case 'block':
      mode = (e.type === 'char' ? S_IFCHR : S_IFBLK) | (e.mode ?? DEFAULT_MODE[e.type]);
      rdev = [e.major, e.minor];
      break;
  }
  const fields = [
    ino,
    mode,
    0, // uid
    0, // gid
    e.type === 'dir' ? 2 : 1, // nlink
    0, // mtime
    data.length,
    0, // devmajor: of the filesystem holding the file, meaningless here
    0, // devminor
    rdev[0],
    rdev[1],
    name.length,
    0, // check: only for the 070702 (crc) variant
  ];
  for (const f of fields) {
    if (!Number.isInteger(f) || f < 0 || f > 0xffff_ffff) {
      throw new EmuhostError('E_BAD_ARGUMENT', `cpio: "${e.path}" has a field ${f} outside u32`);
    }
  }
  const header = utf8(MAGIC + fields.map((f) => f.toString(16).padStart(8, '0')).join(''));
  return [header, name, zeros(pad4(HEADER_SIZE + name.length)), data, zeros(pad4(data.length))];
}

function normalize(path: string): string {
  const p = path.replace(/^(\.?\/)+/, '').replace(/\/+$/, '');
  if (p === '' || p === TRAILER || p.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw new EmuhostError('E_BAD_ARGUMENT', `cpio: "${path}" is not a plain relative path`);
  }
  return p;
}

const utf8 = (s: string): Uint8Array => Buffer.from(s, 'utf8');
const pad4 = (n: number): number => (4 - (n % 4)) % 4;
const zeros = (n: number): Uint8Array => new Uint8Array(n);
