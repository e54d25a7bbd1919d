/**
 * `emuhost fuzz`: random guest operation sequences against every combination, reproducible
 * by seed. Each sequence is the setup lines (edu on the bus, the IOMMU programmed) and then
 * generated operations on a fresh machine; the runner checks the invariants after every
 * line. On a failure the sequence is minimized and written as a qtest script (with the
 * machine file it runs on) that reproduces it through `emuhost qtest -qtest stdio`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { ALL_COMBOS, type Combo, comboName, machineFile } from './combos.js';
import { minimize } from './minimize.js';
import { genOp, Rng, setupLines } from './ops.js';
import { type Failure, PROLOGUE, Run, type RunnerOptions } from './runner.js';
import { Watchdog } from './watchdog.js';

export interface FuzzOptions extends RunnerOptions {
  readonly seed: number;
  /** Operations in all (spread over the combinations). */
  readonly ops: number;
  readonly combos?: readonly Combo[];
  /** Operations per sequence (a fresh machine each). Default 400. */
  readonly seqLen?: number;
  /** Stop after this many seconds even if `ops` is not reached. */
  readonly timeSeconds?: number;
  /** Where failure scripts go; none written when undefined. */
  readonly outDir?: string;
  readonly progress?: (p: Progress) => void;
  readonly minimize?: boolean;
  /**
   * Run the sequences in a worker thread under a watchdog (watchdog.ts), so a line that never
   * returns is reported as a `hang` failure instead of hanging the fuzzer. Not with `build`
   * (a function cannot go to the worker). The CLI sets it; the default is in-process.
   */
  readonly watchdog?: boolean;
  /** Longest minimizing a hang may take, in seconds (each hanging replay costs the bound). Default 60. */
  readonly minimizeSeconds?: number;
}

export interface Progress {
  readonly ops: number;
  readonly total: number;
  readonly opsPerSec: number;
  readonly seed: number;
  readonly combo: string;
  readonly sequences: number;
}

export interface FuzzFailure {
  readonly combo: Combo;
  readonly seqSeed: number;
  readonly failure: Failure;
  /** The failing sequence, then its minimized form. */
  readonly lines: readonly string[];
  readonly minimized: readonly string[];
  readonly script?: string;
}

export interface FuzzResult {
  readonly ops: number;
  readonly lines: number;
  readonly sequences: number;
  readonly seconds: number;
  readonly deviceFaults: number;
  readonly iommuFaults: number;
  readonly dmaWrites: number;
  readonly failure?: FuzzFailure;
}

