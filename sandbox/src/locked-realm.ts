/**
 * The locked realm: one `node:vm` context per process in which SES `lockdown()` has run,
 * with the membrane evaluated in it. Lockdown happens there, not in the host realm, so the
 * kernel, esbuild and vitest keep their speed (lockdown makes indexed typed-array stores
 * ~40x slower in the realm it freezes) and keep a mutable realm of their own.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import vm from 'node:vm';
import { type Membrane, makeMembrane } from './membrane.js';
import { stackFilterScript } from './stack-filter.js';

export interface LockedRealm {
  readonly context: vm.Context;
  /** Creates a compartment in the realm (SES's `Compartment`), with no endowments. */
  newCompartment(name: string): Compartment;
  readonly membrane: Membrane;
  readonly harden: <T>(x: T) => T;
  /** A `require` made in the realm that answers `spec` with `sdk` and refuses anything else. */
  makeRequire(sdk: unknown, who: string, spec: string): unknown;
  /**
   * Runs the realm's pending promise jobs, and those they queue, to the end (with
   * `ownMicrotasks`; otherwise they run on the event loop and this does nothing). A plugin that
   * queues jobs for ever never returns from it: the isolated level's watchdog ends it.
   */
  drainMicrotasks(): void;
}

/** The slice of SES's Compartment we use. */
export interface Compartment {
  evaluate(code: string): unknown;
  readonly globalThis: Record<string, unknown>;
}

let shared: LockedRealm | undefined;

/** The process's locked realm, made on first use and shared by every confined plugin. */
export function lockedRealm(): LockedRealm {
  shared ??= createLockedRealm();
  return shared;
}

/** Where SES's UMD build is (the realm evaluates it as a script). */
export function sesFile(): string {
  return createRequire(import.meta.url)
    .resolve('ses/package.json')
    .replace(/package\.json$/, 'dist/ses.umd.js');
}

/**
 * A new locked realm (~30 ms: a vm context, SES, lockdown, the membrane). The isolated
 * level's worker makes its own with the SES file path it was given (a worker evaluated from
 * a string cannot resolve packages), with `ownMicrotasks`: promise jobs of the realm wait in
 * a queue of its own until `drainMicrotasks` runs them (the worker never returns to its event
 * loop, where they would otherwise run).
 */
export function createLockedRealm(
  ses: string = sesFile(),
  name = 'emuhost-locked',
  opts: { ownMicrotasks?: boolean } = {},
): LockedRealm {
  const context = vm.createContext(Object.create(null), {
    name,
    codeGeneration: { strings: true, wasm: false },
    ...(opts.ownMicrotasks === true && { microtaskMode: 'afterEvaluate' as const }),
  });
  vm.runInContext(readFileSync(ses, 'utf8'), context, { filename: 'ses.umd.js' });
  // errorTaming 'unsafe' keeps stacks on errors (plugin authors need them); they are the
  // realm's errors, so nothing of the host leaks through them.
  vm.runInContext(
    "lockdown({ errorTaming: 'unsafe', stackFiltering: 'verbose', overrideTaming: 'severe', consoleTaming: 'unsafe', evalTaming: 'safe-eval', domainTaming: 'unsafe' })",
    context,
  );
  // Stacks made in the realm show plugin frames only (stack-filter.ts); in the start
  // compartment `Error` is SES's, which hands the filter its safe copies of the call sites.
  vm.runInContext(stackFilterScript(), context, { filename: 'emuhost-stack-filter.js' });
  const harden = vm.runInContext('harden', context) as <T>(x: T) => T;
  const make = vm.runInContext(`(${makeMembrane.toString()})`, context, {
    filename: 'emuhost-membrane.js',
  }) as typeof makeMembrane;
  const membrane = make(harden);
  const Comp = vm.runInContext('Compartment', context) as new (opts: object) => Compartment;
  const makeRequire = vm.runInContext(
    `(function (sdk, who, spec) {
      return harden(function require(id) {
        if (id === spec) return sdk;
        throw new Error(who + ' may require only ' + spec + ", not '" + String(id) + "'");
      });
    })`,
    context,
  ) as LockedRealm['makeRequire'];
  // Evaluating a script in a context with its own queue runs the queue after it (Node's
  // `afterEvaluate`): an empty script is the drain.
  const drain = new vm.Script('undefined', { filename: 'emuhost-drain.js' });
  return {
    context,
    membrane,
    harden,
    newCompartment: (name) => new Comp({ __options__: true, name }),
    makeRequire,
    drainMicrotasks: () => {
      if (opts.ownMicrotasks === true) drain.runInContext(context);
    },
  };
}
