/**
 * The run loop: what keeps a machine's CPUs running while the host stays responsive (QEMU's
 * main loop with its vCPU thread, in one JavaScript thread).
 *
 * The CPUs run in slices (`cpus.run`, synchronous and bounded); between slices the loop
 * yields to Node's event loop, so terminal input, sockets, a monitor, a debugger and signals
 * are served there, and everything they do to the machine happens between slices, never
 * inside a device callback. When every CPU waits for an interrupt the loop sleeps: until
 * outside input wakes it, or until the next timer is due.
 *
 * Time. In deterministic mode (the default, QEMU's `-icount shift=N`) virtual time moves only
 * with retired instructions, and where the guest idles with a timer pending the loop paces it
 * to the host clock (QEMU's `sleep=on`, the default): it sleeps for as long as the guest would
 * have waited, then lets the scheduler jump to the deadline. The guest executes exactly the
 * same either way; pacing only decides when, in host time, its idle periods end, and with
 * `sleep: false` they end at once (QEMU's `sleep=off`). Only outside input can make runs
 * differ: input that ends an idle period early moves virtual time by the real time the guest
 * idled. The loop never cuts a CPU's turn short for host reasons (slices end between rounds
 * of turns), so a run without input is the same run every time. In real-time mode the
 * scheduler follows the host clock and says itself how long to sleep.
 *
 * The guest ends the run through the machine's `requestShutdown`: `poweroff` resolves `run()`
 * with the guest's exit code, `reboot` resets the machine and goes on (`noReboot`: ends the
 * run too, as QEMU's `-no-reboot`); a CPU that halts (a guest stuck in traps with no handler)
 * ends it with exit code 1 and the CPU's message. A monitor or debugger pauses and resumes the loop; the
 * host clock the loop (and a real-time scheduler) reads stands still while paused.
 */
import { EmuhostError } from '@emuhost/sdk';
import type { Emulator } from './emulator.js';
import { HostClock } from './host-clock.js';

export interface RunLoopOptions {
  /**
   * The host clock that pauses with the machine. Pass the one whose `now` the scheduler
   * reads (`SchedulerOptions.hostNow`) in real-time mode. Default: a new one.
   */
  readonly clock?: HostClock;
  /**
   * Deterministic mode: pace idle periods to the host clock (QEMU `-icount sleep=on`, the
   * default); false jumps to the next deadline at once (`sleep=off`).
   */
  readonly sleep?: boolean;
  /** A guest reboot ends the run instead of resetting the machine (QEMU `-no-reboot`). */
  readonly noReboot?: boolean;
  /** A guest poweroff pauses the machine instead of ending the run (QEMU `-no-shutdown`). */
  readonly noShutdown?: boolean;
  /** Start paused (QEMU `-S`): a monitor's `cont` or a debugger resumes. */
  readonly paused?: boolean;
  /** Host ms the CPUs run before the loop yields to the event loop. Default 10. */
  readonly sliceMs?: number;
}

/**
 * Why `run()` ended, and the process exit code that goes with it. `halted`: a CPU found the
 * guest stuck beyond help (exit code 1), and `message` says where.
 */
export interface RunExit {
  readonly reason: 'poweroff' | 'reboot' | 'halted' | 'quit';
  readonly exitCode: number;
  readonly message?: string;
}

/**
 * Why the machine is paused, with QEMU's run state names: `user` (monitor `stop`: "paused"),
 * `debug` (a debugger holds it), `prelaunch` (`-S`), `shutdown` (`-no-shutdown` after a guest
 * poweroff).
 */
export type PauseReason = 'user' | 'debug' | 'prelaunch' | 'shutdown';

export type RunState =
  | { readonly status: 'running' }
  | { readonly status: 'paused'; readonly reason: PauseReason }
  | { readonly status: 'ended'; readonly exit: RunExit };

/** What one slice ended with. */
type Step =
  | { readonly kind: 'yield' }
  | { readonly kind: 'stopped' }
  /** Sleep up to `ms` (undefined: until woken). */
  | { readonly kind: 'sleep'; readonly ms: number | undefined };

/** The longest single host sleep, so that a far deadline is waited for in pieces. */
const MAX_SLEEP_MS = 1000;
/** An idle period shorter than this is not slept through (timers are not that precise). */
const MIN_SLEEP_NS = 1e6;

