/**
 * The CPU scheduler: runs the machine's CPUs against the virtual clock.
 *
 * Deterministic mode (the default) is QEMU's `-icount` with round-robin vCPUs: one timeline
 * for the whole machine, advanced by every retired instruction of every CPU
 * (`nsPerInstruction` each). CPUs take turns, each for at most a quantum of virtual time and
 * never past the next timer deadline; timers fire between turns, each at its deadline. A CPU
 * waiting for an interrupt is skipped; when all wait, time jumps to the next deadline (WFI
 * skips ahead). Same inputs, same instruction counts, same guest output.
 *
 * Real-time mode follows the host's monotonic clock instead: turns are a fixed number of
 * instructions, time is set from the host clock between turns, and when every CPU waits the
 * caller sleeps until the next deadline.
 *
 * `run` is synchronous and bounded (by virtual time, by a wall-clock budget for yielding to
 * the host's event loop, or by `stop`), so that the host can interleave I/O.
 */
import { type CpuClock, type CpuModel, EmuhostError } from '@emuhost/sdk';
import type { VirtualClock } from '../clock/virtual-clock.js';

export interface SchedulerOptions {
  /** Default `'deterministic'`. */
  readonly mode?: 'deterministic' | 'realtime';
  /** Deterministic mode: virtual ns per retired instruction (QEMU `-icount shift=N`: 2^N). Default 1. */
  readonly nsPerInstruction?: number;
  /** The longest turn of one CPU, in virtual ns (deterministic) . Default 100 µs. */
  readonly quantumNs?: number;
  /** Real-time mode: instructions per turn. Default 200,000. */
  readonly turnInstructions?: number;
  /** Real-time mode: the host's monotonic clock in ns (tests inject one). */
  readonly hostNow?: () => number;
}

/** Why `run` returned. */
export type RunOutcome =
  /** Virtual time reached `untilNs`. */
  | { readonly reason: 'until' }
  /** The wall-clock budget is spent: call again after serving the event loop. */
  | { readonly reason: 'yield' }
  /** `stop()` was called. */
  | { readonly reason: 'stopped' }
  /**
   * Every CPU waits for an interrupt. With a pending timer (real-time mode) `sleepNs` is how
   * long until it is due; without one, only outside input (a UART byte) can wake the guest.
   */
  | { readonly reason: 'idle'; readonly sleepNs?: number };

/** A CPU as the scheduler holds it. */
export interface ScheduledCpu {
  readonly id: string;
  readonly model: CpuModel;
  /** The clock to hand the CPU's model (`CpuContext.clock`). */
  readonly clock: CpuClock;
}

class Scheduled implements ScheduledCpu {
  model!: CpuModel;
  readonly clock: CpuClock;

  constructor(
    readonly id: string,
    sched: CpuScheduler,
  ) {
    this.clock = sched.clockFor(this);
  }
}

/**
 * A turn begun and not finished: a run can end inside one (`untilNs`, `stop()`), and the next
 * run finishes it with what is left of the same budget, so that where runs end is invisible.
 */
export interface TurnState {
  /** Virtual time when the turn began, in ns. */
  readonly start: number;
  /** Virtual time the turn may not pass, in ns (lowered when a device arms a timer inside it). */
  limit: number;
  /** Instructions the turn may retire. */
  readonly budget: number;
  /** Instructions retired so far. */
  retired: number;
}

/**
 * Where the scheduler stands between two runs, as plain data (snapshots): whose turn is next
 * or running, the turn in progress, and the counts. Deterministic mode only means anything
 * here; a real-time scheduler re-derives its host offset.
 */
export interface SchedulerState {
  /** Index of the CPU whose turn is next or in progress. */
  readonly cursor: number;
  readonly turn: TurnState | null;
  /** Instructions retired in the current round of turns (0 at its end: every CPU waited). */
  readonly roundRetired: number;
  readonly instructions: number;
}

