/**
 * The virtual clock: nanoseconds that advance only when the machine's driver advances them
 * (qtest `clock_step`/`clock_set`, the driver API, a run loop). Device models never read real
 * time, so a run is reproducible.
 *
 * Timers sit in a binary heap ordered by (deadline, arming order). Stepping fires every timer
 * due on the way in that order, each seeing the clock at its own deadline; a timer that
 * re-arms itself inside the window fires again in the same step.
 */
import { EmuhostError } from '@emuhost/sdk';
import type { DeviceGuard } from '../guard.js';

/** How often one timer may fire at one instant before it is judged a livelock. */
const MAX_FIRES_AT_ONE_INSTANT = 10_000;

export class Timer {
  /** Absolute deadline in ns, or -1 when not armed. */
  deadline = -1;
  /** Arming order, to keep equal deadlines first-armed-first-fired. */
  seq = 0;
  /** Index in the heap, or -1. */
  heapIndex = -1;

  constructor(
    private readonly clock: VirtualClock,
    /** The device that owns it; its callback runs under the device's guard. */
    readonly guard: DeviceGuard | null,
    readonly callback: () => void,
    readonly name: string,
  ) {}

  get pending(): boolean {
    return this.heapIndex >= 0;
  }

  /** Arms (or re-arms) the timer for an absolute virtual time; a time in the past fires at the next step. */
  armAt(deadlineNs: number): void {
    this.clock.schedule(this, deadlineNs);
  }

  /** Arms the timer `deltaNs` from now. */
  armIn(deltaNs: number): void {
    this.clock.schedule(this, this.clock.now + deltaNs);
  }

  cancel(): void {
    this.clock.unschedule(this);
  }
}

/**
 * The clock as plain data (snapshots): the time, the arming counter and every pending timer
 * by name with its deadline and arming order, so that equal deadlines fire in the same order
 * after a restore.
 */
export interface ClockState {
  readonly now: number;
  readonly seq: number;
  readonly timers: readonly {
    readonly name: string;
    readonly deadline: number;
    readonly seq: number;
  }[];
}

export class VirtualClock {
  /** Virtual time in ns (exact up to 2^53 ns, about 104 days). */
  now = 0;
  private readonly heap: Timer[] = [];
  private seq = 0;
  /** Timers by name, for `load`; a name two timers share cannot be saved while pending. */
  private readonly named = new Map<string, Timer | 'ambiguous'>();

  createTimer(
    callback: () => void,
    opts: { guard?: DeviceGuard | null; name?: string } = {},
  ): Timer {
    const t = new Timer(this, opts.guard ?? null, callback, opts.name ?? 'timer');
    this.named.set(t.name, this.named.has(t.name) ? 'ambiguous' : t);
    return t;
  }

  /** Forgets a timer that will never be armed again (its device went away). */
  dropTimer(t: Timer): void {
    t.cancel();
    if (this.named.get(t.name) === t) this.named.delete(t.name);
  }

  /** The time and the pending timers as plain data. Throws if a pending timer's name is shared. */
  save(): ClockState {
    const timers = this.heap.map((t) => {
      if (this.named.get(t.name) !== t)
        throw new EmuhostError(
          'E_BAD_ARGUMENT',
          `timer '${t.name}' is pending but its name is not unique: the clock cannot be saved`,
        );
      return { name: t.name, deadline: t.deadline, seq: t.seq };
    });
    return { now: this.now, seq: this.seq, timers };
  }

  /**
   * Problems `load(s)` would throw for, without changing anything: a timer this clock does not
   * have, or a deadline before the time.
   */
  check(s: ClockState): string | undefined {
    if (!Number.isSafeInteger(s.now) || s.now < 0) return `time ${s.now} is not a whole ns`;
    for (const t of s.timers) {
      const timer = this.named.get(t.name);
      if (timer === undefined || timer === 'ambiguous') return `no timer named '${t.name}'`;
      if (!Number.isSafeInteger(t.deadline) || t.deadline < s.now)
        return `timer '${t.name}' deadline ${t.deadline} is before the time ${s.now}`;
    }
    return undefined;
  }

  /**
   * Sets the time (backwards too) and exactly the pending timers of `s`, cancelling the
   * others, without firing anything or telling `onArm`.
   */
  load(s: ClockState): void {
    const bad = this.check(s);
    if (bad !== undefined) throw new EmuhostError('E_BAD_ARGUMENT', `clock state: ${bad}`);
    for (const t of [...this.heap]) this.unschedule(t);
    this.now = s.now;
    this.seq = s.seq;
    for (const st of s.timers) {
      const t = this.named.get(st.name) as Timer;
      this.unschedule(t);
      t.deadline = st.deadline;
      t.seq = st.seq;
      t.heapIndex = this.heap.length;
      this.heap.push(t);
      this.siftUp(t.heapIndex);
    }
  }

