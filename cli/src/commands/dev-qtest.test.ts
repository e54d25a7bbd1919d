/**
 * The hot-reload acceptance test, over qtest: `emuhost qtest --watch DIR` on a copy of the edu
 * plugin, a QEMU-style client (it listens, emuhost connects) drives the device, the source is
 * edited while a DMA is pending, and over the same connection the liveness value, the
 * factorial result and the DMA buffer survive, the pending DMA completes on `clock_step`, and
 * the new code answers. And `emuhost dev`'s `swap` command swaps the IOMMU under the device.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { runQtest } from '../qtest/launch.js';
import { type DevSession, startDev } from './dev.js';

const repo = fileURLToPath(new URL('../../..', import.meta.url));

const copies: string[] = [];

/** A copy of plugins/edu inside the repository (so `@emuhost/sdk` resolves as it does there). */
function eduCopy(): string {
  const cache = join(repo, 'cli', 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(join(cache, 'emuhost-dev-qtest-'));
  copies.push(dir);
  mkdirSync(join(dir, 'src'));
  for (const f of ['emuhost.plugin.json', 'package.json', join('src', 'index.ts')])
    copyFileSync(join(repo, 'plugins', 'edu', f), join(dir, f));
  return dir;
}

/** A line-oriented qtest client, skipping `IRQ` lines. */
class Client {
  private buf = '';
  private readonly lines: string[] = [];
  private waiting: ((l: string) => void) | undefined;

  constructor(readonly s: Socket) {
    s.setEncoding('utf8');
    s.on('data', (c: string) => {
      this.buf += c;
      for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
        const l = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        if (l.startsWith('IRQ ')) continue;
        if (this.waiting) {
          const w = this.waiting;
          this.waiting = undefined;
          w(l);
        } else this.lines.push(l);
      }
    });
  }

  cmd(line: string): Promise<string> {
    this.s.write(`${line}\n`);
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    return new Promise((r) => {
      this.waiting = r;
    });
  }
}

function listen(path: string): Promise<Socket> {
  return new Promise((resolve) => {
    const server = createServer((s) => {
      server.close();
      resolve(s);
    });
    server.listen(path);
  });
}

const hex = (n: number) => `0x${(n >>> 0).toString(16)}`;