export class CpuScheduler {
  readonly mode: 'deterministic' | 'realtime';
  readonly nsPerInstruction: number;
  readonly quantumNs: number;
  private readonly turnInstructions: number;
  private readonly hostNow: () => number;
  private readonly cpus: Scheduled[] = [];
  /** The CPU whose `run` is executing, or null. */
  private running: Scheduled | null = null;
  /** Index of the CPU whose turn is next or in progress. */
  private cursor = 0;
  /** The turn in progress (begun by an earlier run that ended inside it), or null. */
  private turn: TurnState | null = null;
  /** Instructions retired in this round of turns so far. */
  private roundRetired = 0;
  /** A device armed a timer inside the running turn: the turn ends where the CPU stopped. */
  private turnCut = false;
  private stopping = false;
  /** Host time minus virtual time, in real-time mode. */
  private hostOffset: number | undefined;
  /** Instructions retired by all CPUs since the machine started. */
  instructions = 0;

  constructor(
    readonly clock: VirtualClock,
    opts: SchedulerOptions = {},
  ) {
    this.mode = opts.mode ?? 'deterministic';
    this.nsPerInstruction = this.mode === 'realtime' ? 0 : (opts.nsPerInstruction ?? 1);
    this.quantumNs = opts.quantumNs ?? 100_000;
    this.turnInstructions = opts.turnInstructions ?? 200_000;
    this.hostNow = opts.hostNow ?? (() => Number(process.hrtime.bigint()));
    clock.onArm = (deadline) => {
      // A device armed a timer due inside the running turn (through a store the CPU made):
      // end the turn there, so that the timer fires on time.
      const t = this.turn;
      if (this.running !== null && t !== null && deadline < t.limit) {
        t.limit = Math.max(deadline, clock.now);
        this.turnCut = true;
        this.running.model.stop();
      }
    };
  }

  /**
   * Registers a CPU. `create` receives the scheduled record (whose `clock` the model must use)
   * and returns the model; if it throws, nothing is registered.
   */
  add(id: string, create: (cpu: ScheduledCpu) => CpuModel): ScheduledCpu {
    const s = new Scheduled(id, this);
    s.model = create(s);
    this.cpus.push(s);
    return s;
  }

  remove(cpu: ScheduledCpu): void {
    const i = this.cpus.indexOf(cpu as Scheduled);
    if (i < 0) return;
    this.cpus.splice(i, 1);
    if (i === this.cursor) this.turn = null;
    if (i < this.cursor || this.cursor >= this.cpus.length) {
      this.cursor = Math.max(0, i < this.cursor ? this.cursor - 1 : 0);
    }
  }

  get list(): readonly ScheduledCpu[] {
    return this.cpus;
  }

  /** Makes the current `run` return (at the running CPU's next block boundary). */
  stop(): void {
    this.stopping = true;
    this.running?.model.stop();
  }

  /** Where the scheduler stands, as plain data (between runs). */
  save(): SchedulerState {
    return {
      cursor: this.cursor,
      turn: this.turn === null ? null : { ...this.turn },
      roundRetired: this.roundRetired,
      instructions: this.instructions,
    };
  }