export class RunLoop {
  readonly clock: HostClock;
  private readonly sleepOn: boolean;
  private readonly noReboot: boolean;
  private readonly noShutdown: boolean;
  /**
   * Host ms the CPUs run before the loop yields to the event loop; may change while it runs
   * (`emuhost dev` shortens it while a rebuild waits on this thread: esbuild's round trips).
   */
  sliceMs: number;
  private current: RunState;
  private started = false;
  private inSlice = false;
  /** State changes made inside a slice are announced after it. */
  private changed = false;
  private readonly listeners = new Set<(s: RunState) => void>();
  private readonly queued: (() => void)[] = [];
  /** Set while an idle period is being paced: where it began, in virtual and host ns. */
  private pacing: { readonly virtualNs: number; readonly hostNs: number } | undefined;
  private waker: (() => void) | undefined;
  private woken = false;

  constructor(
    readonly emu: Emulator,
    opts: RunLoopOptions = {},
  ) {
    this.clock = opts.clock ?? new HostClock();
    this.sleepOn = opts.sleep ?? true;
    this.noReboot = opts.noReboot ?? false;
    this.noShutdown = opts.noShutdown ?? false;
    this.sliceMs = opts.sliceMs ?? 10;
    this.current = opts.paused ? { status: 'paused', reason: 'prelaunch' } : { status: 'running' };
    if (opts.paused) this.clock.pause();
  }

  get state(): RunState {
    return this.current;
  }

