/**
 * A request completed after a FLUSH is on disk: a child process runs the emulator, its guest
 * writes and flushes, and the parent kills the child with SIGKILL the moment it reports the
 * FLUSH complete. The image must hold every byte.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { makeImage, PLUGIN_DIR, pattern, SECTOR } from './test-support/setup.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const CHILD = fileURLToPath(new URL('./test-support/flush-child.ts', import.meta.url));

describe('durability', () => {
  it('killing emuhost right after a FLUSH completes loses nothing', {
    timeout: 120_000,
  }, async () => {
    const file = makeImage(1 << 20);
    const sectors = 64;
    const child = spawn(process.execPath, ['scripts/run-ts.mjs', CHILD, file, String(sectors)], {
      cwd: ROOT,
      env: { ...process.env, EMUHOST_BLK_PLUGIN_DIR: PLUGIN_DIR },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      err += c;
    });
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
      child.on('exit', (code, signal) => resolve(signal ?? code)),
    );
    await new Promise<void>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (c: string) => {
        out += c;
        if (out.includes('flushed\n')) {
          child.kill('SIGKILL');
          resolve();
        } else if (out.includes('failed')) reject(new Error(out));
      });
      child.on('exit', () => reject(new Error(`the child ended first: ${out}${err}`)));
    });
    expect(await exited).toBe('SIGKILL');
    const img = new Uint8Array(readFileSync(file));
    expect(img.subarray(8 * SECTOR, (8 + sectors) * SECTOR)).toEqual(pattern(sectors * SECTOR, 42));
  });
});