  /** Puts the scheduler where `save` found it (between runs; the CPUs are the same in number). */
  load(s: SchedulerState): void {
    if (this.running !== null)
      throw new EmuhostError('E_BAD_ARGUMENT', 'the scheduler cannot be loaded during a run');
    if (!Number.isInteger(s.cursor) || s.cursor < 0 || s.cursor >= Math.max(1, this.cpus.length))
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `scheduler cursor ${s.cursor} is not one of the ${this.cpus.length} CPUs`,
      );
    this.cursor = s.cursor;
    this.turn = s.turn === null ? null : { ...s.turn };
    this.roundRetired = s.roundRetired;
    this.instructions = s.instructions;
    this.turnCut = false;
    this.hostOffset = undefined;
  }

  /**
   * Runs the CPUs until virtual time `untilNs`, every CPU waits, `stop()`, or `wallMs` of host
   * time passed (checked between rounds of turns). Turns are taken in rounds, CPU after CPU;
   * a run that ends inside a turn (at `untilNs` or `stop()`) leaves it to the next run, which
   * finishes it with the rest of its budget: any split of a run takes the same turns.
   */
  run(opts: { readonly untilNs?: number; readonly wallMs?: number } = {}): RunOutcome {
    const until = opts.untilNs ?? Number.POSITIVE_INFINITY;
    const wallEnd = opts.wallMs === undefined ? undefined : this.hostNow() + opts.wallMs * 1e6;
    this.stopping = false;
    if (this.cpus.length === 0) return { reason: 'idle' };
    for (;;) {
      if (this.stopping) return { reason: 'stopped' };
      if (this.clock.now >= until) return { reason: 'until' };
      if (this.cursor === 0 && this.turn === null) {
        // A round begins.
        if (this.mode === 'realtime') this.followHost(until);
        this.roundRetired = 0;
      }
      const c = this.cpus[this.cursor]!;
      if (this.turn === null) {
        this.clock.step(0); // timers due now, before the turn
        if (!c.model.waiting) this.turn = this.begin();
      }
      if (this.turn !== null) {
        const t = this.turn;
        const capped = this.slice(c, t, until);
        const over =
          t.retired >= t.budget || this.turnCut || c.model.waiting || !(this.stopping || capped);
        this.turnCut = false;
        if (!over) continue; // the next run finishes the turn
        this.turn = null;
      }
      if (++this.cursor < this.cpus.length) continue;
      // The round is over.
      this.cursor = 0;
      if (this.roundRetired === 0) {
        const next = this.clock.nextDeadline();
        if (this.mode === 'realtime') {
          if (next === undefined) return { reason: 'idle' };
          const sleepNs = next - (this.hostNow() - this.offset());
          if (sleepNs > 0) return { reason: 'idle', sleepNs };
          this.followHost(until);
        } else {
          if (next === undefined) return { reason: 'idle' };
          // Every CPU waits: skip to the next event (a waiting CPU needs no instructions).
          this.clock.setTime(Math.min(next, until));
        }
      }
      if (wallEnd !== undefined && this.hostNow() >= wallEnd) return { reason: 'yield' };
    }
  }

  /** A new turn for the CPU at the cursor, from now: its limit and budget. */
  private begin(): TurnState {
    const start = this.clock.now;
    if (this.mode === 'realtime')
      return { start, limit: Number.POSITIVE_INFINITY, budget: this.turnInstructions, retired: 0 };
    const next = this.clock.nextDeadline() ?? Number.POSITIVE_INFINITY;
    const limit = Math.min(next, start + this.quantumNs);
    const budget = Math.max(1, Math.floor((limit - start) / this.nsPerInstruction));
    return { start, limit, budget, retired: 0 };
  }

  /**
   * Runs the CPU for the rest of its turn, or (deterministic mode) only until `until`;
   * returns whether it stopped there, short of its turn's budget.
   */
  private slice(c: Scheduled, t: TurnState, until: number): boolean {
    const clock = this.clock;
    const left = t.budget - t.retired;
    let n = left;
    if (this.mode === 'deterministic' && until !== Number.POSITIVE_INFINITY)
      n = Math.min(n, Math.max(1, Math.floor((until - clock.now) / this.nsPerInstruction)));
    this.running = c;
    let r: number;
    try {
      r = c.model.run(n);
    } finally {
      this.running = null;
    }
    t.retired += r;
    this.instructions += r;
    this.roundRetired += r;
    if (this.mode === 'deterministic')
      clock.setTime(Math.max(clock.now, t.start + t.retired * this.nsPerInstruction));
    else this.followHost(until);
    return n < left && r >= n;
  }

  /** Real-time mode: virtual time = host time (minus the offset fixed at the first turn). */
  private followHost(until: number): void {
    const t = this.hostNow() - this.offset();
    this.clock.setTime(Math.max(this.clock.now, Math.min(t, until)));
  }

  private offset(): number {
    this.hostOffset ??= this.hostNow() - this.clock.now;
    return this.hostOffset;
  }

  /** @internal The clock a CPU's model uses. */
  clockFor(cpu: Scheduled): CpuClock {
    const sched = this;
    const clock = this.clock;
    const ns = this.nsPerInstruction;
    if (this.mode === 'realtime') {
      return Object.freeze({
        nsPerInstruction: 0,
        now: () => Math.max(clock.now, sched.hostNow() - sched.offset()),
        sync: () => {},
      });
    }
    return Object.freeze({
      nsPerInstruction: ns,
      now: () => clock.now,
      sync(retired: number) {
        const turn = sched.turn;
        if (sched.running !== cpu || turn === null) return;
        const t = turn.start + (turn.retired + retired) * ns;
        clock.advanceWithin(t < turn.limit ? t : turn.limit);
      },
    });
  }
}
