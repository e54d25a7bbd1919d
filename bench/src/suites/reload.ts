/**
 * The reload suite: hot reload of the device template in a running machine, as `emuhost dev`
 * does it, in-process: a source file write, the incremental esbuild rebuild, the pre-flight
 * load, `reloadPlugin`, and the first MMIO read that the new code answers. p50 and p95 over
 * the iterations; the quiesce-to-resume part on its own; and, as a same-run baseline, the
 * ratio to a cold `esbuild.build` of the same plugin (what a reload would cost without the
 * incremental context and without keeping the machine). Then the same under a running Linux
 * guest doing disk I/O (`reload-guest.ts`: `reload.guest.*`).
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bareMachine,
  createPluginBuilder,
  Emulator,
  PluginHost,
  reloadPlugin,
} from '@emuhost/host';
import type { GuestPhysAddr } from '@emuhost/sdk';
import { build } from 'esbuild';
import { median } from '../harness.js';
import { costRatio } from '../metrics.js';
import type { Suite } from '../suite.js';
import { reloadGuestMetrics } from './reload-guest.js';

const TEMPLATE = join(
  createRequire(import.meta.url).resolve('@emuhost/cli/package.json'),
  '..',
  'templates',
  'device',
);
const BAR = 0xe0000000;
const ID_LINE = 'return 0x4d440001;';

/** The q-quantile, nearest rank (p95 of 20 samples is the 19th). */
function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
}

export const reloadSuite: Suite = {
  name: 'reload',
  async run(ctx) {
    const dir = mkdtempSync(join(tmpdir(), 'emuhost-bench-reload-'));
    cpSync(TEMPLATE, dir, { recursive: true });
    const entry = join(dir, 'src', 'index.ts');
    const source = readFileSync(entry, 'utf8');
    if (!source.includes(ID_LINE))
      throw new Error(`the device template no longer has '${ID_LINE}'`);

    const host = new PluginHost();
    const builder = await createPluginBuilder(dir);
    const first = await builder.rebuild();
    const plugin = host.loadFile(first.manifestPath, { level: 'trusted' });
    const emu = new Emulator({ machine: bareMachine(), ramSize: 1 << 20, log: () => {} });
    const dev = emu.addDevice(plugin, { id: 'dev0' });
    // Map BAR0 and enable memory decoding through 0xcf8/0xcfc.
    const io = emu.machine.io;
    const cfg = (off: number, size: 1 | 2 | 4, v: number) => {
      io.store(0xcf8 as never, 4, (0x80000000 | (dev.slot.pci!.devfn << 8) | off) >>> 0);
      io.store((0xcfc + (off & 3)) as never, size, v);
    };
    cfg(0x10, 4, BAR);
    cfg(0x04, 2, 0x2);
    const readId = () => emu.machine.memory.load(BAR as GuestPhysAddr, 4) as number;
    if (readId() !== 0x4d440001) throw new Error('the template device does not answer at BAR0');

    ctx.log('reload: write -> rebuild -> pre-flight -> reload -> MMIO read');
    const runs = 20;
    const latency: number[] = [];
    const q2r: number[] = [];
    for (let i = 0; i < runs; i++) {
      const id = 0x4d440100 + i;
      const t = performance.now();
      writeFileSync(entry, source.replace(ID_LINE, `return 0x${id.toString(16)};`));
      const built = await builder.rebuild();
      const next = host.loadFile(built.manifestPath, { level: 'trusted', replace: true });
      const [report] = reloadPlugin(emu, next);
      const got = readId();
      latency.push(performance.now() - t);
      if (report?.outcome !== 'reloaded' || got >>> 0 !== id)
        throw new Error(`reload ${i}: expected the new code to answer 0x${id.toString(16)}`);
      q2r.push(report.ms.quiesceToResume);
    }
    await builder.dispose();

    ctx.log('reload: cold esbuild baseline');
    const cold: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t = performance.now();
      await build({
        entryPoints: [entry],
        bundle: true,
        format: 'cjs',
        platform: 'neutral',
        external: ['@emuhost/sdk'],
        write: false,
      });
      cold.push(performance.now() - t);
    }
    const p50 = median(latency);
    return [
      {
        name: 'reload.latency.p50.ms',
        value: p50,
        unit: 'ms',
        better: 'lower',
        target: 100,
        detail: `source write -> new code serving an MMIO read, median of ${runs} (incremental esbuild, load, reloadPlugin)`,
      },
      {
        name: 'reload.latency.p95.ms',
        value: quantile(latency, 0.95),
        unit: 'ms',
        better: 'lower',
        detail: `the same, 95th percentile of ${runs}`,
      },
      {
        name: 'reload.quiesce-to-resume.ms',
        value: median(q2r),
        unit: 'ms',
        better: 'lower',
        detail: 'save state, dispose + revoke, create from state, rebind, resume (median)',
      },
      {
        name: 'reload.latency.ratio',
        value: costRatio(p50, median(cold)),
        unit: 'ratio',
        better: 'lower',
        detail: 'reload p50 / a cold esbuild.build of the same plugin (same run)',
      },
      ...(await reloadGuestMetrics(ctx)),
    ];
  },
};
