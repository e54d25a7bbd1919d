/**
 * Slicing is invisible: a run of the scheduler cut anywhere (at `untilNs`, by `stop()` from
 * inside a CPU's run, with the scheduler's state saved and loaded in between) takes the same
 * turns, block for block and instant for instant, as one that was not cut, with any number
 * of CPUs, timers that wake waiting CPUs, and CPUs that arm timers inside their turns.
 */
import type { CpuClock, CpuModel, GuestPhysAddr } from '@emuhost/sdk';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../clock/virtual-clock.js';
import { CpuScheduler } from './cpu-scheduler.js';

/** A small deterministic mix of (cpu, pc, seed): the fake guest's "program". */
function mix(a: number, b: number, seed: number): number {
  let h = (a * 0x9e3779b1 + b * 0x85ebca6b + seed * 0xc2b2ae35) >>> 0;
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d) >>> 0;
  return (h ^ (h >>> 12)) >>> 0;
}

interface World {
  readonly sched: CpuScheduler;
  readonly clock: VirtualClock;
  readonly log: string[];
  /** Blocks executed by all CPUs (the fake's notion of a block boundary). */
  blocks: number;
  /** Called at every block boundary (the split run stops the scheduler from here). */
  onBlock: (() => void) | undefined;
}

/**
 * A CPU that executes blocks of 1-7 instructions decided by its pc, logs each with the exact
 * instant (`clock.sync`), now and then waits for an interrupt or arms its timer (as a store to
 * a device would), and honours `stop()` at block boundaries as real CPUs do.
 */
class FakeCpu implements CpuModel {
  pc = 0;
  waiting = false;
  private stopping = false;
  readonly info = {};

  constructor(
    private readonly id: number,
    private readonly seed: number,
    private readonly w: World,
    private readonly clock: CpuClock,
    private readonly wake: { armAt(ns: number): void },
  ) {}

  run(budget: number): number {
    this.stopping = false;
    let n = 0;
    while (n < budget && !this.stopping && !this.waiting) {
      const h = mix(this.id, this.pc, this.seed);
      const size = 1 + (h % 7);
      this.clock.sync(n);
      this.w.log.push(`cpu${this.id} pc${this.pc} at ${this.clock.now()}`);
      n += size;
      this.pc++;
      if (h % 13 === 0) this.waiting = true;
      else if (h % 11 === 0) this.wake.armAt(this.clock.now() + (h % 5000));
      this.w.blocks++;
      this.w.onBlock?.();
    }
    return n;
  }

  setIrq(_input: number, level: 0 | 1): void {
    if (level) this.waiting = false;
  }
  stop(): void {
    this.stopping = true;
  }
  reset(): void {}
  pageWritten(_a: GuestPhysAddr): void {}
  pageWatched(_a: GuestPhysAddr): void {}
  memoryChanged(): void {}
}

function world(cpus: number, seed: number, quantumNs: number): World {
  const clock = new VirtualClock();
  const sched = new CpuScheduler(clock, { quantumNs, nsPerInstruction: 3 });
  const w: World = { sched, clock, log: [], blocks: 0, onBlock: undefined };
  const models: FakeCpu[] = [];
  for (let i = 0; i < cpus; i++) {
    // Each CPU's "device": a timer that raises its interrupt when due.
    const t = clock.createTimer(
      () => {
        w.log.push(`timer${i} at ${clock.now}`);
        models[i]!.setIrq(0, 1);
      },
      { name: `wake${i}` },
    );
    sched.add(`cpu${i}`, (s) => {
      const m = new FakeCpu(i, seed, w, s.clock, t);
      models.push(m);
      return m;
    });
  }
  // A periodic tick that wakes every CPU, so that the machine never idles for good.
  const tick = clock.createTimer(
    () => {
      w.log.push(`tick at ${clock.now}`);
      for (const m of models) m.setIrq(0, 1);
      tick.armIn(7_919);
    },
    { name: 'tick' },
  );
  tick.armIn(7_919);
  return w;
}

const END_NS = 400_000;

function whole(cpus: number, seed: number, quantumNs: number): string[] {
  const w = world(cpus, seed, quantumNs);
  w.sched.run({ untilNs: END_NS });
  return w.log;
}

/** Cuts: a time to stop at (`untilNs`) or a block count to stop after (`stop()`). */
type Cut = { readonly at: number } | { readonly afterBlocks: number };

function split(cpus: number, seed: number, quantumNs: number, cuts: readonly Cut[]): string[] {
  const w = world(cpus, seed, quantumNs);
  for (const cut of cuts) {
    if ('at' in cut) {
      w.sched.run({ untilNs: Math.min(cut.at, END_NS) });
    } else {
      const stopAt = w.blocks + cut.afterBlocks;
      w.onBlock = () => {
        if (w.blocks >= stopAt) w.sched.stop();
      };
      w.sched.run({ untilNs: END_NS });
      w.onBlock = undefined;
    }
    // Between runs the state is plain data that goes out and back in (as a snapshot does).
    w.sched.load(structuredClone(w.sched.save()));
  }
  w.sched.run({ untilNs: END_NS });
  return w.log;
}

describe('CPU scheduler: slicing is invisible', () => {
  it('gives the same interleaving for any split of a run, with any number of CPUs', () => {
    const cut = fc.oneof(
      fc.record({ at: fc.integer({ min: 0, max: END_NS }) }),
      fc.record({ afterBlocks: fc.integer({ min: 0, max: 400 }) }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.constantFrom(1_000, 10_000, 100_000),
        fc.array(cut, { maxLength: 12 }),
        (cpus, seed, quantum, cuts) => {
          expect(split(cpus, seed, quantum, cuts)).toEqual(whole(cpus, seed, quantum));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('finishes a turn a stop cut short with the rest of its budget', () => {
    const w = world(2, 7, 100_000);
    w.onBlock = () => {
      if (w.blocks === 3) w.sched.stop();
    };
    expect(w.sched.run({ untilNs: END_NS }).reason).toBe('stopped');
    const s = w.sched.save();
    expect(s.cursor).toBe(0);
    expect(s.turn).not.toBeNull();
    expect(s.turn!.retired).toBeGreaterThan(0);
    expect(s.turn!.retired).toBeLessThan(s.turn!.budget);
  });

  it('refuses a cursor past its CPUs', () => {
    const w = world(2, 1, 1_000);
    expect(() => w.sched.load({ ...w.sched.save(), cursor: 5 })).toThrow(/cursor 5/);
  });
});
