/**
 * Whole-machine snapshots under the reference guest (issue 20): Debian's kernel on a two-hart
 * virt with its disk (virtio-blk-pci, iommu_platform=on) and virtio-rng behind the RISC-V IOMMU
 * (iommu-sys=on). A
 * snapshot is taken when /init prints its marker; the guest runs on, writes a disk sector and
 * powers off. Loading the snapshot back, in place and into a freshly built machine, undoes the
 * write, and the console bytes from there on are byte-identical to the uninterrupted run's
 * (deterministic mode). A truncated and a corrupt snapshot offered while the guest runs are
 * refused, and the guest goes on as if nothing happened.
 */
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildInitramfs, ensureGuest, type GuestFiles } from '@emuhost/guest';
import { captureSnapshot, type Emulator, restoreSnapshot, SnapshotError } from '@emuhost/host';
import { beforeAll, describe, expect, it } from 'vitest';
import { type BootOptions, type BootResult, bootVirt } from './test-support/boot.js';

const MINUTES = 60_000;
const MARK = 'EMUHOST-SNAP: init reached';

const INIT = `#!/bin/sh
M=EMUHOST-SNAP:
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
insmod /lib/modules/virtio_blk.ko
insmod /lib/modules/virtio-rng.ko
i=0
while [ ! -b /dev/vda ] && [ $i -lt 400 ]; do sleep 0.1; i=$((i+1)); done
echo "$M init reached"
sleep 0.2
echo "$M uptime $(cat /proc/uptime)"
echo "$M hwrng" $(timeout 40 od -A n -t x1 -N 16 /dev/hwrng)
echo "$M cpus $(grep -c ^processor /proc/cpuinfo)"
echo "$M sector1 before" $(dd if=/dev/vda bs=512 skip=1 count=1 2>/dev/null | od -A n -t x1 -N 8)
printf 'EMUHOST-SNAPSHOT-WROTE-SECTOR-1!' | dd of=/dev/vda bs=512 seek=1 conv=notrunc,fsync 2>/dev/null
sync
echo 3 > /proc/sys/vm/drop_caches
echo "$M sector1 after $(dd if=/dev/vda bs=512 skip=1 count=1 2>/dev/null | head -c 32)"
cat /proc/interrupts
echo "$M uptime $(cat /proc/uptime)"
echo "$M poweroff"
poweroff -f
`;

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof SnapshotError) return e.reason;
    throw e;
  }
  return 'accepted';
}

describe('whole-machine snapshots of Debian riscv64 (virt, disk behind the RISC-V IOMMU)', () => {
  let guest: GuestFiles;
  let boot: (disk: string, between?: BootOptions['between']) => Promise<BootResult>;
  let original: Buffer;
  let disk: string;
  let run: BootResult;
  let snap: Uint8Array | undefined;
  let point = 0;
  const refusals: string[] = [];
  /** The uninterrupted run's console from the snapshot point on. */
  let after = '';

  const sector1 = (file: string) => readFileSync(file).subarray(512, 512 + 32);

  beforeAll(async () => {
    guest = await ensureGuest();
    const initrd = buildInitramfs({
      init: INIT,
      busybox: new Uint8Array(readFileSync(guest.busybox.path)),
      modules: Object.fromEntries(
        ['virtio_blk', 'virtio-rng'].map((m) => [
          m,
          new Uint8Array(readFileSync(guest.kernel.modules[m]!)),
        ]),
      ),
    });
    const dir = mkdtempSync(join(tmpdir(), 'emuhost-snap-disk-'));
    boot = (file, between) =>
      bootVirt({
        bios: new Uint8Array(readFileSync(guest.opensbi.fwDynamic)),
        kernel: new Uint8Array(readFileSync(guest.kernel.image)),
        initrd,
        cmdline: 'console=ttyS0 earlycon',
        machineOptions: { 'iommu-sys': 'on' },
        backends: { drives: [{ id: 'd0', file, format: 'raw' }] },
        devices: [
          {
            plugin: 'virtio-blk-pci',
            id: 'blk0',
            options: { drive: 'd0', iommu_platform: true, 'disable-legacy': 'on' },
          },
          {
            plugin: 'virtio-rng-pci',
            id: 'rng0',
            options: { iommu_platform: true, 'disable-legacy': 'on' },
          },
        ],
        smp: 2,
        maxInstructions: 8e9,
        ...(between !== undefined && { between }),
      });
    disk = join(dir, 'disk.img');
    copyFileSync(guest.disk, disk);
    original = Buffer.from(sector1(disk));
    let offered = false;
    run = await boot(disk, (emu: Emulator, out: string) => {
      if (snap === undefined) {
        if (out.includes(MARK)) {
          snap = captureSnapshot(emu, { tag: 'at-init' });
          point = out.length;
        }
        return;
      }
      if (offered) return;
      // The slice after the snapshot: bad snapshots are refused and the guest runs on.
      offered = true;
      const corrupt = snap.slice();
      corrupt[Math.floor(corrupt.length / 2)]! ^= 0x01;
      refusals.push(refusal(() => restoreSnapshot(emu, snap!.subarray(0, snap!.length - 1000))));
      refusals.push(refusal(() => restoreSnapshot(emu, corrupt)));
    });
    after = run.output.slice(point);
  }, 40 * MINUTES);

  it('snapshots at the /init marker and the guest runs on, writing its sector', () => {
    expect(snap, 'the marker never appeared').toBeDefined();
    expect(run.outcome).toBe('poweroff');
    expect(after).toContain('EMUHOST-SNAP: sector1 after EMUHOST-SNAPSHOT-WROTE-SECTOR-1!');
    // Both harts run, and the hwrng bytes after the point are part of what must replay.
    expect(after).toContain('EMUHOST-SNAP: cpus 2');
    expect(after).toMatch(/EMUHOST-SNAP: hwrng( [0-9a-f]{2}){16}/);
    expect(Buffer.from(sector1(disk)).toString('latin1')).toBe('EMUHOST-SNAPSHOT-WROTE-SECTOR-1!');
  });

  it('refuses a truncated and a corrupt snapshot while the guest runs on', () => {
    expect(refusals).toEqual(['truncated', 'corrupt']);
    expect(after).toContain('EMUHOST-SNAP: poweroff');
  });

  it(
    'loads in place: the disk write is undone and the console replays byte for byte',
    async () => {
      const report = restoreSnapshot(run.emu, snap!);
      expect(report.driveChunks).toBeGreaterThan(0);
      expect(Buffer.from(sector1(disk)).equals(original)).toBe(true);
      const again = await run.resume();
      expect(again.outcome).toBe('poweroff');
      expect(again.output).toBe(after);
    },
    20 * MINUTES,
  );

  it(
    'loads into a freshly built machine and replays byte for byte',
    async () => {
      const copy = join(mkdtempSync(join(tmpdir(), 'emuhost-snap-fresh-')), 'disk.img');
      copyFileSync(guest.disk, copy);
      const fresh = await boot(copy, () => true);
      restoreSnapshot(fresh.emu, snap!);
      expect(Buffer.from(sector1(copy)).equals(original)).toBe(true);
      const again = await fresh.resume({ between: () => undefined });
      expect(again.outcome).toBe('poweroff');
      expect(again.output).toBe(after);
      expect(Buffer.from(sector1(copy)).toString('latin1')).toBe(
        'EMUHOST-SNAPSHOT-WROTE-SECTOR-1!',
      );
    },
    20 * MINUTES,
  );
});
