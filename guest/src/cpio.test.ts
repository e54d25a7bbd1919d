import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CpioEntry, newcArchive, S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from './cpio.js';
import { readNewc } from './test-support/cpio-reader.js';

const bytes = (s: string) => Buffer.from(s);
const hasCpio = spawnSync('cpio', ['--version']).status === 0;

describe('newcArchive', { timeout: 60_000 }, () => {
  const entries: CpioEntry[] = [
    { path: '/init', type: 'file', mode: 0o755, data: bytes('#!/bin/sh\n') },
    { path: 'bin/busybox', type: 'file', mode: 0o755, data: bytes('ELF') },
    { path: 'bin/sh', type: 'symlink', target: 'busybox' },
    { path: 'dev/console', type: 'char', major: 5, minor: 1 },
    { path: 'dev/null', type: 'char', mode: 0o666, major: 1, minor: 3 },
    { path: 'dev/vda', type: 'block', major: 254, minor: 0 },
    { path: 'tmp', type: 'dir', mode: 0o1777 },
  ];
  const read = readNewc(newcArchive(entries));

  it('sorts by path, adds missing parents, ends with the trailer', () => {
    expect(read.map((e) => e.name)).toEqual([
      'bin',
      'bin/busybox',
      'bin/sh',
      'dev',
      'dev/console',
      'dev/null',
      'dev/vda',
      'init',
      'tmp',
      'TRAILER!!!',
    ]);
  });

  it('writes device nodes as mode + rdev, owned by root, at mtime 0, with numbered inodes', () => {
    const console = read.find((e) => e.name === 'dev/console')!;
    expect(console.mode).toBe(S_IFCHR | 0o600);
    expect([console.rdevmajor, console.rdevminor]).toEqual([5, 1]);
    expect(read.find((e) => e.name === 'dev/vda')!.mode & S_IFMT).toBe(0o060000);
    for (const e of read.slice(0, -1)) {
      expect([e.uid, e.gid, e.mtime]).toEqual([0, 0, 0]);
    }
    expect(read.slice(0, -1).map((e) => e.ino)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('writes files, symlinks (target as data) and directories with their modes', () => {
    const init = read.find((e) => e.name === 'init')!;
    expect(init.mode).toBe(S_IFREG | 0o755);
    expect(Buffer.from(init.data).toString()).toBe('#!/bin/sh\n');
    const sh = read.find((e) => e.name === 'bin/sh')!;
    expect(sh.mode).toBe(S_IFLNK | 0o777);
    expect(Buffer.from(sh.data).toString()).toBe('busybox');
    expect(read.find((e) => e.name === 'bin')!.mode).toBe(S_IFDIR | 0o755);
    expect(read.find((e) => e.name === 'tmp')!.mode).toBe(S_IFDIR | 0o1777);
    expect(read.find((e) => e.name === 'bin')!.nlink).toBe(2);
  });

  it('is deterministic: the same entries in any order give the same bytes', () => {
    expect(newcArchive([...entries].reverse())).toEqual(newcArchive(entries));
  });

  it.each([
    ['an empty path', [{ path: '/', type: 'dir' }]],
    ['a path with ..', [{ path: 'a/../b', type: 'dir' }]],
    [
      'a duplicate',
      [
        { path: 'a', type: 'dir' },
        { path: '/a', type: 'dir' },
      ],
    ],
    [
      'a file under a file',
      [
        { path: 'a', type: 'file', data: bytes('') },
        { path: 'a/b', type: 'dir' },
      ],
    ],
    ['the trailer name', [{ path: 'TRAILER!!!', type: 'dir' }]],
  ] as [string, CpioEntry[]][])('refuses %s with E_BAD_ARGUMENT', (_, bad) => {
    expect(() => newcArchive(bad)).toThrow(expect.objectContaining({ code: 'E_BAD_ARGUMENT' }));
  });

  it('any set of files reads back with the same contents, parents present before children', () => {
    const name = fc.string({
      unit: fc.constantFrom(...'abcxyz._-'.split('')),
      minLength: 1,
      maxLength: 5,
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(
          fc.record({
            path: fc.array(name, { minLength: 1, maxLength: 3 }).map((p) => p.join('/')),
            data: fc.uint8Array({ maxLength: 40 }),
          }),
          { selector: (e) => e.path, maxLength: 12 },
        ),
        (files) => {
          // a path that is also a parent of another is not a file
          const parents = new Set(
            files.flatMap((f) =>
              f.path
                .split('/')
                .slice(0, -1)
                .map((_, i, a) => a.slice(0, i + 1).join('/')),
            ),
          );
          const plain = files.filter(
            (f) => !parents.has(f.path) && f.path.split('/').every((s) => s !== '.' && s !== '..'),
          );
          const read = readNewc(newcArchive(plain.map((f) => ({ ...f, type: 'file' as const }))));
          const seen = new Set<string>();
          for (const e of read.slice(0, -1)) {
            const parent = e.name.split('/').slice(0, -1).join('/');
            if (parent) expect(seen.has(parent)).toBe(true);
            seen.add(e.name);
          }
          for (const f of plain) expect(read.find((e) => e.name === f.path)?.data).toEqual(f.data);
        },
      ),
    );
  });

  it.skipIf(!hasCpio)("GNU cpio lists it the same (skipped without Debian's cpio)", () => {
    const r = spawnSync('cpio', ['-t', '-v', '--quiet'], {
      input: newcArchive(entries),
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.map((l) => l.split(/\s+/).slice(-1)[0])).toEqual(
      read.slice(0, -1).map((e) => (e.name === 'bin/sh' ? 'busybox' : e.name)),
    );
    expect(lines.find((l) => l.endsWith('dev/console'))).toMatch(
      /^crw------- +1 root +root +5, +1 /,
    );
    expect(lines.find((l) => l.endsWith('dev/null'))).toMatch(/^crw-rw-rw- +1 root +root +1, +3 /);
    expect(lines.find((l) => l.includes('bin/sh'))).toMatch(/^lrwxrwxrwx .* bin\/sh -> busybox$/);
  });
});
