/**
 * The CLI suite: how long `emuhost` takes to start, a process from spawn to exit
 * (`emuhost --version`: commander and the CLI's entry, no command module), against
 * `node -e 0` spawned in the same rounds, so the figure is what emuhost adds to Node's own
 * start. It runs the bin as `npx` does (cli/bin/emuhost.mjs, which in a checkout also checks
 * that dist/ is current); `npx` itself adds npm's start on top, which no package can change.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { median } from '../harness.js';
import { costRatio } from '../metrics.js';
import type { Suite } from '../suite.js';

const BIN = join(
  dirname(createRequire(import.meta.url).resolve('@emuhost/cli/package.json')),
  'bin',
  'emuhost.mjs',
);

/** Wall time of one process, in ms; throws when it fails. */
function spawnMs(args: readonly string[]): number {
  const t = performance.now();
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
  return ms;
}

export const cliSuite: Suite = {
  name: 'cli',
  run(ctx) {
    ctx.log('cli: start');
    // The first run may bring dist/ up to date; it is not a start.
    const version = spawnSync(process.execPath, [BIN, '--version'], { encoding: 'utf8' });
    if (!/^\d+\.\d+\.\d+\n$/.test(version.stdout))
      throw new Error(`emuhost --version printed ${JSON.stringify(version.stdout)}`);
    const node: number[] = [];
    const cli: number[] = [];
    for (let i = 0; i < 15; i++) {
      node.push(spawnMs(['-e', '0']));
      cli.push(spawnMs([BIN, '--version']));
    }
    const ours = median(cli);
    const base = median(node);
    return [
      {
        name: 'cli.start.ms',
        value: ours,
        unit: 'ms',
        better: 'lower',
        target: 300,
        detail: '`emuhost --version`, spawn to exit (median of 15)',
      },
      {
        name: 'cli.start.node.ms',
        value: base,
        unit: 'ms',
        better: 'lower',
        detail: '`node -e 0`, spawn to exit, in the same rounds (the baseline)',
      },
      {
        name: 'cli.start.ratio',
        value: costRatio(ours, base),
        unit: 'ratio',
        better: 'lower',
        detail: 'emuhost --version / node -e 0',
      },
    ];
  },
};
