/**
 * Ctrl-C and SIGTERM end emuhost whatever plugin code is doing (issue 15): the qtest target
 * as a separate process, with a plugin whose MMIO read never returns, at the levels that
 * cannot stop it (confined and trusted run it on the kernel's thread). The target says where
 * it is stuck, and a signal still ends it, with the exit code QEMU's harnesses expect.
 * No timing is asserted: the test waits for what the process prints, within its timeout.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPlugin } from '@emuhost/host';
import { afterEach, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(repo, 'cli', 'bin', 'emuhost-system-x86_64.mjs');

/** Its MMIO read of 0x10 never returns: line 9. */
const RUNAWAY = `import { definePlugin } from '@emuhost/sdk';

export default definePlugin({
  kind: 'device',
  pci: { vendorId: 0x1234, deviceId: 0x100f, classCode: 0xff0000 },
  create(ctx) {
    const regs = ctx.mmio('regs', 0x100, {
      read: (offset) => {
        if (offset === 0x10) while (true) {}
        return 0x600d;
      },
      write: () => {},
    });
    ctx.pci?.bar(0, { kind: 'memory', size: 0x100 }, regs);
    return {};
  },
});
`;

/** A machine file with the runaway plugin built outside the repository, at `level`. */
async function machine(level: 'confined' | 'trusted'): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'emuhost-signal-'));
  writeFileSync(
    join(dir, 'emuhost.plugin.json'),
    JSON.stringify({
      id: 'runaway',
      version: '0.1.0',
      kind: 'device',
      sdk: '^1.0.0',
      entry: 'src/index.ts',
      capabilities: ['pci'],
    }),
  );
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'src', 'index.ts'), RUNAWAY);
  await buildPlugin(dir);
  const file = join(dir, 'machine.json');
  writeFileSync(
    file,
    JSON.stringify({
      machine: 'pc',
      ram: '64M',
      plugins: [{ path: 'dist/emuhost.plugin.json', level }],
      devices: [{ plugin: 'runaway', id: 'r0' }],
    }),
  );
  return file;
}

let child: ChildProcess | undefined;
afterEach(() => {
  child?.kill('SIGKILL');
  child = undefined;
});

describe.each([
  ['confined', 'SIGTERM'],
  ['trusted', 'SIGINT'],
] as const)('a plugin at the %s level that never returns', (level, signal) => {
  it(`is named on stderr, and ${signal} still ends emuhost, with exit code 0`, async () => {
    const file = await machine(level);
    const c = spawn(
      process.execPath,
      [BIN, '--machine', file, '-qtest', 'stdio', '-qtest-log', '/dev/null'],
      {
        cwd: repo,
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    child = c;
    let stderr = '';
    const exited = new Promise<number | null>((done) => c.on('exit', (code) => done(code)));
    const stalled = new Promise<void>((done) => {
      c.stderr!.on('data', (b: Buffer) => {
        stderr += b.toString();
        if (stderr.includes('has not returned to its event loop')) done();
      });
    });
    // BAR0 of slot 2 at 0xfe000000, decoding; then the read that never returns.
    c.stdin!.write(
      [
        'outl 0xcf8 0x80001010',
        'outl 0xcfc 0xfe000000',
        'outl 0xcf8 0x80001004',
        'outw 0xcfc 0x6',
        'readl 0xfe000010',
        '',
      ].join('\n'),
    );
    await stalled;
    expect(stderr).toMatch(
      new RegExp(
        `has not returned to its event loop for [\\d.]+ s: device r0 \\(plugin runaway 0\\.1\\.0, ${level}\\), at .*src/index\\.ts:9:\\d+\\)`,
      ),
    );
    c.kill(signal);
    expect(await exited).toBe(0);
    expect(stderr).toMatch(
      new RegExp(`emuhost: ${signal}: exiting now; still running: device r0 .*index\\.ts:9:`),
    );
    // Nothing else: no Node or esbuild noise on the way out.
    expect(stderr.trimEnd().split('\n')).toHaveLength(2);
  });
});
