/**
 * The exit guard: Ctrl-C and SIGTERM end emuhost within a second whatever plugin code is
 * doing, and a machine stuck in plugin code says where.
 *
 * Plugin code at the trusted and confined levels runs on the kernel's thread. A
 * `while (true) {}` there never returns to the event loop, so a JavaScript signal handler never
 * runs (and a SIGTERM handler there is what QEMU harnesses need: libqtest aborts when the
 * emulator dies *of* a signal). So a worker thread, which has an event loop of its own, also
 * watches SIGINT and SIGTERM and the main thread's heartbeat, and reaches into the stuck main
 * thread through the inspector (`Runtime.evaluate` runs at V8's next interrupt check, inside
 * the loop):
 *
 * - a signal that the normal shutdown has not finished within `graceMs` forces the exit, with
 *   the exit code the normal shutdown would give and a line saying what was still running;
 * - a main thread that has not turned its event loop for `stallMs` prints, once per stall,
 *   which device's plugin code it is in, at which source line (the stack of the interrupted
 *   code, mapped like a fault's). The trusted and confined levels cannot stop it (see
 *   `defaultLevel`); the isolated level's watchdog would have.
 *
 * Workers receive no signals through `process.on`; the worker uses Node's signal handle
 * (`process.binding('signal_wrap')`, deprecated but present in Node 20 to 24). Where it is
 * missing the guard still reports stalls, and a signal waits for the plugin code to return.
 */
import { closeSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { describeRunning, type Emulator, stopBuildService } from '@emuhost/host';

export interface ExitGuardOptions {
  /** The exit code of a forced exit (the normal shutdown's). Default 0. */
  readonly exitCode?: number;
  /** How long the normal shutdown may take after a signal before the exit is forced, in ms. */
  readonly graceMs?: number;
  /** After how long without an event-loop turn a stall is reported, in ms; 0 never. */
  readonly stallMs?: number;
  /**
   * Says what is running, from the main thread's stack as it is interrupted (which includes
   * the stuck plugin's frames): `device r0 (plugin runaway 0.1.0, confined), at read
   * (src/index.ts:9:33)`. Undefined when nothing is known. Default: `describeRunning` of the
   * machine `exitGuardMachine` named.
   */
  readonly describe?: (stack: string) => string | undefined;
  readonly stderr?: { write(text: string): unknown };
}

export interface ExitGuard {
  /** Stops watching (the worker ends). */
  stop(): Promise<void>;
}

const FORCE = Symbol.for('emuhost.exitGuard.force');
const STALLED = Symbol.for('emuhost.exitGuard.stalled');
const HEARTBEAT_MS = 100;

/** The worker: plain JavaScript, evaluated from this text. */
const WORKER = `
const { workerData } = require('node:worker_threads');
const inspector = require('node:inspector');
const { beat, graceMs, stallMs, force, stalled } = workerData;
let session;
const evaluate = (expression) => {
  if (session === undefined) {
    session = new inspector.Session();
    session.connectToMainThread();
  }
  session.post('Runtime.evaluate', { expression }, () => {});
};
const signals = [];
try {
  process.noDeprecation = true;
  const { Signal } = process.binding('signal_wrap');
  for (const [name, num] of [['SIGINT', 2], ['SIGTERM', 15]]) {
    const s = new Signal();
    s.onsignal = () => {
      // A second signal forces at once.
      const wait = signals.includes(name) ? 0 : graceMs;
      signals.push(name);
      setTimeout(() => evaluate('globalThis[Symbol.for(' + JSON.stringify(force) + ')](' + JSON.stringify(name) + ')'), wait);
    };
    s.start(num);
  }
} catch {}
let last = Atomics.load(beat, 0);
let since = Date.now();
let reported = false;
setInterval(() => {
  const now = Atomics.load(beat, 0);
  if (now !== last) {
    last = now;
    since = Date.now();
    reported = false;
    return;
  }
  if (stallMs > 0 && !reported && Date.now() - since >= stallMs) {
    reported = true;
    evaluate('globalThis[Symbol.for(' + JSON.stringify(stalled) + ')](' + (Date.now() - since) + ')');
  }
}, Math.max(50, Math.min(250, stallMs / 4 || 250)));
`;

let active: ExitGuard | undefined;
let machine: Emulator | undefined;

/** The machine the guard describes (the command's, once it is built). */
export function exitGuardMachine(emu: Emulator): void {
  machine = emu;
}

/**
 * Starts the guard for this process (once; a second call returns the first guard). For the
 * CLI's long-running commands (`qtest`, `dev`), which end on SIGINT and SIGTERM themselves.
 */
export function startExitGuard(o: ExitGuardOptions = {}): ExitGuard {
  if (active !== undefined) return active;
  const stderr = o.stderr ?? process.stderr;
  const beat = new Int32Array(new SharedArrayBuffer(4));
  const heartbeat = setInterval(() => Atomics.add(beat, 0, 1), HEARTBEAT_MS);
  heartbeat.unref();
  const what = (stack: string) => {
    try {
      if (o.describe !== undefined) return o.describe(stack);
      return machine === undefined ? undefined : describeRunning(machine, stack);
    } catch {
      return undefined;
    }
  };
  const g = globalThis as unknown as Record<symbol, unknown>;
  g[FORCE] = (signal: string) => {
    const running = what(new Error('exit guard').stack ?? '');
    stderr.write(
      `emuhost: ${signal}: exiting now${running === undefined ? '' : `; still running: ${running}`}\n`,
    );
    stopBuildService();
    // The inspector session from the guard's worker is still open; Node would print "Waiting
    // for the debugger to disconnect..." on the way out. Nothing is written after this line.
    try {
      closeSync(2);
    } catch {}
    process.exit(o.exitCode ?? 0);
  };
  g[STALLED] = (ms: number) => {
    const running = what(new Error('exit guard').stack ?? '');
    stderr.write(
      `emuhost: the machine has not returned to its event loop for ${(ms / 1000).toFixed(1)} s${running === undefined ? '' : `: ${running}`}. At the trusted and confined levels plugin code cannot be stopped; the isolated level stops it (its watchdog) and quarantines the device. Ctrl-C ends emuhost.\n`,
    );
  };
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: {
      beat,
      graceMs: o.graceMs ?? 500,
      stallMs: o.stallMs ?? 3000,
      force: FORCE.description,
      stalled: STALLED.description,
    },
  });
  worker.unref();
  worker.on('error', () => {});
  const guard: ExitGuard = {
    async stop() {
      clearInterval(heartbeat);
      active = undefined;
      await worker.terminate();
    },
  };
  active = guard;
  return guard;
}
