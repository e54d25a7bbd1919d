/**
 * The guest disk suite (issue 18): Debian's riscv64 kernel on the virt machine writes, then
 * reads, 64 MiB sequentially with busybox dd on a raw virtio-blk disk (a fresh sparse image
 * made here; the reference device options, behind the RISC-V IOMMU's bypass as in the boot
 * suite), bypassing the guest's page cache (the `dd` /init flavour: O_DIRECT when busybox has
 * it). Each transfer is timed between console markers in guest (virtual) time and in host
 * wall time, in a child process of its own. Where `qemu-system-riscv64` is installed, QEMU
 * runs the same guest on the same kind of image and its wall-time figures sit beside ours.
 *
 * Needs the cached guest with the `dd` flavour (`npm run guest:fetch`); without it the suite
 * says so and reports nothing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { guestDir, readManifest } from '@emuhost/guest';
import type { Metric } from '../metrics.js';
import type { Suite } from '../suite.js';

const ROOT = join(
  dirname(createRequire(import.meta.url).resolve('@emuhost/host/package.json')),
  '..',
);
const MIB = 64;
const MARK = 'EMUHOST-GUEST: dd';
const MARKERS = ['write begin', 'write end', 'read begin', 'read end'].map((m) => `${MARK} ${m}`);
/** The guest says so when its busybox dd has O_DIRECT (else it syncs and drops caches). */
const DIRECT = `${MARK} mode direct`;

interface Seen {
  readonly virtualNs: number;
  readonly ms: number;
}

/** A fresh sparse raw image, larger than what dd writes. */
function freshImage(): { file: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'emuhost-blk-bench-'));
  const file = join(dir, 'disk.img');
  writeFileSync(file, '');
  truncateSync(file, (MIB + 16) << 20);
  return { file, done: () => rmSync(dir, { recursive: true, force: true }) };
}

/** QEMU's wall ms at each marker, or undefined when it is not installed. */
async function qemu(files: { bios: string; kernel: string; initrd: string }) {
  if (spawnSync('qemu-system-riscv64', ['--version']).status !== 0) return undefined;
  const img = freshImage();
  try {
    const t0 = performance.now();
    const p = spawn(
      'qemu-system-riscv64',
      ['-M', 'virt', '-m', '512M', '-smp', '1', '-nographic', '-display', 'none', '-no-reboot']
        .concat(['-bios', files.bios, '-kernel', files.kernel, '-initrd', files.initrd])
        .concat(['-append', 'console=ttyS0 earlycon', '-net', 'none'])
        .concat(['-drive', `file=${img.file},format=raw,if=none,id=d0`])
        .concat(['-device', 'virtio-blk-pci,drive=d0,disable-legacy=on']),
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let text = '';
    const at: Record<string, number> = {};
    p.stdout.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      for (const m of MARKERS)
        if (at[m] === undefined && text.includes(m)) at[m] = performance.now() - t0;
    });
    await new Promise((r) => p.once('exit', r));
    return at;
  } finally {
    img.done();
  }
}

const mibps = (from: number, to: number, perSecond: number) =>
  to > from ? MIB / ((to - from) / perSecond) : 0;

export const blkGuestSuite: Suite = {
  name: 'blk-guest',
  async run(ctx) {
    const dir = guestDir();
    const m = readManifest(dir);
    const initrd = m?.initramfs.dd;
    if (m === undefined || initrd === undefined || !existsSync(join(dir, m.kernel.image.path))) {
      ctx.log(
        'blk-guest: no cached guest with the dd flavour (run `npm run guest:fetch`): skipped',
      );
      return [];
    }
    ctx.log(`blk-guest: booting the guest to dd ${MIB} MiB each way (a minute or two)`);
    const img = freshImage();
    let seen: Record<string, Seen>;
    let outcome: string;
    try {
      const child = spawnSync(
        process.execPath,
        [
          join(ROOT, 'scripts', 'run-ts.mjs'),
          'plugins/virt/src/test-support/boot-cli.ts',
          ...['--flavour', 'dd', '--disk', img.file, '--max', '4e10', '--json'],
          ...[...MARKERS, DIRECT].flatMap((w) => ['--watch', w]),
        ],
        { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 24 },
      );
      const line = child.stdout.trim().split('\n').pop() ?? '';
      try {
        ({ seen, outcome } = JSON.parse(line) as { seen: Record<string, Seen>; outcome: string });
      } catch {
        throw new Error(`blk-guest: the boot printed no figures: ${child.stderr.slice(-2000)}`);
      }
    } finally {
      img.done();
    }
    const [wb, we, rb, re] = MARKERS.map((w) => seen[w]);
    if (wb === undefined || we === undefined || rb === undefined || re === undefined)
      throw new Error(`blk-guest: the guest ended ${outcome} before dd was done`);
    const how =
      seen[DIRECT] !== undefined
        ? 'O_DIRECT'
        : 'no O_DIRECT in this busybox: fsync, caches dropped';
    const out: Metric[] = [
      {
        name: 'virtio.blk.guest.MiBps.write',
        value: mibps(wb.virtualNs, we.virtualNs, 1e9),
        unit: 'MiB/s',
        better: 'higher',
        detail: `dd of=/dev/vda bs=1M count=${MIB} (${how}) in the Linux guest, in guest (virtual) time`,
      },
      {
        name: 'virtio.blk.guest.MiBps.read',
        value: mibps(rb.virtualNs, re.virtualNs, 1e9),
        unit: 'MiB/s',
        better: 'higher',
        detail: `dd if=/dev/vda bs=1M count=${MIB} (${how}) in the Linux guest, in guest (virtual) time`,
      },
      {
        name: 'virtio.blk.guest.MiBps.write.wall',
        value: mibps(wb.ms, we.ms, 1e3),
        unit: 'MiB/s',
        better: 'higher',
        detail: `the same ${MIB} MiB write in host wall time (the guest's instructions included)`,
      },
      {
        name: 'virtio.blk.guest.MiBps.read.wall',
        value: mibps(rb.ms, re.ms, 1e3),
        unit: 'MiB/s',
        better: 'higher',
        detail: `the same ${MIB} MiB read in host wall time (the guest's instructions included)`,
      },
    ];
    const q = await qemu({
      bios: join(dir, m.opensbi.file.path),
      kernel: join(dir, m.kernel.image.path),
      initrd: join(dir, initrd.path),
    });
    if (q === undefined) {
      ctx.log('blk-guest: qemu-system-riscv64 not installed: no side-by-side figure');
      return out;
    }
    const [qwb, qwe, qrb, qre] = MARKERS.map((w) => q[w]);
    const version = spawnSync('qemu-system-riscv64', ['--version'], {
      encoding: 'utf8',
    }).stdout.split('\n')[0];
    if (qwb !== undefined && qwe !== undefined && qrb !== undefined && qre !== undefined)
      out.push(
        {
          name: 'virtio.blk.guest.MiBps.write.qemu',
          value: mibps(qwb, qwe, 1e3),
          unit: 'MiB/s',
          better: 'higher',
          detail: `QEMU (${version}, TCG): the same write in host wall time`,
        },
        {
          name: 'virtio.blk.guest.MiBps.read.qemu',
          value: mibps(qrb, qre, 1e3),
          unit: 'MiB/s',
          better: 'higher',
          detail: `QEMU (${version}, TCG): the same read in host wall time`,
        },
      );
    else ctx.log('blk-guest: QEMU did not get through the dd markers: no side-by-side figure');
    return out;
  },
};
