/**
 * `node scripts/run-ts.mjs plugins/virt/src/test-support/snapshot-bench.ts [--rounds N]`: the
 * figures of the bench's snapshot suite, as one JSON line. Boots the cached reference guest
 * (512 MiB, its disk a copy of the guest's image behind virtio-blk-pci) to the /init marker,
 * then times, round after round: a save (`captureSnapshot`), a load in place (`loadvm`: the
 * same machine), a load into a freshly built machine (the build not timed), and, as the
 * baseline of the same run, a copy of as many bytes as the snapshot has.
 */
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { guestDir, readManifest } from '@emuhost/guest';
import { captureSnapshot, readSnapshotMeta, restoreSnapshot } from '@emuhost/host';
import { bootVirt } from './boot.js';

const args = process.argv.slice(2);
const i = args.indexOf('--rounds');
const rounds = i >= 0 ? Number(args[i + 1]) : 5;
const dir = guestDir();
const m = readManifest(dir);
if (m?.disk === undefined || m.initramfs.test === undefined)
  throw new Error('no guest: run npm run guest:fetch');
const file = (p: string) => new Uint8Array(readFileSync(join(dir, p)));
const image = join(dir, m.disk.path);
const INIT = 'EMUHOST-GUEST: init reached';
const work = mkdtempSync(join(tmpdir(), 'emuhost-snap-bench-'));
const boot = (disk: string, until?: string) => {
  copyFileSync(image, disk);
  return bootVirt({
    bios: file(m.opensbi.file.path),
    kernel: file(m.kernel.image.path),
    initrd: file(m.initramfs.test!.path),
    cmdline: 'console=ttyS0 earlycon',
    ramSize: 512 << 20,
    machineOptions: { 'iommu-sys': 'on' },
    backends: { drives: [{ id: 'd0', file: disk, format: 'raw' }] },
    devices: [
      {
        plugin: 'virtio-blk-pci',
        id: 'blk0',
        options: { drive: 'd0', iommu_platform: true, 'disable-legacy': 'on' },
      },
    ],
    maxInstructions: 4e9,
    ...(until === undefined ? { between: () => true } : { until }),
  });
};

const booted = await boot(join(work, 'a.img'), INIT);
if (!booted.output.includes(INIT))
  throw new Error(`the guest did not reach /init: ${booted.outcome}`);
const fresh = await boot(join(work, 'b.img'));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const t = {
  save: [] as number[],
  loadvm: [] as number[],
  load: [] as number[],
  copy: [] as number[],
};
let bytes: Uint8Array = new Uint8Array(0);
for (let r = 0; r < rounds; r++) {
  let t0 = performance.now();
  bytes = captureSnapshot(booted.emu);
  t.save.push(performance.now() - t0);
  t0 = performance.now();
  restoreSnapshot(booted.emu, bytes);
  t.loadvm.push(performance.now() - t0);
  t0 = performance.now();
  restoreSnapshot(fresh.emu, bytes);
  t.load.push(performance.now() - t0);
  const into = new Uint8Array(bytes.length);
  t0 = performance.now();
  into.set(bytes);
  t.copy.push(performance.now() - t0);
}
const meta = readSnapshotMeta(bytes);
console.log(
  JSON.stringify({
    saveMs: median(t.save),
    loadvmMs: median(t.loadvm),
    loadMs: median(t.load),
    copyMs: median(t.copy),
    bytes: bytes.length,
    ramPages: meta.ram.reduce((n, r) => n + r.pages, 0),
  }),
);
