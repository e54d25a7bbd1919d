/**
 * docs/examples/qtest_client.py, the Python qtest client of the docs, run as a reader would
 * run it (against this checkout's `emuhost`), over both transports. Skipped, saying so, where
 * there is no python3.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../../..', import.meta.url));
const script = join(repo, 'docs', 'examples', 'qtest_client.py');
const emuhost = `${process.execPath} ${join(repo, 'cli', 'bin', 'emuhost.mjs')}`;
const python = spawnSync('python3', ['--version']).status === 0;

describe.skipIf(!python)('the Python qtest client example (skipped: no python3)', () => {
  it.each(['unix', 'stdio'])(
    'drives edu over %s and every check holds',
    { timeout: 120_000 },
    (transport) => {
      const r = spawnSync('python3', [script, '--transport', transport, '--emuhost', emuhost], {
        encoding: 'utf8',
        timeout: 110_000,
      });
      expect(r.stderr).toBe('');
      expect(r.stdout.split('\n').filter((l) => l !== '')).toEqual([
        'ok   vendor:device: 0x11e81234',
        'ok   edu identification: 0x10000ed',
        'ok   liveness (inverted): 0xedcba987',
        'ok   factorial of 10: 0x375f00',
      ]);
      expect(r.status).toBe(0);
    },
  );
});