let session: DevSession | undefined;
afterEach(async () => {
  await session?.close();
  session = undefined;
  for (const d of copies.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('hot reload under a connected qtest client', () => {
  it('reloads edu with a DMA pending: liveness, factorial, DMA buffer and the pending DMA survive', async () => {
    const dir = eduCopy();
    const sock = join(mkdtempSync(join(tmpdir(), 'emuhost-devq-')), 'qtest.sock');
    const conn = listen(sock);
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let err = '';
    let onErr: (() => void) | undefined;
    stderr.on('data', (c) => {
      err += String(c);
      onErr?.();
    });
    const code = runQtest(
      [
        '-machine',
        'q35',
        '-device',
        'edu,id=edu0',
        '--watch',
        dir,
        '-qtest',
        `unix:${sock}`,
        '-qtest-log',
        '/dev/null',
      ],
      { stdin, stdout, stderr },
    );
    const q = new Client(await conn);

    // Enumerate as libqos does, then place BAR0 and enable MEM and MASTER.
    let slot = -1;
    for (let s = 0; s < 32 && slot < 0; s++) {
      await q.cmd(`outl 0xcf8 ${hex(0x80000000 | (s << 11))}`);
      if ((await q.cmd('inl 0xcfc')) === 'OK 0x11e81234') slot = s;
    }
    expect(slot).toBeGreaterThanOrEqual(0);
    const cfg = async (off: number, v: number) => {
      await q.cmd(`outl 0xcf8 ${hex(0x80000000 | (slot << 11) | off)}`);
      return q.cmd(`outl 0xcfc ${hex(v)}`);
    };
    const bar = 0xe0000000;
    await cfg(0x10, bar);
    await cfg(0x04, 0x6);
    const w = (off: number, v: number) => q.cmd(`writel ${hex(bar + off)} ${hex(v)}`);
    const r = async (off: number) =>
      Number(BigInt((await q.cmd(`readl ${hex(bar + off)}`)).slice(3)));
    expect(await r(0x00)).toBe(0x010000ed);

    await w(0x04, 0x12345678);
    await w(0x08, 5);
    // DMA RAM -> buffer, completed.
    const data = '00112233445566778899aabbccddeeff';
    expect(await q.cmd(`write 0x1000 16 0x${data}`)).toBe('OK');
    await w(0x80, 0x1000);
    await w(0x88, 0x40000);
    await w(0x90, 16);
    await w(0x98, 1);
    expect(await q.cmd('clock_step 100000000')).toMatch(/^OK \d+$/);
    expect(await r(0x98), 'the first DMA is done').toBe(0);
    expect(await r(0x08)).toBe(120);
    // DMA buffer -> RAM, pending: the clock is not stepped.
    await w(0x80, 0x40000);
    await w(0x88, 0x2000);
    await w(0x90, 16);
    await w(0x98, 3);
    expect(await r(0x98), 'RUN is set').toBe(3);

    // The edit: a new identification value.
    const reloaded = new Promise<void>((done) => {
      onErr = () => {
        if (/reload edu0: .*state v1 kept/.test(err)) done();
      };
    });
    const src = join(dir, 'src', 'index.ts');
    writeFileSync(
      src,
      readFileSync(src, 'utf8').replace('const ID = 0x010000ed;', 'const ID = 0x010000ee;'),
    );
    await reloaded;

    // The same connection, the new code, the old state.
    expect(await r(0x00), 'the new code answers').toBe(0x010000ee);
    expect(await r(0x04), 'liveness').toBe(~0x12345678 >>> 0);
    expect(await r(0x08), 'factorial').toBe(120);
    expect(await r(0x98), 'the DMA is still pending').toBe(3);
    expect(await q.cmd('read 0x2000 16')).toBe(`OK 0x${'0'.repeat(32)}`);
    expect(await q.cmd('clock_step')).toMatch(/^OK \d+$/);
    expect((await r(0x98)) & 1, 'the pending DMA completed: RUN is clear').toBe(0);
    expect(await q.cmd('read 0x2000 16'), 'the buffer survived and landed in RAM').toBe(
      `OK 0x${data}`,
    );
    // emuhost.iommu.swap finds a bundled IOMMU plugin the machine does not have yet.
    expect(await q.cmd('emuhost.iommu.swap bus=pcie.0 passthrough id=pt0')).toMatch(
      /^OK \{"from":null,"to":"pt0"/,
    );

    q.s.end();
    expect(await code).toBe(0);
  });
});

describe('emuhost dev commands', () => {
  it('swap TARGET PLUGIN|ID|none swaps the IOMMU under the running device', async () => {
    const dir = eduCopy();
    const out = new PassThrough();
    const err = new PassThrough();
    session = await startDev({ watch: [dir], out, err });
    expect(session.command('swap bus=pcie.0 passthrough id=pt0')).toMatch(
      /^OK \{"from":null,"to":"pt0","contexts":\d+,/,
    );
    expect(session.emu.iommus.has('pt0')).toBe(true);
    expect(session.command('swap bus=pcie.0 none')).toMatch(/^OK \{"from":"pt0","to":null/);
    expect(session.emu.iommus.has('pt0'), 'the instance the swap made is removed').toBe(false);
    expect(session.command('swap bus=nope none')).toBe(
      "FAIL no bus 'nope' (buses: pcie.0, platform)",
    );
    expect(session.command('swap')).toMatch(/^FAIL usage/);
    expect(session.command('frob')).toMatch(/^FAIL unknown command 'frob'/);
    expect(session.command('')).toBe('');
  });
});
