import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fileIntact, guestDir, putFile, sweepTemporaries, withLock } from './cache.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'emuhost-cache-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('guestDir', { timeout: 60_000 }, () => {
  it('is $EMUHOST_GUEST_DIR, else $XDG_CACHE_HOME/emuhost-guest, else ~/.cache/emuhost-guest', () => {
    expect(guestDir({ EMUHOST_GUEST_DIR: '/g', XDG_CACHE_HOME: '/x', HOME: '/h' })).toBe('/g');
    expect(guestDir({ XDG_CACHE_HOME: '/x', HOME: '/h' })).toBe('/x/emuhost-guest');
    expect(guestDir({ HOME: '/h' })).toBe('/h/.cache/emuhost-guest');
  });
});

describe('files in the cache', { timeout: 60_000 }, () => {
  it('arrive whole under their name and are recorded with size and sha256', () => {
    const rec = putFile(dir, 'a/b.bin', Buffer.from('abc'));
    expect(rec).toEqual({
      path: 'a/b.bin',
      size: 3,
      sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    });
    expect(readdirSync(join(dir, 'a'))).toEqual(['b.bin']);
    expect(fileIntact(dir, rec, true)).toBe(true);
    writeFileSync(join(dir, 'a/b.bin'), 'abd');
    expect(fileIntact(dir, rec, false)).toBe(true);
    expect(fileIntact(dir, rec, true)).toBe(false);
    writeFileSync(join(dir, 'a/b.bin'), 'ab');
    expect(fileIntact(dir, rec, false)).toBe(false);
    expect(fileIntact(dir, { ...rec, path: 'nope' }, false)).toBe(false);
  });

  it('leftovers of an interrupted run (half files, scratch, apt state) are swept, other files kept', () => {
    mkdirSync(join(dir, 'k'));
    writeFileSync(join(dir, 'k', '.Image.tmp-123-456'), 'half');
    writeFileSync(join(dir, 'k', 'Image'), 'whole');
    mkdirSync(join(dir, 'work-abc', 'kernel'), { recursive: true });
    mkdirSync(join(dir, 'apt', 'lists'), { recursive: true });
    sweepTemporaries(dir);
    expect(readdirSync(join(dir, 'k'))).toEqual(['Image']);
    expect(readdirSync(dir)).toEqual(['k']);
  });
});

describe('withLock', { timeout: 60_000 }, () => {
  it('runs one holder at a time', async () => {
    const order: string[] = [];
    const task = (name: string) =>
      withLock(
        dir,
        async () => {
          order.push(`${name} in`);
          await new Promise((r) => setTimeout(r, 20));
          order.push(`${name} out`);
        },
        { pollMs: 5 },
      );
    await Promise.all([task('a'), task('b')]);
    expect(order).toEqual(['a in', 'a out', 'b in', 'b out']);
    expect(existsSync(join(dir, '.lock'))).toBe(false);
  });

  it('takes over a lock whose process is gone', async () => {
    mkdirSync(join(dir, '.lock'));
    writeFileSync(join(dir, '.lock', 'pid'), '999999999');
    expect(await withLock(dir, async () => 'ran')).toBe('ran');
  });

  it('gives up on a live holder after waitMs, naming it', async () => {
    mkdirSync(join(dir, '.lock'));
    writeFileSync(join(dir, '.lock', 'pid'), String(process.ppid));
    await expect(withLock(dir, async () => 'ran', { waitMs: 30, pollMs: 5 })).rejects.toMatchObject(
      {
        code: 'E_GUEST_FETCH',
        message: expect.stringContaining(`locked by process ${process.ppid}`),
      },
    );
    expect(readFileSync(join(dir, '.lock', 'pid'), 'utf8')).toBe(String(process.ppid));
  });
});