  /** Calls `listener` after every change of state (outside any slice); returns its remover. */
  onChange(listener: (s: RunState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Runs the machine (after its `ready`) until the guest powers off, a reboot under
   * `noReboot`, or `quit`. Rejects only on a host-side error (a plugin's bug).
   */
  async run(): Promise<RunExit> {
    if (this.started) throw new EmuhostError('E_BAD_ARGUMENT', 'this run loop already ran');
    this.started = true;
    this.emu.ready();
    for (;;) {
      this.settle();
      const s = this.current;
      if (s.status === 'ended') return s.exit;
      if (s.status === 'paused') {
        await this.sleep(undefined);
        continue;
      }
      const step = this.slice();
      this.settle();
      if (step.kind === 'sleep') await this.sleep(step.ms);
      else await new Promise((r) => setImmediate(r));
    }
  }

  /** Pauses the machine (QEMU `stop`); from inside a CPU's run it ends the slice. */
  pause(reason: PauseReason = 'user'): void {
    const s = this.current;
    if (s.status === 'ended' || (s.status === 'paused' && s.reason === reason)) return;
    this.clock.pause();
    this.set({ status: 'paused', reason });
    if (this.inSlice) this.emu.machine.cpus.stop();
  }

  /** Resumes a paused machine (QEMU `cont`). */
  resume(): void {
    if (this.current.status !== 'paused') return;
    this.clock.resume();
    this.set({ status: 'running' });
  }

  /** Ends the run (QEMU `quit`, a debugger's kill, a signal). */
  quit(exitCode = 0): void {
    this.end({ reason: 'quit', exitCode });
  }

  /** Machine-wide reset (QEMU `system_reset`), between slices. */
  reset(): void {
    this.between(() => {
      this.pacing = undefined;
      this.emu.reset();
    });
  }

  /**
   * The machine's state was replaced between slices (a snapshot loaded): the idle period being
   * paced belongs to the old state, and a guest that was idle may have work now.
   */
  stateReplaced(): void {
    this.pacing = undefined;
    this.wake();
  }

  /**
   * Runs `fn` between slices: now when no slice is running, else once the current one ends
   * (which it then does at the running CPU's next block boundary).
   */
  between(fn: () => void): void {
    if (!this.inSlice) {
      fn();
      this.wake();
      return;
    }
    this.queued.push(fn);
    this.emu.machine.cpus.stop();
  }

  /**
   * The virtual time at which input from outside arrives now: the clock's, or while the guest
   * idles paced to the host clock, the instant the host clock has reached in that idle period
   * (where a console's input ends it too). A network frame is delivered then.
   */
  inputTime(): number {
    const now = this.emu.machine.clock.now;
    const p = this.pacing;
    return p === undefined ? now : Math.max(now, p.virtualNs + (this.clock.now() - p.hostNs));
  }

  /**
   * Something outside may have given a waiting CPU work (input reached a device): ends a
   * sleep early. Cheap; call it on every input.
   */
  wake(): void {
    if (this.waker !== undefined) this.waker();
    else this.woken = true;
  }

  private end(exit: RunExit): void {
    if (this.current.status === 'ended') return;
    this.clock.pause();
    this.set({ status: 'ended', exit });
    if (this.inSlice) this.emu.machine.cpus.stop();
  }

  private set(s: RunState): void {
    this.current = s;
    this.changed = true;
    if (!this.inSlice) this.settle();
    this.wake();
  }

  /** Outside any slice: queued work, the guest's shutdown request, then announcements. */
  private settle(): void {
    while (this.queued.length > 0) this.queued.shift()!();
    const req = this.emu.shutdownRequest;
    if (req !== undefined && this.current.status !== 'ended') {
      this.emu.shutdownRequest = undefined;
      if (req.kind === 'reboot' && !this.noReboot) {
        this.pacing = undefined;
        this.emu.reset();
      } else if (req.kind === 'poweroff' && this.noShutdown) this.pause('shutdown');
      else
        this.end({
          reason: req.kind,
          exitCode: req.kind === 'reboot' ? 0 : req.exitCode,
          ...(req.message !== undefined && { message: req.message }),
        });
    }
    if (!this.changed) return;
    this.changed = false;
    const s = this.current;
    for (const l of [...this.listeners]) if (this.current === s) l(s);
  }

  private slice(): Step {
    const cpus = this.emu.machine.cpus;
    this.inSlice = true;
    try {
      if (cpus.mode === 'realtime' || !this.sleepOn) {
        const out = cpus.run({ wallMs: this.sliceMs });
        if (out.reason === 'idle')
          return { kind: 'sleep', ms: out.sleepNs === undefined ? undefined : out.sleepNs / 1e6 };
        return { kind: out.reason === 'yield' ? 'yield' : 'stopped' };
      }
      // Deterministic with pacing: one round of turns at a time, so that an idle period is
      // seen before the scheduler jumps over it.
      // The slice's budget is real host time, paused or not: it is about serving the host.
      const end = performance.now() + this.sliceMs;
      for (;;) {
        const idleNs = this.idleFor();
        if (idleNs === undefined) return { kind: 'sleep', ms: undefined };
        if (idleNs > 0) return { kind: 'sleep', ms: idleNs / 1e6 };
        const out = cpus.run({ wallMs: 0 });
        if (out.reason === 'idle') return { kind: 'sleep', ms: undefined };
        if (out.reason !== 'yield') return { kind: 'stopped' };
        if (performance.now() >= end) return { kind: 'yield' };
      }
    } finally {
      this.inSlice = false;
    }
  }

  /**
   * Pacing (deterministic mode): 0 when the CPUs may run now, else how many host ns the
   * guest still idles before its next timer is due, or undefined when it waits with no timer
   * at all (only input can wake it).
   */
  private idleFor(): number | undefined {
    const m = this.emu.machine;
    const host = this.clock.now();
    if (!m.cpus.list.every((c) => c.model.waiting)) {
      if (this.pacing !== undefined) {
        // Woken before the deadline (input): the guest idled for real time, as under QEMU.
        m.clock.advanceWithin(this.pacing.virtualNs + (host - this.pacing.hostNs));
        this.pacing = undefined;
      }
      return 0;
    }
    this.pacing ??= { virtualNs: m.clock.now, hostNs: host };
    const next = m.clock.nextDeadline();
    if (next === undefined) return undefined;
    const left = next - this.pacing.virtualNs - (host - this.pacing.hostNs);
    if (left >= MIN_SLEEP_NS) return left;
    // Due in host time: the scheduler jumps to it.
    this.pacing = undefined;
    return 0;
  }

  /** Sleeps up to `ms` (undefined: until woken), or not at all if woken since the last sleep. */
  private sleep(ms: number | undefined): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      // A timer even when waiting for input only: it keeps Node's event loop alive.
      const t = setTimeout(
        () => done(),
        ms === undefined ? 2 ** 31 - 1 : Math.min(Math.max(ms, 0), MAX_SLEEP_MS),
      );
      const done = () => {
        clearTimeout(t);
        this.waker = undefined;
        this.woken = false;
        resolve();
      };
      this.waker = done;
    });
  }
}
