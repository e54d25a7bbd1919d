/**
 * The reference guest behind the platform RISC-V IOMMU (`-machine virt,iommu-sys=on`, issue
 * 19): Debian's stock kernel probes it with its own driver ("using wire-signaled
 * interrupts"), the PCI functions sit in IOMMU groups (identity domains), the reference
 * devices (virtio-blk-pci and virtio-rng-pci, `iommu_platform=on,disable-legacy=on`) do their
 * DMA through it (a sector written and found on the image, hwrng bytes), and a guest kernel module
 * (plugins/riscv-iommu/guest-module, built for this kernel's ABI and committed) makes edu
 * DMA by IOVA through a paging domain's Sv39 page tables; the bytes are checked in the
 * guest, and a DMA outside the mappings is refused and shows in the IOMMU's fault queue, the
 * guest's log and the IOMMU's `info iommu` lines. The IOMMU plugin's code is reloaded (a fresh
 * build of it) again and again while the guest runs, edu's DMA in flight included: nothing is
 * lost and no fault appears beyond the two the module provokes.
 */
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildInitramfs, ensureGuest, type GuestFiles } from '@emuhost/guest';
import type { Emulator, LoadedPlugin } from '@emuhost/host';
import { loadPluginDir } from '@emuhost/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { type BootResult, bootVirt } from './test-support/boot.js';

const MINUTES = 60_000;
const MODULE_DIR = fileURLToPath(new URL('../../riscv-iommu/guest-module/', import.meta.url));
const IOMMU_DIR = fileURLToPath(new URL('../../riscv-iommu/', import.meta.url));
/** The kernel ABI the committed module was built for (its vermagic starts with it). */
const MODULE_ABI = readFileSync(`${MODULE_DIR}emuhost_iommu_dma.abi`, 'utf8').trim();

/** The console as it comes, for a run that goes wrong (its path is in the failure messages). */
const CONSOLE_LOG = join(tmpdir(), 'emuhost-iommu-guest-console.txt');

const INIT = `#!/bin/sh
M=EMUHOST-IOMMU:
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "$M init reached"
echo "$M dmesg begin"; dmesg | grep -i iommu; echo "$M dmesg end"
for g in /sys/kernel/iommu_groups/*; do
  [ -d "$g" ] && echo "$M group $(basename $g) $(cat $g/type) $(ls $g/devices | tr '\\n' ' ')"
done
for d in /sys/bus/pci/devices/*; do
  echo "$M pci $(basename $d) $(cat $d/vendor):$(cat $d/device) group $(basename "$(readlink $d/iommu_group)")"
done
for m in virtio_blk virtio-rng; do
  if insmod /lib/modules/$m.ko; then echo "$M insmod $m ok"; else echo "$M insmod $m FAILED"; fi
done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 400 ]; do sleep 0.1; i=$((i+1)); done
echo "$M disk sector0" $(dd if=/dev/vda bs=512 count=1 2>/dev/null | od -A n -t x1 -N 8)
printf 'EMUHOST-GUEST-WROTE-THIS-SECTOR!' | dd of=/dev/vda bs=512 seek=1 conv=notrunc,fsync 2>/dev/null
sync
echo 3 > /proc/sys/vm/drop_caches
back=$(dd if=/dev/vda bs=512 skip=1 count=1 2>/dev/null | head -c 32)
if [ "$back" = EMUHOST-GUEST-WROTE-THIS-SECTOR! ]; then echo "$M disk write ok"; else echo "$M disk write FAILED"; fi
echo "$M hwrng" $(timeout 40 od -A n -t x1 -N 16 /dev/hwrng)
if insmod /lib/modules/emuhost_iommu_dma.ko rounds=3; then echo "$M insmod ok"; else echo "$M insmod FAILED"; fi
sleep 1
echo "$M faults begin"; dmesg | grep -i 'fault' | grep -i iommu; echo "$M faults end"
echo "$M interrupts begin"; grep -i iommu /proc/interrupts; echo "$M interrupts end"
rmmod emuhost_iommu_dma && echo "$M rmmod ok"
echo "$M poweroff"
poweroff -f
`;

