/**
 * `emuhost-system-riscv64` as a process: exit codes, stdio and the C-a keys, signals, the
 * serial and monitor backends, the GDB stub on a socket, dumpdtb, traces, and every kind of
 * bad input answered with one line and exit code 1. The machine is the `rvtest` fixture,
 * loaded with `--plugin` (the front end takes any machine with a CPU declaration).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPlugin } from '@emuhost/host';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frame, RspReader } from './gdb/packets.js';
import { echo, hello, rebooter } from './test-support/guests.js';
import { RVTEST_DIR } from './test-support/machine.js';

const repo = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = join(repo, 'cli', 'bin', 'emuhost-system-riscv64.mjs');
const T = { timeout: 120_000 };

let dir: string;
let plugin: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'emuhost-system-'));
  plugin = (await buildPlugin(RVTEST_DIR, { outDir: join(dir, 'rvtest') })).manifestPath;
  writeFileSync(join(dir, 'hello.bin'), hello('hello from the guest\n', 7).image);
  writeFileSync(join(dir, 'hello0.bin'), hello('bye\n', 0).image);
  writeFileSync(join(dir, 'echo.bin'), echo().image);
  writeFileSync(join(dir, 'reboot.bin'), rebooter().image);
}, 120_000);
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

/** Starts the CLI; `out()` is what it printed so far, `exited` its exit code. */
function run(args: string[], stdin: 'pipe' | 'ignore' = 'ignore') {
  const child = spawn(process.execPath, [BIN, '--plugin', plugin, ...args], {
    cwd: dir,
    stdio: [stdin, 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  const waiters: (() => void)[] = [];
  const poke = () => {
    for (const w of waiters.splice(0)) w();
  };
  child.stdout!.on('data', (c) => {
    stdout += String(c);
    poke();
  });
  child.stderr!.on('data', (c) => {
    stderr += String(c);
    poke();
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    child,
    exited,
    out: () => stdout,
    err: () => stderr,
    /** Resolves once stdout contains `text`. */
    async see(text: string) {
      while (!stdout.includes(text)) {
        if (child.exitCode !== null) throw new Error(`exited before '${text}': ${stdout}${stderr}`);
        await new Promise<void>((r) => waiters.push(r));
      }
    },
    type(s: string) {
      child.stdin!.write(s);
    },
  };
}

async function connectWhenReady(path: string): Promise<Socket> {
  for (;;) {
    const s = connect(path);
    const ok = await new Promise<boolean>((r) => {
      s.once('connect', () => r(true));
      s.once('error', () => r(false));
    });
    if (ok) return s;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function collect(s: Socket) {
  let text = '';
  const waiters: (() => void)[] = [];
  s.on('data', (d) => {
    text += String(d);
    for (const w of waiters.splice(0)) w();
  });
  return {
    text: () => text,
    async see(t: string) {
      while (!text.includes(t)) await new Promise<void>((r) => waiters.push(r));
    },
  };
}

describe('emuhost-system-riscv64', () => {
  it('runs the guest; its poweroff code is the exit code', T, async () => {
    const p = run(['-M', 'rvtest', '-bios', 'hello.bin', '-nographic']);
    expect(await p.exited).toBe(7);
    expect(p.out()).toBe('hello from the guest\n');
    expect(p.err()).toBe('');
  });

  it('-nographic: keys reach the guest, C-a C-a sends C-a, C-a x quits', T, async () => {
    const p = run(['-M', 'rvtest', '-bios', 'echo.bin', '-nographic'], 'pipe');
    await p.see('echo ready\n');
    p.type('abc');
    await p.see('abc');
    p.type('x\x01\x01y');
    await p.see('abcx\x01y');
    p.type('\x01h');
    await p.see('C-a x    exit emulator');
    p.type('\x01x');
    expect(await p.exited).toBe(0);
    expect(p.out()).toContain('emuhost: Terminated');
  });

  it('C-a c: the monitor on the terminal, then back to the console', T, async () => {
    const p = run(['-M', 'rvtest', '-bios', 'echo.bin', '-nographic'], 'pipe');
    await p.see('echo ready\n');
    p.type('\x01c');
    await p.see('(qemu) ');
    p.type('info status\r');
    await p.see('VM status: running\r\n(qemu) ');
    p.type('\x01c!');
    expect(await p.exited).toBe(3);
  });

  it('SIGTERM and SIGINT end it promptly, with exit code 0', T, async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const p = run(['-M', 'rvtest', '-bios', 'echo.bin', '-nographic'], 'pipe');
      await p.see('echo ready\n');
      p.child.kill(signal);
      expect(await p.exited).toBe(0);
      expect(p.err()).toContain(`terminating on signal ${signal}`);
    }
    // Also while it waits for a serial client, before the machine runs.
    const sock = join(dir, 'never.sock');
    const w = run(['-M', 'rvtest', '-bios', 'echo.bin', '-serial', `unix:${sock},server`]);
    while (!w.err().includes('waiting for connection')) await new Promise((r) => setTimeout(r, 50));
    w.child.kill('SIGTERM');
    expect(await w.exited).toBe(0);
  });

  it('a guest reboot resets the machine; -no-reboot exits instead', T, async () => {
    const a = run(['-M', 'rvtest', '-bios', 'reboot.bin', '-nographic']);
    expect(await a.exited).toBe(0);
    expect(a.out()).toBe('123');
    const b = run(['-M', 'rvtest', '-bios', 'reboot.bin', '-nographic', '-no-reboot']);
    expect(await b.exited).toBe(0);
    expect(b.out()).toBe('1');
  });

  it('-serial unix:PATH,server (waits for the client) and -serial file:PATH', T, async () => {
    const sock = join(dir, 'serial.sock');
    const p = run(['-M', 'rvtest', '-bios', 'echo.bin', '-serial', `unix:${sock},server`]);
    const s = await connectWhenReady(sock);
    const c = collect(s);
    await c.see('echo ready\n');
    s.write('hi');
    await c.see('hi');
    s.write('q');
    expect(await p.exited).toBe(0);
    expect(p.err()).toMatch(/waiting for connection on unix:/);

    const file = join(dir, 'serial.out');
    const f = run(['-M', 'rvtest', '-bios', 'hello.bin', '-serial', `file:${file}`]);
    expect(await f.exited).toBe(7);
    expect(readFileSync(file, 'utf8')).toBe('hello from the guest\n');
    expect(f.out()).toBe('');
  });

  it('-serial tcp:HOST:PORT connects out; -monitor unix:PATH,server,nowait', T, async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const accepted = new Promise<Socket>((r) => server.once('connection', r));
    const mon = join(dir, 'mon.sock');
    const p = run([
      '-M',
      'rvtest',
      '-bios',
      'echo.bin',
      '-serial',
      `tcp:127.0.0.1:${port}`,
      '-monitor',
      `unix:${mon},server,nowait`,
    ]);
    const s = await accepted;
    server.close();
    const c = collect(s);
    await c.see('echo ready\n');
    const m = await connectWhenReady(mon);
    const mc = collect(m);
    await mc.see('(qemu) ');
    m.write('info status\n');
    await mc.see('VM status: running');
    m.write('quit\n');
    expect(await p.exited).toBe(0);
  });

  it('the GDB stub on a socket, with -S: the debugger starts the machine', T, async () => {
    const sock = join(dir, 'gdb.sock');
    const p = run([
      '-M',
      'rvtest',
      '-bios',
      'hello0.bin',
      '-nographic',
      '-S',
      '-gdb',
      `unix:${sock}`,
    ]);
    const s = await connectWhenReady(sock);
    const reader = new RspReader();
    const replies: string[] = [];
    let wake = () => {};
    s.on('data', (d: Buffer) => {
      for (const e of reader.feed(new Uint8Array(d)))
        if (e.kind === 'packet') {
          s.write('+');
          replies.push(Buffer.from(e.payload).toString());
          wake();
        }
    });
    const next = async () => {
      while (replies.length === 0) await new Promise<void>((r) => (wake = r));
      return replies.shift()!;
    };
    s.write(frame('?'));
    expect(await next()).toBe('T05thread:01;');
    expect(p.out()).toBe(''); // -S: nothing ran
    s.write(frame('c'));
    expect(await next()).toBe('W00');
    expect(await p.exited).toBe(0);
    expect(p.out()).toBe('bye\n');
  });

  it('-machine dumpdtb=FILE writes the device tree and exits', T, async () => {
    const file = join(dir, 'out.dtb');
    const p = run(['-M', `rvtest,dumpdtb=${file}`, '-bios', 'hello.bin']);
    expect(await p.exited).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe('rvtest device tree\n');
    expect(p.out()).toBe('');
  });

  it('-d in_asm,int -D FILE: CPU traces in the file', T, async () => {
    const file = join(dir, 'trace.log');
    const p = run(['-M', 'rvtest', '-bios', 'hello.bin', '-d', 'in_asm,int', '-D', file]);
    expect(await p.exited).toBe(7);
    const log = readFileSync(file, 'utf8');
    expect(log).toMatch(/^IN: \[M\]\n0x0000000080000000: {2}10000437 {2}lui {5}s0,0x10000\n/);
  });

  it(
    'bad input: one line naming the argument or file, exit code 1, no stack trace',
    T,
    async () => {
      // Every kind is in launch.test.ts (in this process); here, the process's side of it.
      const cases: [string[], RegExp][] = [
        [['-M', 'rvtest', '-frobnicate'], /^emuhost-system-riscv64: -frobnicate: invalid option$/],
        [
          ['-M', 'rvtest', '-bios', 'missing.bin'],
          /could not load firmware 'missing.bin': No such file or directory/,
        ],
        [
          ['-M', 'rvtest', '-m', '64K', '-bios', 'echo.bin', '-kernel', 'echo.bin'],
          /-kernel \(180 bytes\) does not fit/,
        ],
      ];
      for (const [args, want] of cases) {
        const p = run(args);
        expect(await p.exited, args.join(' ')).toBe(1);
        const lines = p.err().trim().split('\n');
        expect(lines, args.join(' ')).toHaveLength(1);
        expect(lines[0], args.join(' ')).toMatch(want);
        expect(p.err()).not.toMatch(/\n\s+at /);
      }
    },
  );
});

/** `emuhost ARGS` as a process; resolves with its exit code and output. */
function emuhost(args: string[]): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [join(repo, 'cli', 'bin', 'emuhost.mjs'), ...args], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (c) => (out += String(c)));
  child.stderr!.on('data', (c) => (out += String(c)));
  return new Promise((r) => child.on('exit', (code) => r({ code, out })));
}

describe("emuhost snapshot save|load|info over a running machine's monitor socket", () => {
  it(
    'saves, refuses a truncated file with the machine running on, loads, and says what a file holds',
    T,
    async () => {
      const mon = join(dir, 'snap-mon.sock');
      const p = run(
        [
          '-M',
          'rvtest',
          '-bios',
          'echo.bin',
          '-nographic',
          '-monitor',
          `unix:${mon},server,nowait`,
        ],
        'pipe',
      );
      await p.see('echo ready\n');
      await connectWhenReady(mon).then((s) => s.destroy());
      const address = `unix:${mon}`;
      const saved = await emuhost(['snapshot', 'save', 'echo.emusnap', '--monitor', address]);
      expect(saved, saved.out).toEqual({ code: 0, out: 'saved echo.emusnap\n' });

      const info = await emuhost(['snapshot', 'info', 'echo.emusnap']);
      expect(info.code, info.out).toBe(0);
      expect(info.out).toMatch(/^machine rvtest .*, deterministic, at \d+ ns virtual/m);
      expect(info.out).toMatch(/^ {2}cpu cpu0: rv64 /m);
      expect(info.out).toContain('checksums: ok');

      const bytes = readFileSync(join(dir, 'echo.emusnap'));
      writeFileSync(join(dir, 'short.emusnap'), bytes.subarray(0, bytes.length - 100));
      const short = await emuhost(['snapshot', 'load', 'short.emusnap', '--monitor', address]);
      expect(short.code).toBe(1);
      expect(short.out).toMatch(/^Error: snapshot truncated: the file has \d+ of its \d+ bytes/);
      const bad = await emuhost(['snapshot', 'info', 'short.emusnap']);
      expect(bad.code).toBe(1);
      expect(bad.out).toMatch(/E_SNAPSHOT: snapshot truncated/);

      p.type('k');
      await p.see('k'); // still running, untouched
      const loaded = await emuhost(['snapshot', 'load', 'echo.emusnap', '--monitor', address]);
      expect(loaded, loaded.out).toEqual({ code: 0, out: 'loaded echo.emusnap\n' });
      p.type('z');
      await p.see('z');
      p.type('q');
      expect(await p.exited).toBe(0);
    },
  );
});
