/**
 * Two `emuhost-system-riscv64` processes on one network (issue 18): each boots the reference
 * guest's `net` initramfs with a virtio-net-pci NIC on `-netdev hub,path=SOCK`. The first
 * process serves the socket, the second joins it; the guests configure 10.0.0.1 and 10.0.0.2
 * and ping each other, and a `filter-dump` capture of the first has the ICMP frames. Frames
 * between processes are real-time input, so this test checks outcomes, not byte-identical
 * consoles; it is slow (two Linux boots side by side) and its timeouts are only hang guards.
 * Where QEMU is installed, a QEMU guest joins an emuhost hub with QEMU's own
 * `-netdev stream,server=off` and the two ping each other (the framing is QEMU's).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureGuest, type GuestFiles } from '@emuhost/guest';
import { readPcap } from '@emuhost/host';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = join(repo, 'cli', 'bin', 'emuhost-system-riscv64.mjs');
const MINUTES = 60_000;
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

/** QEMU's own emulator, where it is installed: the interoperability case runs only then. */
const QEMU = process.env.PATH?.split(delimiter)
  .map((d) => join(d, 'qemu-system-riscv64'))
  .find((f) => existsSync(f));

function boot(guest: GuestFiles, dir: string, i: number, qemu = false) {
  const sock = join(dir, 'lan.sock');
  const args = [
    ...['-M', 'virt', '-m', '256M', '-nographic'],
    ...['-bios', guest.opensbi.fwDynamic, '-kernel', guest.kernel.image],
    ...['-initrd', guest.initramfs.net!],
    '-append',
    // The guests' clocks run apart (each paced to the host only when idle): generous waits.
    `console=ttyS0 earlycon emuhost.ip=10.0.0.${i + 1} emuhost.peer=10.0.0.${2 - i} emuhost.wait=600 emuhost.linger=20`,
    // QEMU joins the hub as a plain `-netdev stream` client.
    ...(qemu
      ? ['-netdev', `stream,id=n0,server=off,addr.type=unix,addr.path=${sock}`]
      : ['-netdev', `hub,id=n0,path=${sock}`]),
    ...['-device', `virtio-net-pci,netdev=n0,mac=52:54:00:12:34:0${i + 1}`],
    ...(i === 0 ? ['-object', `filter-dump,id=f0,netdev=n0,file=${join(dir, 'a.pcap')}`] : []),
  ];
  const [cmd, argv] = qemu ? [QEMU!, args] : [process.execPath, [BIN, ...args]];
  const child = spawn(cmd, argv, {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (c) => {
    out += String(c);
  });
  child.stderr!.on('data', (c) => {
    out += String(c);
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { exited, output: () => out };
}

/** Boots guest 0 with emuhost (serving the hub), then guest 1 (emuhost, or QEMU); both end. */
async function pair(qemu: boolean) {
  const guest = await ensureGuest();
  const dir = mkdtempSync(join(tmpdir(), 'emuhost-net-proc-'));
  const a = boot(guest, dir, 0);
  // The first process serves the path; the second starts once it exists.
  while (!existsSync(join(dir, 'lan.sock'))) {
    if (a.output().includes('emuhost-system-riscv64:')) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const b = boot(guest, dir, 1, qemu);
  const codes = await Promise.all([a.exited, b.exited]);
  return {
    dir,
    outs: [
      { code: codes[0]!, output: a.output() },
      { code: codes[1]!, output: b.output() },
    ],
  };
}

describe('two emuhost-system-riscv64 processes on a socket hub', () => {
  let dir: string;
  let outs: { code: number | null; output: string }[];

  beforeAll(async () => {
    ({ dir, outs } = await pair(false));
  }, 40 * MINUTES);

  it('both guests ping each other and power off with exit code 0', () => {
    const [a, b] = outs;
    expect(a!.output).toContain('EMUHOST-GUEST: insmod virtio_net ok');
    expect(a!.output).toContain('EMUHOST-GUEST: ping 10.0.0.2 ok');
    expect(b!.output).toContain('EMUHOST-GUEST: ping 10.0.0.1 ok');
    expect([a!.code, b!.code]).toEqual([0, 0]);
  });

  it("the first process's capture has the echo requests and replies", () => {
    const p = readPcap(new Uint8Array(readFileSync(join(dir, 'a.pcap'))));
    const icmp = p.records
      .map((r) => r.data)
      .filter((f) => f[12] === 0x08 && f[13] === 0x00 && f[14 + 9] === 1)
      .map((f) => `${f[14 + 12 + 3]}>${f[14 + 16 + 3]} ${f[34] === 8 ? 'request' : 'reply'}`);
    expect(icmp).toEqual(expect.arrayContaining(['1>2 request', '2>1 reply', '2>1 request']));
  });
});

describe.skipIf(QEMU === undefined)('a real QEMU on the hub (-netdev stream, its framing)', () => {
  let outs: { code: number | null; output: string }[];

  beforeAll(async () => {
    ({ outs } = await pair(true));
  }, 40 * MINUTES);

  it('the emuhost guest and the QEMU guest ping each other', () => {
    const [emu, qemu] = outs;
    expect(emu!.output).toContain('EMUHOST-GUEST: ping 10.0.0.2 ok');
    expect(qemu!.output).toContain('EMUHOST-GUEST: ping 10.0.0.1 ok');
    expect([emu!.code, qemu!.code]).toEqual([0, 0]);
  });
});
