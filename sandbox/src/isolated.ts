/**
 * The isolated level (for untrusted plugins): each plugin in a worker thread with resource
 * limits, SES inside it, reached over a synchronous RPC channel. A plugin that loops for ever
 * or allocates without bound cannot stop the machine: every call into the worker waits at
 * most `timeoutMs`, and then the watchdog terminates the worker, the call fails, and the
 * kernel quarantines the device (heap exhaustion ends the worker alone, seen the same way).
 *
 * The price is the round trip: a synchronous call into the worker costs tens of
 * microseconds (`sandbox.call.isolated.us`), against nanoseconds at the other levels. Devices
 * suited to it do their work in timers and DMA rather than per register access: descriptor
 * rings, doorbells, interrupts. See sandbox/DESIGN.md.
 */

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { buildSync } from 'esbuild';
import { sesFile } from './locked-realm.js';
import type { PluginDescription, PluginRealm } from './realm.js';
import { ChannelClosedError, createChannelBuffers, Endpoint } from './rpc.js';

export interface IsolatedOptions {
  /** The watchdog: how long one call into the plugin may take, in ms. Default 1000. */
  readonly timeoutMs?: number;
  /** Worker heap limits (MB). Default: 64 old generation, 16 young. */
  readonly maxOldGenerationSizeMb?: number;
  readonly maxYoungGenerationSizeMb?: number;
  /** Called (once) when the watchdog or a crash ends the worker. */
  readonly onTerminated?: (why: string) => void;
}

interface WorkerApi {
  evaluate(code: string, filename: string, sdkCode: string): PluginDescription;
  createDevice(ctx: unknown, state: unknown): never;
  createIommu(ctx: unknown, state: unknown): never;
  migrateState(from: number, data: unknown): unknown;
}

let workerCode: string | undefined;

function bundleWorker(): string {
  if (workerCode !== undefined) return workerCode;
  const dir = dirname(createRequire(import.meta.url).resolve('@emuhost/sandbox/package.json'));
  // The sources in a checkout of the repository, the built entry in an installed package.
  const source = join(dir, 'src', 'isolated-worker.ts');
  const out = buildSync({
    entryPoints: [existsSync(source) ? source : join(dir, 'dist', 'isolated-worker.js')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    write: false,
    logLevel: 'silent',
  });
  workerCode = out.outputFiles[0]!.text;
  return workerCode;
}

/** Time the worker gets to start (a fresh V8 isolate plus SES lockdown) before the first answer. */
const BOOT_MS = 10_000;

export function createIsolatedRealm(opts: IsolatedOptions = {}): PluginRealm {
  const timeoutMs = opts.timeoutMs ?? 1000;
  const buffers = createChannelBuffers();
  const worker = new Worker(bundleWorker(), {
    eval: true,
    workerData: { sab: buffers.sab, sesFile: sesFile() },
    resourceLimits: {
      maxOldGenerationSizeMb: opts.maxOldGenerationSizeMb ?? 64,
      maxYoungGenerationSizeMb: opts.maxYoungGenerationSizeMb ?? 16,
      stackSizeMb: 4,
    },
  });
  worker.unref();
  let ended: string | undefined;
  const end = (why: string) => {
    if (ended !== undefined) return;
    ended = why;
    void worker.terminate();
    opts.onTerminated?.(why);
  };
  worker.on('error', (e) => end(`the worker failed: ${e.message}`));
  worker.on('exit', () => end('the worker exited'));
  const ep = new Endpoint(buffers, {
    side: 0,
    timeoutMs: BOOT_MS,
    onTimeout: () => end(`it did not return within the watchdog bound (${timeoutMs} ms)`),
  });
  const api = ep.remote<WorkerApi>(1, false);
  const guarded = <T>(f: () => T): T => {
    if (ended !== undefined) throw new ChannelClosedError(`the isolated plugin is gone: ${ended}`);
    return f();
  };
  return {
    level: 'isolated',
    evaluate(code, o) {
      // The first call also waits for the worker to boot; later calls get the watchdog bound.
      const exported = guarded(() => api.evaluate(code, o.filename, o.sdkCode));
      (ep as unknown as { opts: { timeoutMs: number } }).opts.timeoutMs = timeoutMs;
      return exported;
    },
    createDevice: (ctx, state) => guarded(() => api.createDevice(ctx, state)),
    createIommu: (ctx, state) => guarded(() => api.createIommu(ctx, state)),
    createMachine: () => {
      throw new Error('machine plugins build the whole machine and run only at the trusted level');
    },
    createCpu: () => {
      throw new Error(
        'CPU plugins reach guest RAM directly on every instruction and run only at the trusted level',
      );
    },
    migrateState: (from, data) => guarded(() => api.migrateState(from, data)),
    dispose() {
      end('disposed');
    },
    get ended() {
      return ended;
    },
  };
}
