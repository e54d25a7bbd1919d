/**
 * Test support: a virtual clock for device unit tests. `now()` moves only when a test
 * advances it, and timers fire on the way in deadline order (ties in arming order), each
 * seeing the clock at its deadline, as the kernel's clock does. A deadline in the past fires
 * at the next advance (even by 0). Names are unique, as on the machine's clock.
 */
import { type ClockHandle, EmuhostError, type TimerHandle } from '@emuhost/sdk';

class FakeTimer implements TimerHandle {
  deadline = -1;
  seq = 0;

  constructor(
    private readonly clock: FakeClock,
    readonly name: string,
    readonly callback: () => void,
  ) {}

  get pending(): boolean {
    return this.deadline >= 0;
  }

  armAt(ns: number): void {
    checkNs(ns);
    this.deadline = Math.max(ns, this.clock.now());
    this.seq = this.clock.nextSeq();
  }

  armIn(ns: number): void {
    this.armAt(this.clock.now() + ns);
  }

  cancel(): void {
    this.deadline = -1;
  }
}

export class FakeClock implements ClockHandle {
  private t = 0;
  private seq = 0;
  private readonly timers = new Map<string, FakeTimer>();

  constructor(start = 0) {
    checkNs(start);
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  timer(name: string, callback: () => void): TimerHandle {
    if (this.timers.has(name)) {
      throw new EmuhostError('E_DUPLICATE_ID', `the clock already has a timer '${name}'`);
    }
    const t = new FakeTimer(this, name, callback);
    this.timers.set(name, t);
    return t;
  }

  /** The timer named `name` (for inspecting its deadline). */
  get(name: string): TimerHandle {
    const t = this.timers.get(name);
    if (t === undefined) throw new Error(`no timer '${name}'`);
    return t;
  }

  /** Advances by `ns`, firing every timer due on the way. */
  advance(ns: number): void {
    this.advanceTo(this.t + ns);
  }

  /** Advances to the absolute time `ns` (never backwards), firing every timer due on the way. */
  advanceTo(ns: number): void {
    checkNs(ns);
    const target = Math.max(ns, this.t);
    let sameInstant = 0;
    for (;;) {
      let next: FakeTimer | undefined;
      for (const tm of this.timers.values()) {
        if (tm.deadline < 0 || tm.deadline > target) continue;
        if (
          next === undefined ||
          tm.deadline < next.deadline ||
          (tm.deadline === next.deadline && tm.seq < next.seq)
        ) {
          next = tm;
        }
      }
      if (next === undefined) break;
      // A device that keeps re-arming for now would hang the test; the kernel quarantines it.
      sameInstant = next.deadline === this.t ? sameInstant + 1 : 0;
      if (sameInstant > 10_000) throw new Error(`timer '${next.name}' livelocks at ${this.t} ns`);
      this.t = next.deadline;
      next.deadline = -1;
      next.callback();
    }
    this.t = target;
  }

  /** Advances to the earliest pending deadline and fires what is due there; false if none. */
  advanceToNext(): boolean {
    let min = -1;
    for (const tm of this.timers.values()) {
      if (tm.deadline >= 0 && (min < 0 || tm.deadline < min)) min = tm.deadline;
    }
    if (min < 0) return false;
    this.advanceTo(min);
    return true;
  }

  nextSeq(): number {
    return ++this.seq;
  }
}

function checkNs(ns: number): void {
  if (!Number.isSafeInteger(ns) || ns < 0) {
    throw new EmuhostError('E_BAD_ARGUMENT', `clock time must be a whole ns in [0, 2^53): ${ns}`);
  }
}
