/**
 * The measuring layer: a thin wrapper over tinybench for operations that take nanoseconds.
 *
 * tinybench times one call of the task function per sample. Reading the clock and keeping the
 * sample cost tens of nanoseconds, more than the ~5 ns operations measured here, so each case
 * runs `inner` operations per call and ns/op is the mean sample latency divided by `inner`.
 *
 * The machines this runs on are noisy, so a case's time budget is split over several rounds
 * that interleave the cases (baseline, ours, baseline, ours...), and the median round counts.
 * A slow stretch of the machine then hits one round of both sides instead of all of one side;
 * ratios go further and pair the two sides round by round (see `Measurements.paired`).
 */
import { Bench, type BenchOptions } from './tinybench.js';

/** One thing to time. */
export interface BenchCase {
  readonly name: string;
  /**
   * Operations per tinybench iteration. Chosen so that one iteration takes tens of
   * microseconds: long enough to drown the per-sample overhead, short enough for thousands
   * of samples within the budget.
   */
  readonly inner: number;
  /**
   * Performs `n` operations and returns a number derived from their results. The harness
   * folds it into a sink, so the optimizer cannot prove the work unused and drop it.
   */
  readonly run: (n: number) => number;
}

export interface HarnessOptions {
  /** Time budget per case in ms, split evenly over the rounds. */
  readonly timeMs: number;
  readonly rounds: number;
  /**
   * Untimed iterations of each case before any is timed, and again before each round. Few
   * are needed: an iteration is thousands of operations, enough for V8 to optimize the inner
   * loop while it runs (on-stack replacement).
   */
  readonly warmupIterations: number;
  /** A clock in ms. Only tests set it, to feed the harness fake timings. */
  readonly now?: () => number;
}

export const FULL_OPTIONS: HarnessOptions = { timeMs: 300, rounds: 5, warmupIterations: 5 };
export const QUICK_OPTIONS: HarnessOptions = { timeMs: 100, rounds: 3, warmupIterations: 3 };

/** Below this many samples a round's mean means little, whatever the budget says. */
const MIN_SAMPLES = 16;

/** ns per operation, from a mean iteration latency in ms and the operations per iteration. */
export function nsPerOp(meanLatencyMs: number, inner: number): number {
  return (meanLatencyMs * 1e6) / inner;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of nothing');
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** ns/op of each case in each round, from one `measure` call. */
export class Measurements {
  constructor(private readonly rounds: ReadonlyMap<string, readonly number[]>) {}

  /** ns/op of a case: its median round. Throws for a name not measured (a suite's typo). */
  ns(name: string): number {
    return median(this.of(name));
  }

  /**
   * `f(a, b)` for the figures of `a` and `b` from the same round, median over rounds. Cases
   * of one round ran moments apart, so the machine's slow and fast stretches mostly cancel
   * in the pair; medians taken separately could pair a fast round of one with a slow one of
   * the other.
   */
  paired(f: (a: number, b: number) => number, a: string, b: string): number {
    const xs = this.of(a);
    const ys = this.of(b);
    return median(xs.map((x, i) => f(x, ys[i]!)));
  }

  /** Every case's ns/op (median round), in the order measured. */
  *entries(): IterableIterator<[string, number]> {
    for (const [name, xs] of this.rounds) yield [name, median(xs)];
  }

  private of(name: string): readonly number[] {
    const xs = this.rounds.get(name);
    if (xs === undefined) throw new Error(`no measurement named '${name}'`);
    return xs;
  }
}

// Module-level and read by `sinkValue`, so no compiler can treat the results as dead.
let sink = 0;

/** The folded results of every case run so far. */
export function sinkValue(): number {
  return sink;
}

/**
 * Times every case: `opts.rounds` rounds, each running every case in order for its share of
 * the budget. `onRound` hears of each round's figure (progress output).
 */
export function measure(
  cases: readonly BenchCase[],
  opts: HarnessOptions,
  onRound: (name: string, round: number, ns: number) => void = () => {},
): Measurements {
  const names = new Set<string>();
  for (const c of cases) {
    if (names.has(c.name)) throw new Error(`duplicate case name '${c.name}'`);
    if (!(Number.isSafeInteger(c.inner) && c.inner > 0)) throw new Error(`${c.name}: bad inner`);
    names.add(c.name);
  }
  // Every case runs before any is timed. Cases share core functions whose optimized code
  // depends on everything they have seen so far (V8 type feedback), so without this a case
  // timed early would see a simpler state than one timed late, and figures would depend on
  // the order of the list. This way every round times the suite's steady state.
  for (const c of cases) {
    for (let i = 0; i < opts.warmupIterations; i++) sink = (sink + c.run(c.inner)) | 0;
  }
  const perRound = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  const budget = opts.timeMs / opts.rounds;
  for (let round = 0; round < opts.rounds; round++) {
    for (const c of cases) {
      const ns = measureOnce(c, budget, opts);
      perRound.get(c.name)!.push(ns);
      onRound(c.name, round, ns);
    }
  }
  return new Measurements(perRound);
}

/** One round of one case: its own Bench, so warmup runs right before the timed part. */
function measureOnce(c: BenchCase, budgetMs: number, opts: HarnessOptions): number {
  const clock: Pick<BenchOptions, 'now' | 'timestampProvider'> =
    opts.now !== undefined ? { now: opts.now } : { timestampProvider: 'hrtimeNow' };
  const bench = new Bench({
    ...clock,
    time: budgetMs,
    iterations: MIN_SAMPLES,
    warmupIterations: opts.warmupIterations,
    // No warmup budget: the iteration count alone bounds it (tinybench's default is 250 ms).
    warmupTime: 0,
    throws: true,
  });
  const { inner, run } = c;
  bench.add(c.name, () => {
    sink = (sink + run(inner)) | 0;
  });
  const task = bench.runSync()[0]!;
  const r = task.result;
  if (r.state !== 'completed') {
    throw new Error(`${c.name}: ${r.state === 'errored' ? r.error.message : r.state}`);
  }
  return nsPerOp(r.latency.mean, inner);
}