/** The seed of sequence `i` of combination `c` in a run seeded `seed`. */
export function seqSeed(seed: number, c: number, i: number): number {
  let h = (seed ^ Math.imul(c + 1, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  return (h ^ (h >>> 15)) >>> 0;
}

/** One sequence: the lines it ran, and the failure if one happened. */
export async function runSequence(
  combo: Combo,
  seed: number,
  nOps: number,
  opts: RunnerOptions = {},
): Promise<{ lines: string[]; failure?: Failure; run: Run }> {
  const run = await Run.open(combo, opts);
  const target = run.target();
  const rng = new Rng(seed);
  const state = { bar: 0xe0000000 };
  const lines: string[] = [];
  const step = (ls: readonly string[]): Failure | undefined => {
    for (const l of ls) {
      lines.push(l);
      const f = run.exec(l, lines.length - 1);
      if (f !== undefined) return f;
    }
    return undefined;
  };
  let failure = step(setupLines(target));
  for (let i = 0; i < nOps && failure === undefined; i++) failure = step(genOp(rng, target, state));
  run.close();
  return { lines, run, ...(failure !== undefined && { failure }) };
}

/** The counters a sequence leaves (what `Run` counts). */
interface Counts {
  readonly deviceFaults: number;
  readonly iommuFaults: number;
  readonly dmaOk: number;
}

/** `runSequence` in the watchdog's worker: the same lines, and a `hang` for one that never returns. */
export async function runWatchedSequence(
  wd: Watchdog,
  combo: Combo,
  seed: number,
  nOps: number,
): Promise<{ lines: string[]; failure?: Failure; run: Counts }> {
  const target = await wd.open(combo);
  const rng = new Rng(seed);
  const state = { bar: 0xe0000000 };
  const lines = setupLines(target);
  for (let i = 0; i < nOps; i++) lines.push(...genOp(rng, target, state));
  const r = await wd.run(lines);
  const failure = r.failure;
  return {
    lines: failure === undefined ? lines : lines.slice(0, failure.index + 1),
    run: r,
    ...(failure !== undefined && { failure }),
  };
}

export async function fuzz(opts: FuzzOptions): Promise<FuzzResult> {
  if (opts.watchdog === true) {
    if (opts.build !== undefined) throw new Error('fuzz: watchdog and build do not go together');
    const wd = new Watchdog({
      ...(opts.boundMs !== undefined && { boundMs: opts.boundMs }),
      ...(opts.hangOn !== undefined && { hangOn: opts.hangOn }),
    });
    try {
      return await fuzzWith(opts, wd);
    } finally {
      wd.close();
    }
  }
  return fuzzWith(opts, undefined);
}

async function fuzzWith(opts: FuzzOptions, wd: Watchdog | undefined): Promise<FuzzResult> {
  const combos = opts.combos ?? ALL_COMBOS;
  const seqLen = opts.seqLen ?? 400;
  const t0 = performance.now();
  const deadline = opts.timeSeconds === undefined ? Infinity : t0 + opts.timeSeconds * 1000;
  let ops = 0;
  let lines = 0;
  let sequences = 0;
  let deviceFaults = 0;
  let iommuFaults = 0;
  let dmaWrites = 0;
  const perSeq = new Array<number>(combos.length).fill(0);
  const result = (failure?: FuzzFailure): FuzzResult => ({
    ops,
    lines,
    sequences,
    seconds: (performance.now() - t0) / 1000,
    deviceFaults,
    iommuFaults,
    dmaWrites,
    ...(failure !== undefined && { failure }),
  });
  while (ops < opts.ops && performance.now() < deadline) {
    const ci = sequences % combos.length;
    const combo = combos[ci]!;
    const s = seqSeed(opts.seed, ci, perSeq[ci]!++);
    const n = Math.min(seqLen, opts.ops - ops);
    const seq =
      wd === undefined
        ? await runSequence(combo, s, n, opts)
        : await runWatchedSequence(wd, combo, s, n);
    sequences++;
    ops += n;
    lines += seq.lines.length;
    deviceFaults += seq.run.deviceFaults;
    iommuFaults += seq.run.iommuFaults;
    dmaWrites += seq.run.dmaOk;
    opts.progress?.({
      ops,
      total: opts.ops,
      opsPerSec: ops / ((performance.now() - t0) / 1000),
      seed: opts.seed,
      combo: comboName(combo),
      sequences,
    });
    if (seq.failure !== undefined) {
      const min =
        opts.minimize === false
          ? { lines: seq.lines.slice(0, seq.failure.index + 1), failure: seq.failure }
          : await minimize(combo, seq.lines, seq.failure, {
              ...opts,
              ...(wd !== undefined && { replay: (c, ls) => wd.replay(c, ls) }),
              ...(seq.failure.kind === 'hang' && { maxSeconds: opts.minimizeSeconds ?? 60 }),
            });
      const f: FuzzFailure = {
        combo,
        seqSeed: s,
        failure: min.failure,
        lines: seq.lines,
        minimized: min.lines,
      };
      const script = opts.outDir === undefined ? undefined : writeScript(opts.outDir, f, opts.seed);
      return result({ ...f, ...(script !== undefined && { script }) });
    }
  }
  return result();
}

/** The script's text: a header saying how to replay it, the prologue, the lines. */
export function scriptText(
  f: Omit<FuzzFailure, 'script'>,
  machinePath: string,
  seed: number,
): string {
  return [
    `# emuhost fuzz: ${comboName(f.combo)}, run seed ${seed}, sequence seed ${f.seqSeed}`,
    `# ${f.failure.kind} at the last line: ${f.failure.detail.replaceAll('\n', ' ')}`,
    `# replay: npx emuhost qtest --machine ${machinePath} -qtest stdio < THIS_FILE`,
    "# (emuhost answers each '#' line with FAIL Unknown command; they change nothing)",
    ...PROLOGUE,
    ...f.minimized,
    '',
  ].join('\n');
}

function writeScript(dir: string, f: Omit<FuzzFailure, 'script'>, seed: number): string {
  mkdirSync(dir, { recursive: true });
  const stem = `fuzz-${comboName(f.combo)}-${f.seqSeed}`;
  const machine = join(dir, `${stem}.machine.json`);
  const script = join(dir, `${stem}.qtest`);
  writeFileSync(machine, `${JSON.stringify(machineFile(f.combo), null, 2)}\n`);
  const rel = relative(process.cwd(), resolve(machine)) || machine;
  writeFileSync(
    script,
    scriptText(f, rel, seed).replace('THIS_FILE', relative(process.cwd(), resolve(script))),
  );
  return script;
}
