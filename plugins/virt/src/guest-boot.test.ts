/**
 * The reference guest (issues 17 and 18): Debian's stock riscv64 kernel, OpenSBI's fw_dynamic
 * and a busybox initramfs whose scripted `/init` prints markers, boot on the virt machine with
 * the reference devices (virtio-blk-pci on a raw image and virtio-rng-pci, both
 * `iommu_platform=on,disable-legacy=on`) to `/init`, show the CPU and PCI devices, write and
 * read back a disk sector (checked on the image by the host), read the hwrng, and power off;
 * twice, with byte-identical console output (deterministic mode). The guest is fetched from
 * Debian's archive into a cache on first use (`npm run guest:fetch` does the same by hand).
 */
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGuest, type GuestFiles } from '@emuhost/guest';
import { beforeAll, describe, expect, it } from 'vitest';
import { type BootResult, bootVirt } from './test-support/boot.js';

const MINUTES = 60_000;
/** The reference guest's device options (../shared/reference/riscv-guest/README.md). */
const REFERENCE = { iommu_platform: true, 'disable-legacy': 'on' } as const;

describe('Debian riscv64 on the virt machine', () => {
  let guest: GuestFiles;
  let first: BootResult;
  let firstDisk: string;
  const boot = (disk: string) =>
    bootVirt({
      bios: new Uint8Array(readFileSync(guest.opensbi.fwDynamic)),
      kernel: new Uint8Array(readFileSync(guest.kernel.image)),
      initrd: new Uint8Array(readFileSync(guest.initramfs.test!)),
      cmdline: 'console=ttyS0 earlycon',
      ramSize: 512 << 20,
      maxInstructions: 6e9,
      backends: { drives: [{ id: 'd0', file: disk, format: 'raw' }] },
      devices: [
        { plugin: 'virtio-blk-pci', options: { drive: 'd0', ...REFERENCE } },
        { plugin: 'virtio-rng-pci', options: REFERENCE },
      ],
    });
  const freshDisk = () => {
    const file = join(mkdtempSync(join(tmpdir(), 'emuhost-guest-disk-')), 'disk.img');
    copyFileSync(guest.disk, file);
    return file;
  };

  beforeAll(async () => {
    guest = await ensureGuest();
    firstDisk = freshDisk();
    first = await boot(firstDisk);
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

  it("lists the PCIe host bridge and the modern virtio devices with Linux's virtio-pci driver", () => {
    const pci = between(first.output, 'pci begin', 'pci end');
    expect(pci).toMatch(/00:00\.0 1b36:0008 060000/);
    expect(pci).toMatch(/1af4:1042 010000 virtio-pci/);
    expect(pci).toMatch(/1af4:1044 ff0000 virtio-pci/);
  });

  it('writes a disk sector through virtio-blk that the host then finds in the image', () => {
    expect(first.output).toContain('EMUHOST-GUEST: disk sector0 45 4d 55 48 44 49 53 4b');
    expect(first.output).toContain('EMUHOST-GUEST: disk write ok');
    const sector1 = readFileSync(firstDisk).subarray(512, 512 + 32);
    expect(Buffer.from(sector1).toString('latin1')).toBe('EMUHOST-GUEST-WROTE-THIS-SECTOR!');
  });

  it('reads bytes from virtio-rng through /dev/hwrng', () => {
    expect(first.output).toMatch(/EMUHOST-GUEST: hwrng( [0-9a-f]{2}){16}/);
  });

  it(
    'prints byte for byte the same console output when booted again',
    async () => {
      const second = await boot(freshDisk());
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
