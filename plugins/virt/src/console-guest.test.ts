/**
 * The virtio console under the reference guest: Debian's stock riscv64 kernel (virtio_console
 * built in) on the virt machine with `virtio-serial-pci` carrying a virtconsole on chardev c0
 * and a virtserialport named org.example.0 on c1. The `console` /init flavour writes a line to
 * /dev/hvc0 (the host's c0 receives it), reads the line the host sends on c0 once the guest
 * says it is reading, finds the named port in /sys/class/virtio-ports and writes to it (the
 * host's c1 receives it). Host input arrives when it arrives, as a UART's does. Then the same
 * through `emuhost-system-riscv64` with QEMU's spelling: a socket chardev the test connects
 * to, and a file chardev.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureGuest, type GuestFiles } from '@emuhost/guest';
import { CharChannel } from '@emuhost/host';
import { beforeAll, describe, expect, it } from 'vitest';
import { type BootResult, bootVirt } from './test-support/boot.js';

const MINUTES = 60_000;
const M = 'EMUHOST-GUEST:';

describe('virtio console (hvc) under Debian riscv64', () => {
  let run: BootResult;
  const got = { c0: '', c1: '' };

  beforeAll(async () => {
    const guest = await ensureGuest();
    const channel = (id: 'c0' | 'c1') =>
      new CharChannel({
        output: (b) => {
          got[id] += Buffer.from(b).toString('latin1');
        },
      });
    const c0 = channel('c0');
    const c1 = channel('c1');
    let sent = false;
    run = await bootVirt({
      bios: new Uint8Array(readFileSync(guest.opensbi.fwDynamic)),
      kernel: new Uint8Array(readFileSync(guest.kernel.image)),
      initrd: new Uint8Array(readFileSync(guest.initramfs.console!)),
      cmdline: 'console=ttyS0 earlycon',
      ramSize: 512 << 20,
      maxInstructions: 6e9,
      backends: {
        chardevs: new Map([
          ['c0', c0],
          ['c1', c1],
        ]),
      },
      devices: [
        {
          plugin: 'virtio-serial-pci',
          options: { ports: 'console:c0;port:c1:org.example.0' },
        },
      ],
      between: (_emu, output) => {
        if (!sent && output.includes(`${M} hvc reading`)) {
          sent = true;
          c0.input(Buffer.from('hello from the host\n'));
        }
        return undefined;
      },
    });
  }, 40 * MINUTES);

  it('boots to /init and powers off', () => {
    expect(run.output).toContain(`${M} init reached`);
    expect({ outcome: run.outcome, exitCode: run.exitCode }).toEqual({
      outcome: 'poweroff',
      exitCode: 0,
    });
  });

  it('shows the virtserialport by name in /sys/class/virtio-ports', () => {
    expect(run.output).toContain(`${M} vport vport0p1 name=org.example.0`);
  });

  it("the guest's write to /dev/hvc0 reaches the host's chardev", () => {
    expect(run.output).toContain(`${M} hvc written`);
    expect(got.c0).toContain('EMUHOST-HVC: hello from the guest');
  });

  it("the host's write reaches the guest's read of /dev/hvc0", () => {
    expect(run.output).toContain(`${M} hvc read: hello from the host`);
  });

  it("the guest's write to the named port reaches the host's chardev", () => {
    expect(run.output).toContain(`${M} vport written`);
    expect(got.c1).toContain('EMUHOST-VPORT: hello from the guest');
  });
});

describe('virtio console through emuhost-system-riscv64', () => {
  it(
    '-device virtio-serial-pci with virtconsole on a socket and virtserialport on a file',
    async () => {
      const guest: GuestFiles = await ensureGuest();
      const dir = mkdtempSync(join(tmpdir(), 'emuhost-hvc-'));
      const sock = join(dir, 'c0.sock');
      const file = join(dir, 'c1.txt');
      const bin = fileURLToPath(
        new URL('../../../cli/bin/emuhost-system-riscv64.mjs', import.meta.url),
      );
      const child = spawn(
        process.execPath,
        [
          bin,
          ...['-M', 'virt', '-m', '512M', '-nographic', '-bios', guest.opensbi.fwDynamic],
          ...['-kernel', guest.kernel.image, '-initrd', guest.initramfs.console!],
          ...['-append', 'console=ttyS0 earlycon', '-device', 'virtio-serial-pci'],
          ...['-chardev', `socket,id=c0,path=${sock},server=on`],
          ...['-device', 'virtconsole,chardev=c0'],
          ...['-chardev', `file,id=c1,path=${file}`],
          ...['-device', 'virtserialport,chardev=c1,name=org.example.0'],
        ],
        { stdio: ['pipe', 'pipe', 'pipe'] },
      );
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => {
        out += String(d);
      });
      child.stderr.on('data', (d: Buffer) => {
        err += String(d);
      });
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      try {
        // server=on waits for this client before the machine starts: nothing is missed.
        const s = await connectWhenReady(sock, () => child.exitCode !== null);
        let fromGuest = '';
        s.on('data', (d) => {
          fromGuest += String(d);
          if (fromGuest.includes('hello from the guest')) s.write('hello from the host\n');
        });
        s.on('error', () => {});
        const code = await exited;
        const complaints = err.split('\n').filter((l) => l !== '' && !l.includes(': info: '));
        expect({ code, complaints }).toEqual({ code: 0, complaints: [] });
        expect(fromGuest).toContain('EMUHOST-HVC: hello from the guest');
        expect(out).toContain(`${M} hvc read: hello from the host`);
        expect(out).toContain(`${M} vport vport0p1 name=org.example.0`);
        expect(readFileSync(file, 'utf8')).toContain('EMUHOST-VPORT: hello from the guest');
      } finally {
        child.kill('SIGKILL');
      }
    },
    40 * MINUTES,
  );
});

/** Connects to the socket once the process listens on it (bounded by the process's life). */
async function connectWhenReady(path: string, gone: () => boolean): Promise<Socket> {
  while (!gone()) {
    const s = connect(path);
    const ok = await new Promise<boolean>((r) => {
      s.once('connect', () => r(true));
      s.once('error', () => r(false));
    });
    if (ok) return s;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('emuhost-system-riscv64 exited before it listened');
}
