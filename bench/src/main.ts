/**
 * `npm run bench [-- --json] [-- --quick] [-- --filter <substring>]`.
 *
 * Runs the registered suites and prints their metrics: a table by default, or exactly one
 * JSON object `{ "metrics": { name: number } }` with `--json`, so that tools can diff runs.
 * Everything else (progress, per-round figures) goes to stderr, so stdout stays parseable.
 */
import { parseArgs } from 'node:util';
import { FULL_OPTIONS, measure, QUICK_OPTIONS, sinkValue } from './harness.js';
import type { Metric } from './metrics.js';
import { formatMetrics, formatTable, formatValue, toJson } from './report.js';
import type { Suite, SuiteContext } from './suite.js';
import { blkGuestSuite } from './suites/blk-guest.js';
import { cliSuite } from './suites/cli.js';
import { clockSuite } from './suites/clock.js';
import { cpuSuite } from './suites/cpu.js';
import { dmaSuite } from './suites/dma.js';
import { fuzzSuite } from './suites/fuzz.js';
import { guestSuite } from './suites/guest.js';
import { iommuPluginsSuite } from './suites/iommu-plugins.js';
import { memorySuite } from './suites/memory.js';
import { pciSuite } from './suites/pci.js';
import { pluginSuite } from './suites/plugin.js';
import { qtestSuite } from './suites/qtest.js';
import { reloadSuite } from './suites/reload.js';
import { sandboxSuite } from './suites/sandbox.js';
import { snapshotSuite } from './suites/snapshot.js';
import { swapSuite } from './suites/swap.js';
import { virtioSuite } from './suites/virtio.js';

/** Every suite, in run order. A new suite is one file under suites/ and one entry here. */
const SUITES: readonly Suite[] = [
  memorySuite,
  dmaSuite,
  iommuPluginsSuite,
  pciSuite,
  clockSuite,
  pluginSuite,
  sandboxSuite,
  swapSuite,
  qtestSuite,
  reloadSuite,
  virtioSuite,
  fuzzSuite,
  cpuSuite,
  guestSuite,
  blkGuestSuite,
  snapshotSuite,
  cliSuite,
];

const USAGE = `usage: npm run bench -- [--json] [--quick] [--filter <substring>]
  --json      print only {"metrics": {...}} on stdout
  --quick     a shorter run (100 ms per case instead of 300 ms)
  --filter s  run only the suites whose name contains s (${SUITES.map((s) => s.name).join(', ')})`;

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

async function main(): Promise<number> {
  let values: { json: boolean; quick: boolean; filter?: string | undefined; help: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        json: { type: 'boolean', default: false },
        quick: { type: 'boolean', default: false },
        filter: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    log(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    log(USAGE);
    return 0;
  }
  const { filter } = values;
  const suites = filter === undefined ? SUITES : SUITES.filter((s) => s.name.includes(filter));
  if (suites.length === 0) {
    log(`no suite matches '${filter}'\n${USAGE}`);
    return 2;
  }

  const opts = values.quick ? QUICK_OPTIONS : FULL_OPTIONS;
  log(`bench: ${opts.timeMs} ms per case in ${opts.rounds} rounds (median round counts)`);
  const started = performance.now();
  const metrics: Metric[] = [];
  const timings: string[][] = [];
  for (const suite of suites) {
    log(`suite ${suite.name}`);
    const ctx: SuiteContext = {
      measure(cases) {
        const m = measure(cases, opts, (name, round, ns) =>
          log(`  ${name} round ${round + 1}/${opts.rounds}: ${formatValue(ns)} ns/op`),
        );
        for (const [name, ns] of m.entries()) timings.push([suite.name, name, formatValue(ns)]);
        return m;
      },
      log: (message) => log(`  ${message}`),
      options: opts,
    };
    metrics.push(...(await suite.run(ctx)));
  }
  // Printing the sink keeps every case's results observable to the end.
  const seconds = (performance.now() - started) / 1000;
  log(`done in ${seconds.toFixed(1)} s (sink ${sinkValue()})`);

  if (values.json) {
    process.stdout.write(`${toJson(metrics)}\n`);
  } else {
    // A suite that times asynchronous work itself (qtest) has no rows here.
    const out = [
      ...(timings.length === 0
        ? []
        : [
            'Timings (median of rounds)',
            formatTable(['suite', 'case', 'ns/op'], timings, new Set([2])),
            '',
          ]),
      'Metrics',
      formatMetrics(metrics),
      '',
    ];
    process.stdout.write(`${out.join('\n')}\n`);
  }
  return 0;
}

process.exitCode = await main();
