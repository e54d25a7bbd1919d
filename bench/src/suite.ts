/**
 * A suite: one area of the system (memory, dma, pci, sandbox, qtest...), one file under
 * suites/, registered in main.ts. It builds what it needs, times baseline and own cases
 * through the context, and turns the timings into metrics.
 */
import type { BenchCase, HarnessOptions, Measurements } from './harness.js';
import type { Metric } from './metrics.js';

export interface SuiteContext {
  /** Times cases with this run's settings (full or quick). */
  measure(cases: readonly BenchCase[]): Measurements;
  /** Progress for humans. Goes to stderr, so stdout stays clean for `--json`. */
  log(message: string): void;
  /**
   * This run's settings (full or quick), for a suite that times asynchronous work itself
   * (round trips over a socket), which `measure` cannot: it should spend about `timeMs` per
   * case, split over `rounds` rounds, and report the median round.
   */
  readonly options: HarnessOptions;
}

export interface Suite {
  /** What `--filter` matches against. */
  readonly name: string;
  /**
   * May be async, for setup that cannot be synchronous (building and importing a second
   * bundle of the kernel) and for timing I/O. `measure` itself runs no promise: a suite that
   * times asynchronous work (qtest over a socket) does it itself, following `options`.
   */
  run(ctx: SuiteContext): Metric[] | Promise<Metric[]>;
}