  /**
   * Called whenever a timer is armed, with its deadline: the CPU scheduler ends a CPU's run
   * that would otherwise pass it. Null when nothing listens.
   */
  onArm: ((deadline: number) => void) | null = null;

  /** The earliest pending deadline, or undefined. */
  nextDeadline(): number | undefined {
    return this.heap[0]?.deadline;
  }

  get pendingTimers(): number {
    return this.heap.length;
  }

  /** Advances by `ns`, firing every timer due on the way in deadline order. Returns the new time. */
  step(ns: number): number {
    checkTime('step', ns);
    return this.runUntil(this.now + ns);
  }

  /**
   * Advances to the next deadline and fires what is due there. Returns the new time, or
   * undefined (and does nothing) when no timer is pending.
   */
  stepToNext(): number | undefined {
    const d = this.nextDeadline();
    if (d === undefined) return undefined;
    return this.runUntil(Math.max(d, this.now));
  }

  /** Advances to the absolute time `ns`; never goes backwards (an earlier time is a no-op). */
  setTime(ns: number): number {
    checkTime('set', ns);
    return ns <= this.now ? this.now : this.runUntil(ns);
  }

  /**
   * Moves time forward to `ns` without firing anything, but never past the earliest pending
   * deadline: how a CPU in the middle of its run brings the clock to the instant of a device
   * access. Timers due at the new time fire at the next `step` or `setTime`.
   */
  advanceWithin(ns: number): void {
    const d = this.heap[0]?.deadline;
    const t = d === undefined || ns < d ? ns : d;
    if (t > this.now) this.now = t;
  }

  /** @internal */
  schedule(t: Timer, deadline: number): void {
    if (!Number.isFinite(deadline)) {
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `timer '${t.name}' deadline must be finite, not ${deadline}`,
      );
    }
    this.unschedule(t);
    // A deadline in the past means "as soon as possible": the next step fires it.
    t.deadline = Math.max(Math.round(deadline), this.now);
    t.seq = this.seq++;
    t.heapIndex = this.heap.length;
    this.heap.push(t);
    this.siftUp(t.heapIndex);
    this.onArm?.(t.deadline);
  }

  /** @internal */
  unschedule(t: Timer): void {
    const i = t.heapIndex;
    if (i < 0) return;
    const last = this.heap.pop()!;
    if (last !== t) {
      this.heap[i] = last;
      last.heapIndex = i;
      this.siftDown(i);
      this.siftUp(last.heapIndex);
    }
    t.heapIndex = -1;
    t.deadline = -1;
  }

  private runUntil(target: number): number {
    let lastInstant = -1;
    let firesAtInstant = 0;
    for (;;) {
      const t = this.heap[0];
      if (t === undefined || t.deadline > target) break;
      const at = t.deadline;
      this.unschedule(t);
      this.now = at;
      if (at === lastInstant) firesAtInstant++;
      else {
        lastInstant = at;
        firesAtInstant = 0;
      }
      if (firesAtInstant > MAX_FIRES_AT_ONE_INSTANT) {
        // Timers that keep re-arming for "now" would hang the machine: drop this one, and
        // quarantine its device if it has one.
        t.guard?.fault(
          'timer',
          new Error(`timer '${t.name}' livelocked at ${at} ns`),
          undefined,
          t.name,
        );
        continue;
      }
      if (t.guard === null) t.callback();
      else t.guard.run('timer', t.callback, t.name);
    }
    this.now = Math.max(this.now, target);
    return this.now;
  }

  private less(a: Timer, b: Timer): boolean {
    return a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq);
  }

  // Sifts move a hole instead of swapping, writing each moved timer's index once.

  private siftUp(i: number): void {
    const h = this.heap;
    const t = h[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p]!;
      if (!this.less(t, parent)) break;
      h[i] = parent;
      parent.heapIndex = i;
      i = p;
    }
    h[i] = t;
    t.heapIndex = i;
  }

  private siftDown(i: number): void {
    const h = this.heap;
    const n = h.length;
    const t = h[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.less(h[r]!, h[l]!) ? r : l;
      const child = h[c]!;
      if (!this.less(child, t)) break;
      h[i] = child;
      child.heapIndex = i;
      i = c;
    }
    h[i] = t;
    t.heapIndex = i;
  }
}

function checkTime(what: string, ns: number): void {
  if (!Number.isSafeInteger(ns) || ns < 0) {
    throw new EmuhostError(
      'E_BAD_ARGUMENT',
      `clock ${what} needs a whole number of ns in [0, 2^53), not ${ns}`,
    );
  }
}
