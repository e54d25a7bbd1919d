/**
 * A suite: one area of the system (memory, dma, pci, sandbox, qtest...), one file under
 * suites/, registered in main.ts. It builds what it needs, times baseline and own cases
 * through the context, and turns the timings into metrics.
 */
import type { BenchCase, Measurements } from './harness.js';
import type { Metric } from './metrics.js';

export interface SuiteContext {
  /** Times cases with this run's settings (full or quick). */
  measure(cases: readonly BenchCase[]): Measurements;
  /** Progress for humans. Goes to stderr, so stdout stays clean for `--json`. */
  log(message: string): void;
}

export interface Suite {
  /** What `--filter` matches against. */
  readonly name: string;
  /**
   * May be async, for setup that cannot be synchronous (building and importing a second
   * bundle of the kernel). Timing itself is always synchronous: `measure` runs no promise.
   */
  run(ctx: SuiteContext): Metric[] | Promise<Metric[]>;
}
