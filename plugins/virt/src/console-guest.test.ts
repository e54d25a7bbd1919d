/**
 * The virtio console under the reference guest: Debian's stock riscv64 kernel (virtio_console
 * built in) on the virt machine with `virtio-serial-pci` carrying a virtconsole on chardev c0
 * and a virtserialport named org.example.0 on c1. The `console` /init flavour writes a line to
 * /dev/hvc0 (the host's c0 receives it), reads the line the host sends on c0 once the guest
 * says it is reading, finds the named port in /sys/class/virtio-ports and writes to it (the
 * host's c1 receives it). Host input arrives when it arrives, as a UART's does.
 */
import { readFileSync } from 'node:fs';
import { ensureGuest } from '@emuhost/guest';
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
