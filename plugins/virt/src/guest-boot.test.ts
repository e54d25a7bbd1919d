/**
 * The reference guest (issue 17): Debian's stock riscv64 kernel, OpenSBI's fw_dynamic and a
 * busybox initramfs whose scripted `/init` prints markers, boot on the virt machine to
 * `/init`, show the CPU and PCI devices the machine has, and power off; twice, with
 * byte-identical console output (deterministic mode). The guest is fetched from Debian's
 * archive into a cache on first use (`npm run guest:fetch` does the same by hand).
 */
import { readFileSync } from 'node:fs';
import { ensureGuest, type GuestFiles } from '@emuhost/guest';
import { beforeAll, describe, expect, it } from 'vitest';
import { type BootResult, bootVirt } from './test-support/boot.js';

const MINUTES = 60_000;

describe('Debian riscv64 on the virt machine', () => {
  let guest: GuestFiles;
  let first: BootResult;
  const boot = () =>
    bootVirt({
      bios: new Uint8Array(readFileSync(guest.opensbi.fwDynamic)),
      kernel: new Uint8Array(readFileSync(guest.kernel.image)),
      initrd: new Uint8Array(readFileSync(guest.initramfs.test!)),
      cmdline: 'console=ttyS0 earlycon',
      ramSize: 512 << 20,
      maxInstructions: 6e9,
    });

  beforeAll(async () => {
    guest = await ensureGuest();
    first = await boot();
  }, 40 * MINUTES);

  it('boots through OpenSBI to /init and powers off with exit code 0', () => {
    expect(first.output).toContain('OpenSBI v');
    expect(first.output).toContain('Linux version 7.');
    expect(first.output).toContain('EMUHOST-GUEST: init reached');
    expect(first.output).toContain('EMUHOST-GUEST: poweroff');
    expect({ outcome: first.outcome, exitCode: first.exitCode }).toEqual({
      outcome: 'poweroff',
      exitCode: 0,
    });
  });

  it('shows the CPU as implemented: rv64imafdc, Sv39, nothing more', () => {
    const cpuinfo = between(first.output, 'cpuinfo begin', 'cpuinfo end');
    expect(cpuinfo).toMatch(/^isa\s*:\s*rv64imafdc_zicntr_zicsr_zifencei/m);
    expect(cpuinfo).toMatch(/^mmu\s*:\s*sv39/m);
    expect(cpuinfo).not.toMatch(/_zb|_v|_zicbo|sstc|svpbmt/);
  });

  it("lists the PCIe host bridge on the machine's ECAM bus", () => {
    expect(between(first.output, 'pci begin', 'pci end')).toMatch(/1b36:0008/);
  });

  it(
    'prints byte for byte the same console output when booted again',
    async () => {
      const second = await boot();
      expect(second.instructions).toBe(first.instructions);
      expect(second.output).toBe(first.output);
    },
    40 * MINUTES,
  );
});

function between(text: string, from: string, to: string): string {
  const a = text.indexOf(`EMUHOST-GUEST: ${from}`);
  const b = text.indexOf(`EMUHOST-GUEST: ${to}`);
  return a < 0 || b < a ? '' : text.slice(a, b);
}