describe('Debian riscv64 behind the RISC-V IOMMU (virt, iommu-sys=on)', () => {
  let guest: GuestFiles;
  let run: BootResult;
  let fresh: LoadedPlugin;
  let reloads = 0;
  const reloadErrors: string[] = [];
  let faultsAtFirstReload = -1;
  /**
   * The IOMMU's `info iommu` lines and the kernel's recent faults when the module gave its
   * verdict (at power-off Linux puts the IOMMU back to Bare and its queues off).
   */
  let infoAtVerdict: readonly string[] = [];
  let faultDevices: string[] = [];
  let disk: string;

  beforeAll(async () => {
    guest = await ensureGuest();
    if (`${guest.kernel.abi}-riscv64` !== MODULE_ABI.split(' ')[0])
      throw new Error(
        `the committed guest module was built for kernel ${MODULE_ABI}, but the guest cache holds ${guest.kernel.abi}: rebuild it with plugins/riscv-iommu/guest-module/build.sh ${guest.kernel.abi}`,
      );
    // A second build of the plugin: the code the running IOMMU is reloaded onto.
    fresh = await loadPluginDir(IOMMU_DIR, { level: 'trusted' });
    const initrd = buildInitramfs({
      init: INIT,
      busybox: new Uint8Array(readFileSync(guest.busybox.path)),
      modules: {
        emuhost_iommu_dma: new Uint8Array(readFileSync(`${MODULE_DIR}emuhost_iommu_dma.ko`)),
        ...Object.fromEntries(
          ['virtio_blk', 'virtio-rng'].map((m) => [
            m,
            new Uint8Array(readFileSync(guest.kernel.modules[m]!)),
          ]),
        ),
      },
    });
    disk = join(mkdtempSync(join(tmpdir(), 'emuhost-iommu-disk-')), 'disk.img');
    copyFileSync(guest.disk, disk);
    const reference = { iommu_platform: true, 'disable-legacy': 'on' } as const;
    let slices = 0;
    writeFileSync(CONSOLE_LOG, '');
    run = await bootVirt({
      onOutput: (t) => appendFileSync(CONSOLE_LOG, t),
      bios: new Uint8Array(readFileSync(guest.opensbi.fwDynamic)),
      kernel: new Uint8Array(readFileSync(guest.kernel.image)),
      initrd,
      cmdline: 'console=ttyS0 earlycon',
      machineOptions: { 'iommu-sys': 'on' },
      backends: { drives: [{ id: 'd0', file: disk, format: 'raw' }] },
      devices: [
        { plugin: 'edu', id: 'edu0' },
        { plugin: 'virtio-blk-pci', id: 'blk0', options: { drive: 'd0', ...reference } },
        { plugin: 'virtio-rng-pci', id: 'rng0', options: reference },
      ],
      maxInstructions: 8e9,
      between: (emu: Emulator, out: string) => {
        // From the module's first line until its verdict: reload every 5th slice (100 ms of
        // virtual time), so some reloads land while edu's DMA is pending.
        if (!out.includes('EMUHOST-IOMMU-DMA: edu')) return;
        if (out.includes('EMUHOST-IOMMU-DMA: verdict')) {
          if (infoAtVerdict.length === 0) {
            infoAtVerdict = emu.iommus.get('iommu-sys')!.model.info?.() ?? [];
            faultDevices = emu.machine.dma.iommu('iommu-sys').recentFaults.map((f) => f.device);
          }
          return;
        }
        if (++slices % 5 !== 0) return;
        try {
          const r = emu.reloadIommu('iommu-sys', fresh);
          if (r.warnings.length > 0 || r.revoked > 0)
            reloadErrors.push(`${r.warnings.join('; ')} revoked ${r.revoked}`);
          if (reloads === 0) faultsAtFirstReload = emu.machine.dma.iommu('iommu-sys').faults;
          reloads++;
        } catch (e) {
          reloadErrors.push(String(e));
        }
      },
    });
  }, 40 * MINUTES);

  const lines = (prefix: string) =>
    run.output
      .split('\n')
      .filter((l) => l.includes(prefix))
      .map((l) => l.slice(l.indexOf(prefix) + prefix.length).trim());

  it('boots to /init and powers off', () => {
    expect(run.output, `console in ${CONSOLE_LOG}`).toContain('EMUHOST-IOMMU: init reached');
    expect(run.output).toContain('EMUHOST-IOMMU: poweroff');
    expect(run.outcome).toBe('poweroff');
  });

  it("probes the IOMMU with Linux's own driver, on wired interrupts", () => {
    const dmesg = run.output.slice(
      run.output.indexOf('EMUHOST-IOMMU: dmesg begin'),
      run.output.indexOf('EMUHOST-IOMMU: dmesg end'),
    );
    expect(dmesg).toMatch(/riscv,iommu 3010000\.iommu: using wire-signaled interrupts/);
    expect(dmesg).not.toMatch(/unexpected device state|failed to start|timeout/i);
  });

  it('puts the PCI functions in IOMMU groups (identity domains)', () => {
    const pci = lines('EMUHOST-IOMMU: pci ');
    expect(pci).toContain('0000:00:00.0 0x1b36:0x0008 group 0');
    for (const dev of ['01.0 0x1234:0x11e8', '02.0 0x1af4:0x1042', '03.0 0x1af4:0x1044'])
      expect(pci.find((l) => l.startsWith(`0000:00:${dev} group `))).toBeDefined();
    const groups = lines('EMUHOST-IOMMU: group ');
    expect(groups.length).toBe(4);
    for (const g of groups) expect(g).toMatch(/^\d+ identity /);
  });

  it('carries the virtio disk and rng DMA through the IOMMU (identity contexts)', () => {
    expect(lines('EMUHOST-IOMMU: insmod')).toEqual(['virtio_blk ok', 'virtio-rng ok', 'ok']);
    expect(run.output).toContain('EMUHOST-IOMMU: disk sector0 45 4d 55 48 44 49 53 4b');
    expect(run.output).toContain('EMUHOST-IOMMU: disk write ok');
    const sector1 = readFileSync(disk).subarray(512, 512 + 32);
    expect(Buffer.from(sector1).toString('latin1')).toBe('EMUHOST-GUEST-WROTE-THIS-SECTOR!');
    expect(lines('EMUHOST-IOMMU: hwrng')[0]).toMatch(/^([0-9a-f]{2} ){15}[0-9a-f]{2}$/);
    for (const did of ['0x10', '0x18'])
      expect(infoAtVerdict).toContain(`device context ${did}: first stage Bare (identity)`);
    const blk = run.emu.machine.dma.info().find((c) => c.device === 'blk0')!;
    expect(blk.iommu).toBe('iommu-sys');
    expect(blk.iotlb.misses).toBeGreaterThan(0);
  });

  it("copies bytes RAM -> edu -> RAM by IOVA through a paging domain's page tables", () => {
    const dma = lines('EMUHOST-IOMMU-DMA:');
    expect(dma).toContain('attach paging domain: 0');
    const copies = dma.filter((l) => l.startsWith('copy '));
    expect(copies.length).toBe(3);
    for (const c of copies) expect(c).toMatch(/status 0\/0, bytes MATCH/);
    // The IOMMU's own view: edu (device_id 0x8) has a paging context with Sv39 tables (Linux
    // picks the widest mode capabilities offers), not an identity one.
    expect(infoAtVerdict).toContainEqual(
      expect.stringMatching(/^device context 0x8: Sv39 at 0x[0-9a-f]+, PSCID \d+$/),
    );
  });

  it('refuses DMA outside the mappings: fault queue, guest log, info iommu', () => {
    const dma = lines('EMUHOST-IOMMU-DMA:');
    expect(dma).toContainEqual(
      expect.stringMatching(/^unmapped iova 0x2000000: status 4 \(refused/),
    );
    expect(dma).toContainEqual(
      expect.stringMatching(/^write to read-only iova 0x1000000: status 4/),
    );
    expect(dma).toContain('verdict PASS');
    // The guest's driver read the records from the fault queue (read and write page faults).
    const faults = run.output.slice(run.output.indexOf('EMUHOST-IOMMU: faults begin'));
    expect(faults).toMatch(/Fault 13 devid: 0x8 iotval: 2000000/);
    expect(faults).toMatch(/Fault 15 devid: 0x8 iotval: 1000000/);
    const irq = run.output.slice(run.output.indexOf('EMUHOST-IOMMU: interrupts begin'));
    expect(irq).toMatch(/^\s*\d+:\s+[1-9]\d*\s+SiFive PLIC\s+37\s/m);
    expect(infoAtVerdict).toContainEqual(
      expect.stringMatching(
        /^fault: cause 13 \(read page fault\), device_id 0x8, read 0x2000000; fault queue: queued at \d+/,
      ),
    );
    expect(faultDevices).toContain('edu0');
  });

  it('keeps DMA working across reloads of its code under the running guest', () => {
    expect(reloads).toBeGreaterThan(3);
    expect(reloadErrors).toEqual([]);
    // The only faults after the first reload are the two the module provokes.
    expect(run.emu.machine.dma.iommu('iommu-sys').faults - faultsAtFirstReload).toBe(2);
  });
});
