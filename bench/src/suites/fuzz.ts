/**
 * The fuzz suite: `fuzz.ops.per.s` on the default machine (q35 + edu + VT-d, what
 * `npm start` runs): generated operations per second with every invariant checked after
 * each line, each sequence on a fresh machine, as `emuhost fuzz` runs them.
 *
 * The baseline replays the very lines those sequences ran through a bare qtest session (one
 * machine, no checks, no generation), so `fuzz.checks.ratio` says what the fuzzer's own work
 * costs on top of the emulator answering the same lines.
 */
import { fuzz, machineSpec, parseCombo, QtestSession, runSequence, seqSeed } from '@emuhost/cli';
import { buildMachineSpec, PluginHost } from '@emuhost/host';
import type { Metric } from '../metrics.js';
import type { Suite } from '../suite.js';

const COMBO = 'q35+edu+vtd';
const SEQ_LEN = 400;

export const fuzzSuite: Suite = {
  name: 'fuzz',
  async run(ctx) {
    const combo = parseCombo(COMBO);
    const ops = ctx.options.timeMs < 300 ? 2000 : 6000;
    ctx.log(`fuzz: ${ops} operations on ${COMBO}`);
    const r = await fuzz({ seed: 1, ops, seqLen: SEQ_LEN, combos: [combo], minimize: false });
    if (r.failure !== undefined)
      throw new Error(`fuzz suite: the run found a failure; timing it would time an error path`);

    // The same sequences' lines (the run's seeds; `ops` is a multiple of SEQ_LEN), replayed
    // without the fuzzer.
    const lines: string[] = [];
    for (let i = 0; i < r.sequences; i++) {
      const seq = await runSequence(combo, seqSeed(1, 0, i), SEQ_LEN);
      seq.run.close();
      lines.push(...seq.lines);
    }
    const emu = await buildMachineSpec(machineSpec(combo), new PluginHost(), { log: () => {} });
    const session = new QtestSession(emu, { emit: () => {} });
    const t0 = performance.now();
    for (const l of lines) session.handle(l);
    const bareSeconds = (performance.now() - t0) / 1000;

    const opsPerS = r.ops / r.seconds;
    const linesPerS = r.lines / r.seconds;
    const m: Metric[] = [
      {
        name: 'fuzz.ops.per.s',
        value: opsPerS,
        unit: 'ops/s',
        better: 'higher',
        detail: `generated operations/s on ${COMBO}, invariants checked after every line, a fresh machine per 400 operations`,
      },
      {
        name: 'fuzz.checks.ratio',
        value: lines.length / bareSeconds / linesPerS,
        unit: 'ratio',
        better: 'lower',
        detail:
          'lines/s of a bare qtest session replaying fuzz lines / lines/s of the fuzzer (generation, fresh machines, invariant checks)',
      },
    ];
    return m;
  },
};
