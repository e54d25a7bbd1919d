/**
 * The snapshot suite: whole-machine snapshots of the reference guest (512 MiB, its disk behind
 * virtio-blk-pci and the RISC-V IOMMU) after it booted to /init, in a child process of its own
 * (`plugins/virt/src/test-support/snapshot-bench.ts`): a save, a load in place (`loadvm`), a
 * load into a freshly built machine, and the file's size, with a copy of as many bytes as the
 * file has as the same-run baseline of the save.
 *
 * Needs the cached guest (`npm run guest:fetch`); without it the suite says so and reports
 * nothing rather than downloading from inside a benchmark.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { guestDir, readManifest } from '@emuhost/guest';
import type { Metric } from '../metrics.js';
import type { Suite } from '../suite.js';

const ROOT = join(
  dirname(createRequire(import.meta.url).resolve('@emuhost/host/package.json')),
  '..',
);

interface Figures {
  saveMs: number;
  loadvmMs: number;
  loadMs: number;
  copyMs: number;
  bytes: number;
  ramPages: number;
}

export const snapshotSuite: Suite = {
  name: 'snapshot',
  run(ctx) {
    const m = readManifest(guestDir());
    if (m?.disk === undefined || m.initramfs.test === undefined) {
      ctx.log('snapshot: no cached guest (run `npm run guest:fetch`): skipped');
      return [];
    }
    ctx.log('snapshot: booting the reference guest to /init, then saving and loading');
    const child = spawnSync(
      process.execPath,
      [
        join(ROOT, 'scripts', 'run-ts.mjs'),
        'plugins/virt/src/test-support/snapshot-bench.ts',
        '--rounds',
        String(Math.max(3, ctx.options.rounds)),
      ],
      { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 24 },
    );
    const line = child.stdout.trim().split('\n').pop() ?? '';
    let f: Figures;
    try {
      f = JSON.parse(line) as Figures;
    } catch {
      throw new Error(`snapshot: no figures: ${child.stderr.slice(-2000)}`);
    }
    const mib = (f.bytes / 2 ** 20).toFixed(1);
    const out: Metric[] = [
      {
        name: 'snapshot.save.ms',
        value: f.saveMs,
        unit: 'ms',
        better: 'lower',
        detail: `a save of the 512 MiB guest at /init (${f.ramPages} non-zero RAM pages, ${mib} MiB), median of rounds`,
      },
      {
        name: 'snapshot.save.copy.ratio',
        value: f.saveMs / f.copyMs,
        unit: 'ratio',
        better: 'lower',
        detail: `the save over a copy of as many bytes (${f.copyMs.toFixed(1)} ms), same run`,
      },
      {
        name: 'snapshot.load.ms',
        value: f.loadMs,
        unit: 'ms',
        better: 'lower',
        detail:
          'a load into a freshly built machine (building it not counted): checked whole, then applied',
      },
      {
        name: 'snapshot.loadvm.ms',
        value: f.loadvmMs,
        unit: 'ms',
        better: 'lower',
        detail: 'a load into the running machine it was taken on (loadvm)',
      },
      {
        name: 'snapshot.bytes',
        value: f.bytes / 2 ** 20,
        unit: 'MiB',
        better: 'lower',
        detail: 'the snapshot file: RAM pages the guest touched, non-zero disk chunks, every state',
      },
    ];
    return out;
  },
};
