/**
 * The fuzzer's watchdog: runs sequences in a `worker_threads` Worker (one reused across
 * sequences, a fresh one after a kill) while the main thread watches. The worker stores the
 * index of each line in shared memory before it starts it; when that stops moving for longer
 * than the bound, the main thread terminates the worker and reports a `hang` at that line.
 * So a line that never returns (a plugin callback or a kernel loop that does not end) is a
 * failure with a script, not a fuzzer that hangs.
 *
 * The worker entry (worker.ts) is TypeScript: it is bundled with esbuild the way
 * scripts/ts-entry.mjs bundles the CLI (workspace packages inlined under the `emuhost-source`
 * condition, third-party ones external) into cli/node_modules/.cache/emuhost-run/, so the
 * same file starts under vitest (sources) and under the CLI (itself a bundle). An installed
 * package runs the worker its build made (dist/fuzz/worker.js).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { build } from 'esbuild';
import type { Combo } from './combos.js';
import type { Target } from './ops.js';
import type { Failure } from './runner.js';
import type { ToWorker } from './worker.js';

/** Time a worker gets to start and build a machine before the first answer. */
const BOOT_MS = 30_000;

function cliDir(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(d, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === '@emuhost/cli') return d;
    const up = dirname(d);
    if (up === d) throw new Error('emuhost fuzz: cannot find the @emuhost/cli package');
    d = up;
  }
}

let bundled: Promise<string> | undefined;

function workerFile(): Promise<string> {
  bundled ??= (async () => {
    const dir = cliDir();
    // An installed @emuhost/cli has no sources, and its built worker runs as it is.
    const source = join(dir, 'src', 'fuzz', 'worker.ts');
    if (!existsSync(source)) return join(dir, 'dist', 'fuzz', 'worker.js');
    const outDir = join(dir, 'node_modules', '.cache', 'emuhost-run');
    mkdirSync(outDir, { recursive: true });
    const outfile = join(outDir, 'fuzz-worker.mjs');
    const out = await build({
      write: false,
      entryPoints: [source],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      sourcemap: 'inline',
      conditions: ['emuhost-source'],
      logLevel: 'warning',
      plugins: [
        {
          name: 'external-node-modules',
          setup(b) {
            b.onResolve({ filter: /^[^./]/ }, (a) =>
              a.path.startsWith('@emuhost/') ? undefined : { path: a.path, external: true },
            );
          },
        },
      ],
    });
    // Written under a temporary name and renamed: concurrent runs never see half a file.
    const tmp = `${outfile}.${process.pid}.tmp`;
    writeFileSync(tmp, out.outputFiles[0]!.text);
    renameSync(tmp, outfile);
    return outfile;
  })();
  return bundled;
}

export interface WatchdogOptions {
  /** Longest a single line may take, in ms (the runner's bound). Default 2000. */
  readonly boundMs?: number;
  /** The runner's debug hook (see RunnerOptions.hangOn). */
  readonly hangOn?: string;
}

export interface WatchedRun {
  readonly failure?: Failure;
  readonly deviceFaults: number;
  readonly iommuFaults: number;
  readonly dmaOk: number;
}

type FromWorker =
  | { type: 'target'; target: Target }
  | ({ type: 'done' } & WatchedRun)
  | { type: 'error'; message: string };

export class Watchdog {
  private worker: Worker | undefined;
  private readonly sab = new SharedArrayBuffer(8);
  private readonly progress = new Int32Array(this.sab);
  private readonly boundMs: number;

  constructor(private readonly opts: WatchdogOptions = {}) {
    this.boundMs = opts.boundMs ?? 2000;
  }

  private async start(): Promise<Worker> {
    if (this.worker !== undefined) return this.worker;
    const file = await workerFile();
    const w = new Worker(pathToFileURL(file), { workerData: { sab: this.sab } });
    w.unref();
    this.worker = w;
    return w;
  }

  /**
   * Sends `m` and waits for the answer. `watch`: terminate the worker when the line index
   * stops moving for longer than the bound (and answer undefined); otherwise wait BOOT_MS.
   */
  private async ask(m: ToWorker, watch: boolean): Promise<FromWorker | undefined> {
    const w = await this.start();
    return new Promise((resolve, reject) => {
      let seen = Atomics.load(this.progress, 1);
      let since = performance.now();
      const t0 = since;
      // Ends the wait: `kill` terminates the worker (the next ask starts a fresh one).
      const done = (kill: boolean, settle: () => void) => {
        clearInterval(timer);
        w.off('message', onMessage);
        w.off('error', onError);
        w.off('exit', onExit);
        if (kill) {
          this.worker = undefined;
          void w.terminate();
        }
        settle();
      };
      const onMessage = (a: FromWorker) => done(false, () => resolve(a));
      const onError = (e: Error) => done(true, () => reject(e));
      const onExit = (code: number) =>
        done(true, () => reject(new Error(`the fuzz worker exited (${code})`)));
      const timer = setInterval(
        () => {
          const now = performance.now();
          if (!watch) {
            if (now - t0 > BOOT_MS)
              done(true, () =>
                reject(new Error(`the fuzz worker gave no answer in ${BOOT_MS} ms`)),
              );
            return;
          }
          const n = Atomics.load(this.progress, 1);
          if (n !== seen) {
            seen = n;
            since = now;
          } else if (now - since > this.boundMs) done(true, () => resolve(undefined));
        },
        Math.max(10, Math.min(100, this.boundMs / 4)),
      );
      w.on('message', onMessage);
      w.on('error', onError);
      w.on('exit', onExit);
      w.postMessage(m);
    });
  }

  /** Opens a fresh machine of `combo` in the worker: the generator's target. */
  async open(combo: Combo): Promise<Target> {
    const a = await this.ask(
      {
        type: 'open',
        combo,
        boundMs: this.boundMs,
        ...(this.opts.hangOn !== undefined && { hangOn: this.opts.hangOn }),
      },
      false,
    );
    if (a?.type !== 'target')
      throw new Error(`the fuzz worker failed: ${a?.type === 'error' ? a.message : ''}`);
    return a.target;
  }

  /** Runs `lines` on the machine `open` made, until the first failure (a hang included). */
  async run(lines: readonly string[]): Promise<WatchedRun> {
    Atomics.store(this.progress, 0, 0);
    const a = await this.ask({ type: 'run', lines }, true);
    if (a === undefined) {
      const index = Atomics.load(this.progress, 0);
      const failure: Failure = {
        kind: 'hang',
        index,
        line: lines[index] ?? '',
        detail: `no answer within ${this.boundMs} ms: the line never returned (the watchdog terminated the worker)`,
      };
      return { failure, deviceFaults: 0, iommuFaults: 0, dmaOk: 0 };
    }
    if (a.type !== 'done')
      throw new Error(`the fuzz worker failed: ${a.type === 'error' ? a.message : ''}`);
    return a;
  }

  /** Runs `lines` on a fresh machine of `combo`: the first failure, or undefined. */
  async replay(combo: Combo, lines: readonly string[]): Promise<Failure | undefined> {
    await this.open(combo);
    return (await this.run(lines)).failure;
  }

  close(): void {
    const w = this.worker;
    this.worker = undefined;
    if (w !== undefined) void w.terminate();
  }
}
