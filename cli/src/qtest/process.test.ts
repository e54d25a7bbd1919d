/**
 * emuhost launched as a separate process exactly as QEMU's libqtest launches
 * qemu-system-x86_64: the client listens on two unix sockets, spawns the target with the
 * same argv, accepts its connections, does the QMP handshake, drives the machine over
 * qtest, and ends it with SIGTERM.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPlugin } from '@emuhost/host';
import { afterEach, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = join(repo, 'cli', 'bin', 'emuhost-system-x86_64.mjs');
const FIXTURE = join(repo, 'host', 'src', '__fixtures__', 'dma-copy');

/** A line-oriented client over a socket, skipping `IRQ` lines as libqtest does. */
class Client {
  private buf = '';
  private readonly lines: string[] = [];
  private waiting: ((l: string) => void) | undefined;
  readonly irqs: string[] = [];

  constructor(private readonly s: Socket) {
    s.setEncoding('utf8');
    s.on('data', (c: string) => {
      this.buf += c;
      for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
        const l = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        if (l.startsWith('IRQ ')) this.irqs.push(l);
        else if (this.waiting) {
          const w = this.waiting;
          this.waiting = undefined;
          w(l);
        } else this.lines.push(l);
      }
    });
  }

  next(): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    return new Promise((r) => {
      this.waiting = r;
    });
  }

  async cmd(line: string): Promise<string> {
    this.s.write(`${line}\n`);
    return this.next();
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

let child: ChildProcess | undefined;
afterEach(() => {
  child?.kill('SIGKILL');
});

describe('emuhost-system-x86_64 under a QEMU-style harness', { timeout: 60_000 }, () => {
  it('takes libqtest’s command line, answers QMP, enumerates PCI, runs device DMA, and exits on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'emuhost-qtest-'));
    const built = await buildPlugin(FIXTURE, { outDir: join(dir, 'plugin') });
    const qtestSock = join(dir, 'qtest.sock');
    const qmpSock = join(dir, 'qmp.sock');
    const qtestConn = listen(qtestSock);
    const qmpConn = listen(qmpSock);
    child = spawn(
      process.execPath,
      [
        BIN,
        '-qtest',
        `unix:${qtestSock}`,
        '-qtest-log',
        '/dev/null',
        '-chardev',
        `socket,path=${qmpSock},id=char0`,
        '-mon',
        'chardev=char0,mode=control',
        '-display',
        'none',
        '-audio',
        'none',
        '--plugin',
        built.manifestPath,
        '-machine',
        'pc',
        '-nodefaults',
        '-m',
        '64M',
        '-device',
        'dma-copy,delay_ns=1000',
        '-accel',
        'qtest',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr!.on('data', (c) => {
      stderr += String(c);
    });
    const qmp = new Client(await qmpConn);
    expect(JSON.parse(await qmp.next())).toMatchObject({
      QMP: { version: { qemu: { major: 7 } }, capabilities: ['oob'] },
    });
    expect(JSON.parse(await qmp.cmd('{"execute": "qmp_capabilities"}'))).toEqual({ return: {} });
    expect(JSON.parse(await qmp.cmd('{"execute": "query-status"}'))).toMatchObject({
      return: { running: true },
    });

    const q = new Client(await qtestConn);
    // Enumerate as libqos does: vendor of every devfn.
    const found: string[] = [];
    for (let devfn = 0; devfn < 256; devfn += 8) {
      await q.cmd(`outl 0xcf8 0x${((0x80000000 | (devfn << 8)) >>> 0).toString(16)}`);
      const v = await q.cmd('inl 0xcfc');
      if (v !== 'OK 0xffffffff') found.push(`${(devfn >> 3).toString(16)}:${v.slice(3)}`);
    }
    expect(found).toEqual(['0:0x12378086', '1:0x70008086', '2:0xbeef1234']);
    // Size BAR0, place it, enable MEM and MASTER, route INTA of slot 2 (PIRQC) to IRQ 11.
    const cfg = async (off: number, v?: number) => {
      await q.cmd(`outl 0xcf8 0x${((0x80001000 | off) >>> 0).toString(16)}`);
      return v === undefined ? q.cmd('inl 0xcfc') : q.cmd(`outl 0xcfc 0x${v.toString(16)}`);
    };
    await cfg(0x10, 0xffffffff);
    expect(await cfg(0x10)).toBe('OK 0xfffff000');
    await cfg(0x10, 0xe0000000);
    await cfg(0x04, 0x6);
    await q.cmd('outl 0xcf8 0x80000860');
    await q.cmd('outl 0xcfc 0x800b8080');
    expect(await q.cmd('irq_intercept_in ioapic')).toBe('OK');
    expect(await q.cmd('write 0x1000 4 0xdeadbeef')).toBe('OK');
    for (const [off, v] of [
      [0, 0x1000],
      [4, 0x2000],
      [8, 4],
      [12, 1],
    ] as const) {
      expect(await q.cmd(`writel 0x${(0xe0000000 + off).toString(16)} 0x${v.toString(16)}`)).toBe(
        'OK',
      );
    }
    expect(await q.cmd('clock_step 1000')).toBe('OK 1000');
    expect(q.irqs).toEqual(['IRQ raise 11']);
    expect(await q.cmd('read 0x2000 4')).toBe('OK 0xdeadbeef');
    expect(
      JSON.parse(
        await qmp.cmd(
          '{"execute": "human-monitor-command", "arguments": {"command-line": "info pci"}}',
        ),
      ).return,
    ).toContain('BAR0: 32 bit memory at 0xe0000000 [0xe0000fff], 4096 bytes');
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
  });

  it('exits 1 with a clear message for an unknown option or device, never a stack trace', () => {
    const run = (...args: string[]) => spawnSyncText(args);
    expect(run('-qtest', 'stdio', '-bogus')).toEqual({
      code: 1,
      err: 'emuhost: -bogus: invalid option\n',
    });
    const unknown = run('-qtest', 'stdio', '-device', 'nosuch');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(
      /^emuhost: E_UNKNOWN_ID: -device nosuch: 'nosuch' is not a valid device model name\. Known: .*edu.*\(-device help lists them\); a plugin of your own: .*--plugin .*\n$/,
    );
    expect(run('-version').code).toBe(0);
  });
});

import { spawnSync } from 'node:child_process';

function spawnSyncText(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', input: '' });
  return { code: r.status, err: r.stderr };
}
