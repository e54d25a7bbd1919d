/**
 * The clock suite: `VirtualClock.step` (core/src/clock) firing 1,000 periodic timers.
 *
 * 1,000 timers belong to 100 devices (10 each), created through the device scope, so each
 * fires under its device's guard as a real device's timer does. Every timer re-arms itself
 * one period later from its own callback (the API has no periodic mode), and their phases
 * are spread over the period in an order unrelated to arming order, so each step of one
 * period fires every timer exactly once, in deadline order, each seeing its own deadline.
 *
 * The baseline calls the same per-timer work (a device's tick: bump a counter) directly, in
 * a loop. The re-arm is counted on the clock's side: it is what a periodic timer costs here.
 */
import { createMachine, type Timer } from '@emuhost/core';
import type { BenchCase } from '../harness.js';
import { costRatio, type Metric } from '../metrics.js';
import type { Suite } from '../suite.js';

const TIMERS = 1000;
const DEVICES = 100;
const PERIOD_NS = 1_000_000;
/**
 * Where virtual time starts: ten seconds in, so every deadline is already past 2^31 (as in
 * any run longer than two seconds) and V8 does not switch number representation mid-run.
 */
const START_NS = 10_000_000_000;

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`clock suite: ${what}; timing it would time an error path`);
}

/** Timer j's phase in the period: distinct, and scattered relative to j (7919 is prime). */
const phase = (j: number) => 1 + ((j * 7919) % TIMERS) * (PERIOD_NS / TIMERS);

/**
 * The machine and its timers. `record`, for the checking twin only, hears each fire; the
 * timed machine's ticks do nothing else.
 */
function timerMachine(record?: (j: number, now: number) => void) {
  const m = createMachine();
  const clock = m.clock;
  clock.setTime(START_NS);
  const counts = new Int32Array(TIMERS);
  const ticks: (() => void)[] = [];
  const timers: Timer[] = [];
  for (let dev = 0; dev < DEVICES; dev++) {
    m.attachDevice(`dev${dev}`, (scope) => {
      for (let k = 0; k < TIMERS / DEVICES; k++) {
        const j = dev * (TIMERS / DEVICES) + k;
        const tick =
          record === undefined
            ? () => {
                counts[j] = (counts[j]! + 1) | 0;
              }
            : () => {
                counts[j] = (counts[j]! + 1) | 0;
                record(j, clock.now);
              };
        const timer = scope.createTimer(() => {
          tick();
          timer.armIn(PERIOD_NS);
        }, `t${k}`);
        timer.armAt(START_NS + phase(j));
        ticks.push(tick);
        timers.push(timer);
      }
      return {};
    });
  }
  return { clock, counts, ticks, timers };
}

/** Two steps of the checking twin: each fires every timer once, in deadline order. */
function checkOrder(): void {
  const fired: [number, number][] = [];
  const { clock } = timerMachine((j, now) => fired.push([j, now]));
  for (let step = 1; step <= 2; step++) {
    fired.length = 0;
    check(clock.step(PERIOD_NS) === START_NS + step * PERIOD_NS, `step ${step} ends on time`);
    check(fired.length === TIMERS, `step ${step} fires ${TIMERS} timers`);
    check(new Set(fired.map(([j]) => j)).size === TIMERS, `step ${step} fires each timer once`);
    const base = START_NS + (step - 1) * PERIOD_NS;
    check(
      fired.every(([j, now], i) => now === base + phase(j) && (i === 0 || now > fired[i - 1]![1])),
      `step ${step} fires in deadline order, each at its deadline`,
    );
  }
}

export const clockSuite: Suite = {
  name: 'clock',
  run(ctx) {
    ctx.log(`building ${TIMERS} periodic timers on ${DEVICES} devices`);
    checkOrder();
    const { clock, counts, ticks, timers } = timerMachine();
    const before = Int32Array.from(counts);
    const deadlines = timers.map((t) => t.deadline);
    clock.step(PERIOD_NS);
    check(
      timers.every(
        (t, j) => t.deadline === deadlines[j]! + PERIOD_NS && counts[j] === before[j]! + 1,
      ),
      'the timed machine fires every timer once per step',
    );

    const direct: BenchCase = {
      name: 'timers.1000.direct',
      inner: 16,
      run(n) {
        let s = 0;
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < TIMERS; j++) ticks[j]!();
          s = (s + counts[i & 0xff]!) | 0;
        }
        return s;
      },
    };
    const ours: BenchCase = {
      name: 'clock.step.1000',
      inner: 1,
      run(n) {
        let s = 0;
        for (let i = 0; i < n; i++) {
          clock.step(PERIOD_NS);
          s = (s + counts[i & 0xff]!) | 0;
        }
        return s;
      },
    };
    const t = ctx.measure([direct, ours]);
    check(clock.pendingTimers === TIMERS, 'every timer is still armed after timing');

    const stepNs = t.ns('clock.step.1000');
    const metrics: Metric[] = [
      {
        name: 'clock.step.1k-timers.ns',
        value: stepNs,
        unit: 'ns/op',
        better: 'lower',
        detail: 'VirtualClock.step firing 1,000 self-re-arming timers (guarded)',
      },
      {
        name: 'clock.step.per-timer.ns',
        value: stepNs / TIMERS,
        unit: 'ns/op',
        better: 'lower',
        detail: 'the same, per fired timer (pop, guard, callback, re-arm)',
      },
      {
        name: 'clock.step.per-timer.ratio',
        value: t.paired(costRatio, 'clock.step.1000', 'timers.1000.direct'),
        unit: 'ratio',
        better: 'lower',
        detail: 'step ns / direct calls of the same 1,000 ticks ns',
      },
    ];
    return metrics;
  },
};
