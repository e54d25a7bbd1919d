import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GUEST_DISK_WRITE, parseGuestReport } from './report.js';

/** The test flavour booted on QEMU 7.2's virt (virtio-blk-pci, virtio-rng-pci), as the UART sent it. */
const QEMU = readFileSync(
  join(import.meta.dirname, 'fixtures', 'qemu-7.2-virt-test-boot.log'),
  'latin1',
);

describe('parseGuestReport', () => {
  it("reads a whole boot of the test flavour (QEMU's console)", () => {
    const r = parseGuestReport(QEMU);
    expect(r.initReached).toBe(true);
    expect(r.uname).toMatch(/^Linux \(none\) 7\.2\.13\+deb14-riscv64 .* riscv64 GNU\/Linux$/);
    expect(r.cpuinfo).toMatch(/^processor\t: 0\nhart\t\t: 0\nisa\t\t: rv64imafdc/);
    expect(r.insmod).toEqual({ virtio_blk: 'ok', 'virtio-rng': 'ok' });
    expect(r.pci).toEqual([
      { address: '0000:00:00.0', vendor: '1b36', device: '0008', class: '060000', driver: 'none' },
      {
        address: '0000:00:01.0',
        vendor: '1af4',
        device: '1001',
        class: '010000',
        driver: 'virtio-pci',
      },
      {
        address: '0000:00:02.0',
        vendor: '1af4',
        device: '1005',
        class: '00ff00',
        driver: 'virtio-pci',
      },
    ]);
    expect(r.disk).toEqual({
      present: true,
      sector0: '45 4d 55 48 44 49 53 4b 00 00 00 00 00 00 00 00',
      write: 'ok',
    });
    expect(r.hwrng).toMatch(/^([0-9a-f]{2} ){15}[0-9a-f]{2}$/);
    expect(r.poweroff).toBe(true);
  });

  it('reports what a boot that stopped early reached, and nothing more', () => {
    const cut = QEMU.slice(0, QEMU.indexOf('EMUHOST-GUEST: pci 0000:00:01.0'));
    const r = parseGuestReport(cut);
    expect(r.insmod).toEqual({ virtio_blk: 'ok', 'virtio-rng': 'ok' });
    expect(r.pci).toBeUndefined();
    expect(r.disk).toBeUndefined();
    expect(r.poweroff).toBe(false);
    expect(parseGuestReport('OpenSBI v1.6\n[ 0.000] Linux version 7.2\n').initReached).toBe(false);
  });

  it('reads failures and absences', () => {
    const r = parseGuestReport(
      [
        'EMUHOST-GUEST: init reached (uptime 1.00s)',
        'EMUHOST-GUEST: insmod virtio_blk FAILED',
        'EMUHOST-GUEST: disk absent (virtio block device: no, waited 0 polls)',
        'EMUHOST-GUEST: hwrng absent',
      ].join('\r\n'),
    );
    expect(r.insmod).toEqual({ virtio_blk: 'FAILED' });
    expect(r.disk).toEqual({ present: false });
    expect(r.hwrng).toBe('absent');
  });

  it('the test script writes exactly the string the host checks for', () => {
    const script = readFileSync(join(import.meta.dirname, '..', 'init', 'test.sh'), 'utf8');
    expect(script.split(GUEST_DISK_WRITE).length - 1).toBe(2); // written, then compared
  });
});
