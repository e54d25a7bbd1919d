/**
 * The harness's arithmetic, checked with a fake clock: every case "takes" exactly what it
 * says, so the expected figures are exact. Nothing here depends on real timing.
 */
import { describe, expect, it } from 'vitest';
import { type BenchCase, measure, median, nsPerOp } from './harness.js';
import { costRatio, type Metric, meetsTarget, speedRatio } from './metrics.js';
import { formatMetrics, toJson } from './report.js';

/** A clock in ms that only moves when a fake case says it spent time. */
function fakeClock() {
  let ms = 0;
  return {
    now: () => ms,
    /** A case that costs `ns` per operation, whatever `inner` is. */
    caseCosting(name: string, ns: number, inner: number): BenchCase {
      return {
        name,
        inner,
        run(n) {
          ms += (n * ns) / 1e6;
          return n;
        },
      };
    },
  };
}

const fast = { timeMs: 3, rounds: 3, warmupIterations: 2 };

describe('nsPerOp', () => {
  it('divides the mean iteration latency (ms) by the operations per iteration', () => {
    expect(nsPerOp(0.05, 10_000)).toBeCloseTo(5, 12);
    expect(nsPerOp(0.05, 1)).toBeCloseTo(50_000, 6);
  });
});

describe('measure', () => {
  it('reports ns per operation, not per iteration, whatever the inner count', () => {
    const clock = fakeClock();
    const t = measure(
      [
        clock.caseCosting('a', 5, 10_000),
        clock.caseCosting('b', 5, 10),
        clock.caseCosting('c', 80, 256),
      ],
      { ...fast, now: clock.now },
    );
    expect(t.ns('a')).toBeCloseTo(5, 6);
    expect(t.ns('b')).toBeCloseTo(5, 6);
    expect(t.ns('c')).toBeCloseTo(80, 6);
  });

  it('takes the median round, so one slow round does not move the figure', () => {
    const clock = fakeClock();
    let perOp = 20;
    const jumpy: BenchCase = {
      name: 'jumpy',
      inner: 100,
      run: (n) => clock.caseCosting('x', perOp, n).run(n),
    };
    const seen: number[] = [];
    const t = measure([jumpy], { ...fast, now: clock.now }, (_name, _round, ns) => {
      seen.push(ns);
      perOp = 2; // only the first round is slow
    });
    expect(seen.map((x) => Math.round(x))).toEqual([20, 2, 2]);
    expect(t.ns('jumpy')).toBeCloseTo(2, 6);
  });

  it('refuses duplicate names and unknown lookups', () => {
    const clock = fakeClock();
    const c = clock.caseCosting('a', 1, 10);
    expect(() => measure([c, c], { ...fast, now: clock.now })).toThrow(/duplicate/);
    expect(() => measure([c], { ...fast, now: clock.now }).ns('b')).toThrow(/no measurement/);
  });
});

describe('median', () => {
  it('is the middle value, or the mean of the two middle ones', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});

describe('ratios', () => {
  it('speedRatio is baseline/ours: slower than the baseline is below 1', () => {
    const clock = fakeClock();
    const t = measure([clock.caseCosting('memcpy', 60, 256), clock.caseCosting('ours', 80, 256)], {
      ...fast,
      now: clock.now,
    });
    expect(speedRatio(t.ns('memcpy'), t.ns('ours'))).toBeCloseTo(0.75, 6);
  });

  it('paired ratios divide figures of the same round, so a slow round cancels out', () => {
    const clock = fakeClock();
    let slow = 3;
    const at = (name: string, ns: number): BenchCase => ({
      name,
      inner: 100,
      run: (n) => clock.caseCosting(name, ns * slow, n).run(n),
    });
    // The machine speeds up 3x in the middle of round 2, between 'base' and 'ours': per round
    // the ratios are 0.5, 1.5, 0.5, while separate medians give 30 ns / 20 ns = 1.5.
    const t = measure([at('base', 10), at('ours', 20)], { ...fast, now: clock.now }, (name, r) => {
      if (name === 'base' && r === 1) slow = 1;
    });
    expect(speedRatio(t.ns('base'), t.ns('ours'))).toBeCloseTo(1.5, 6);
    expect(t.paired(speedRatio, 'base', 'ours')).toBeCloseTo(0.5, 6);
    expect(t.paired(costRatio, 'ours', 'base')).toBeCloseTo(2, 6);
  });

  it('costRatio is ours/baseline: slower than the baseline is above 1', () => {
    expect(costRatio(14, 2)).toBe(7);
  });

  it('targets follow the direction', () => {
    const m = (value: number, better: 'higher' | 'lower', target?: number): Metric => ({
      name: 'x',
      value,
      unit: 'ratio',
      better,
      detail: '',
      ...(target === undefined ? {} : { target }),
    });
    expect(meetsTarget(m(0.9, 'higher', 0.8))).toBe(true);
    expect(meetsTarget(m(0.7, 'higher', 0.8))).toBe(false);
    expect(meetsTarget(m(4, 'lower', 5))).toBe(true);
    expect(meetsTarget(m(6, 'lower', 5))).toBe(false);
    expect(meetsTarget(m(6, 'lower'))).toBeUndefined();
  });
});

describe('report', () => {
  const metrics: Metric[] = [
    { name: 'a.ratio', value: 0.75, unit: 'ratio', better: 'higher', target: 0.8, detail: 'x' },
    { name: 'b.ns', value: 5.4321, unit: 'ns/op', better: 'lower', detail: 'y' },
  ];

  it('JSON is one object of name to number, to 4 significant digits', () => {
    expect(JSON.parse(toJson(metrics))).toEqual({ metrics: { 'a.ratio': 0.75, 'b.ns': 5.432 } });
  });

  it('the table names the direction and marks a missed target', () => {
    const table = formatMetrics(metrics);
    expect(table).toMatch(/a\.ratio\s+0\.75\s+ratio, higher is better\s+>= 0\.8\s+MISSES/);
    expect(table).toMatch(/b\.ns\s+5\.43\s+ns\/op, lower is better/);
  });
});
