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
import type { CpuClock, CpuModel } from '@emuhost/sdk';
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

export class CpuScheduler {
  readonly mode: 'deterministic' | 'realtime';
  readonly nsPerInstruction: number;
  readonly quantumNs: number;
  private readonly turnInstructions: number;
  private readonly hostNow: () => number;
  private readonly cpus: Scheduled[] = [];
  /** The CPU whose `run` is executing, or null. */
  private running: Scheduled | null = null;
  /** Virtual time at the start of the running CPU's turn. */
  private turnStart = 0;
  /** Virtual time the running turn may not pass. */
  private limit = Number.POSITIVE_INFINITY;
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
      if (this.running !== null && deadline < this.limit) {
        this.limit = Math.max(deadline, clock.now);
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
    if (i >= 0) this.cpus.splice(i, 1);
  }

  get list(): readonly ScheduledCpu[] {
    return this.cpus;
  }

  /** Makes the current `run` return (at the running CPU's next block boundary). */
  stop(): void {
    this.stopping = true;
    this.running?.model.stop();
  }

  /**
   * Runs the CPUs until virtual time `untilNs`, every CPU waits, `stop()`, or `wallMs` of host
   * time passed (checked between turns).
   */
  run(opts: { readonly untilNs?: number; readonly wallMs?: number } = {}): RunOutcome {
    const until = opts.untilNs ?? Number.POSITIVE_INFINITY;
    const wallEnd = opts.wallMs === undefined ? undefined : this.hostNow() + opts.wallMs * 1e6;
    this.stopping = false;
    if (this.cpus.length === 0) return { reason: 'idle' };
    for (;;) {
      if (this.stopping) return { reason: 'stopped' };
      if (this.clock.now >= until) return { reason: 'until' };
      if (this.mode === 'realtime') this.followHost(until);
      let retired = 0;
      for (const c of this.cpus) {
        this.clock.step(0); // timers due now, before the turn
        if (c.model.waiting) continue;
        retired += this.turn(c, until);
        if (this.stopping) return { reason: 'stopped' };
      }
      if (retired === 0) {
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

  /** One CPU's turn; returns the instructions it retired. */
  private turn(c: Scheduled, until: number): number {
    const clock = this.clock;
    const start = clock.now;
    let budget: number;
    if (this.mode === 'realtime') {
      this.limit = Number.POSITIVE_INFINITY;
      budget = this.turnInstructions;
    } else {
      const next = clock.nextDeadline() ?? Number.POSITIVE_INFINITY;
      this.limit = Math.min(until, next, start + this.quantumNs);
      budget = Math.max(1, Math.floor((this.limit - start) / this.nsPerInstruction));
    }
    this.turnStart = start;
    this.running = c;
    let n: number;
    try {
      n = c.model.run(budget);
    } finally {
      this.running = null;
    }
    this.instructions += n;
    if (this.mode === 'deterministic')
      clock.setTime(Math.max(clock.now, start + n * this.nsPerInstruction));
    else this.followHost(until);
    return n;
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
        if (sched.running !== cpu) return;
        const t = sched.turnStart + retired * ns;
        clock.advanceWithin(t < sched.limit ? t : sched.limit);
      },
    });
  }
}
