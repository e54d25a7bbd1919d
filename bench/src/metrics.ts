/**
 * What the bench reports: named figures, each with its unit, which direction is better and
 * an optional target.
 *
 * A figure with a natural limit (a copy cannot beat memcpy, a dispatch cannot beat calling
 * the device directly) is a ratio against a baseline timed in the same run, because absolute
 * nanoseconds move with the machine's load and ratios mostly do not. Both ratio helpers take
 * ns/op and exist so a suite never has to remember which way round the division goes.
 */

export type Better = 'higher' | 'lower';

export interface Metric {
  /** Stable name, e.g. `mem.ram.read.4k.ratio`; the JSON output's key. */
  readonly name: string;
  readonly value: number;
  readonly unit:
    | 'ratio'
    | 'ns/op'
    | 'us'
    | 'ms'
    | 's'
    | 'ops/s'
    | 'MiB/s'
    | 'MiB'
    | 'MIPS'
    | 'count';
  readonly better: Better;
  /** The bound to meet: `value >= target` when higher is better, `<=` when lower is. */
  readonly target?: number;
  /** What was compared with what, for the table. */
  readonly detail: string;
}

/**
 * How close we come to a speed limit: baseline ns / our ns. 1 means as fast as the baseline;
 * higher is better (it can exceed 1 only by noise or by the baseline doing more work).
 */
export function speedRatio(baselineNs: number, oursNs: number): number {
  return baselineNs / oursNs;
}

/** What an indirection costs: our ns / baseline ns, "times the direct cost"; lower is better. */
export function costRatio(oursNs: number, baselineNs: number): number {
  return oursNs / baselineNs;
}

/** Whether a metric meets its target; undefined when it has none. */
export function meetsTarget(m: Metric): boolean | undefined {
  if (m.target === undefined) return undefined;
  return m.better === 'higher' ? m.value >= m.target : m.value <= m.target;
}

/** The direction in words, as the table shows it. */
export function describeUnit(m: Metric): string {
  return `${m.unit}, ${m.better} is better`;
}
