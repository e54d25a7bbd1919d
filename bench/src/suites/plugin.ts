/**
 * The plugin suite: building one plugin with `emuhost build` (cold, then incremental after
 * an edit) and loading one (manifest validation, SDK choice, evaluation in a fresh realm)
 * plus instantiating a device from it in a machine.
 *
 * These take milliseconds and builds are asynchronous, so they are timed directly: the
 * median of repeated runs. Each has a baseline measured in the same run: esbuild alone on the
 * same entry (what our build adds: the import policy, the metafile and manifest writing) and
 * `node:vm` compiling and running the same bundle text (what our load adds on top).
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import vm from 'node:vm';
import { bareMachine, buildPlugin, createPluginBuilder, Emulator, PluginHost } from '@emuhost/host';
import { build } from 'esbuild';
import { median } from '../harness.js';
import { costRatio } from '../metrics.js';
import type { Suite } from '../suite.js';

/** The device template `emuhost new device` copies: a realistic small plugin. */
const TEMPLATE = join(
  createRequire(import.meta.url).resolve('@emuhost/cli/package.json'),
  '..',
  'templates',
  'device',
);

async function timeMs(runs: number, f: () => unknown): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await f();
    xs.push(performance.now() - t);
  }
  return median(xs);
}

export const pluginSuite: Suite = {
  name: 'plugin',
  async run(ctx) {
    const dir = mkdtempSync(join(tmpdir(), 'emuhost-bench-plugin-'));
    cpSync(TEMPLATE, dir, { recursive: true });
    const entry = join(dir, 'src', 'index.ts');
    const runs = 15;

    ctx.log('plugin: cold builds');
    const cold = await timeMs(runs, () => buildPlugin(dir));
    const raw = await timeMs(runs, () =>
      build({
        entryPoints: [entry],
        bundle: true,
        format: 'cjs',
        platform: 'neutral',
        external: ['@emuhost/sdk'],
        write: false,
      }),
    );

    ctx.log('plugin: incremental builds');
    const builder = await createPluginBuilder(dir);
    await builder.rebuild();
    const source = readFileSync(entry, 'utf8');
    let n = 0;
    const incremental = await timeMs(runs, () => {
      writeFileSync(entry, `${source}\n// edit ${n++}\n`);
      return builder.rebuild();
    });
    await builder.dispose();

    ctx.log('plugin: loads');
    const built = await buildPlugin(dir);
    const code = readFileSync(built.bundlePath, 'utf8');
    let k = 0;
    const load = await timeMs(runs, () => {
      const host = new PluginHost();
      const plugin = host.loadFile(built.manifestPath);
      const emu = new Emulator({ machine: bareMachine(), ramSize: 1 << 20, log: () => {} });
      emu.addDevice(plugin, { id: `d${k++}` });
    });
    const rawEval = await timeMs(runs, () => {
      const c = vm.createContext({});
      new vm.Script(`(function (exports, require, module) {\n${code}\n})`).runInContext(c);
    });

    return [
      {
        name: 'plugin.build.ms',
        value: cold,
        unit: 'ms',
        better: 'lower',
        detail: 'emuhost build of the device template, cold',
      },
      {
        name: 'plugin.build.esbuild.ms',
        value: raw,
        unit: 'ms',
        better: 'lower',
        detail: 'esbuild alone on the same entry (the baseline)',
      },
      {
        name: 'plugin.build.ratio',
        value: costRatio(cold, raw),
        unit: 'ratio',
        better: 'lower',
        detail: 'cold build / esbuild alone on the same entry',
      },
      {
        name: 'plugin.build.incremental.ms',
        value: incremental,
        unit: 'ms',
        better: 'lower',
        detail: 'rebuild after a source edit (esbuild context)',
      },
      {
        name: 'plugin.load.ms',
        value: load,
        unit: 'ms',
        better: 'lower',
        detail: 'validate + evaluate in a fresh realm + instantiate a device on the bare machine',
      },
      {
        name: 'plugin.load.ratio',
        value: costRatio(load, rawEval),
        unit: 'ratio',
        better: 'lower',
        detail: 'load / node:vm context + compile + run of the same bundle',
      },
    ];
  },
};
