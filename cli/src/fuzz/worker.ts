/**
 * The worker side of the fuzzer's watchdog (watchdog.ts): opens a `Run` on a fresh machine,
 * answers with the generator's target, then runs the lines it is sent, storing the index of
 * each line in shared memory before it starts it. The main thread reads that index, and
 * terminates this worker when it stops moving for longer than the bound.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Combo } from './combos.js';
import { Run } from './runner.js';

export type ToWorker =
  | {
      readonly type: 'open';
      readonly combo: Combo;
      readonly boundMs: number;
      readonly hangOn?: string;
    }
  | { readonly type: 'run'; readonly lines: readonly string[] };

const progress = new Int32Array((workerData as { sab: SharedArrayBuffer }).sab);
let run: Run | undefined;

parentPort!.on('message', async (m: ToWorker) => {
  try {
    if (m.type === 'open') {
      run = await Run.open(m.combo, {
        boundMs: m.boundMs,
        ...(m.hangOn !== undefined && { hangOn: m.hangOn }),
      });
      parentPort!.postMessage({ type: 'target', target: run.target() });
      return;
    }
    const r = run!;
    run = undefined;
    let failure: ReturnType<Run['exec']>;
    for (const [i, l] of m.lines.entries()) {
      Atomics.store(progress, 0, i);
      Atomics.add(progress, 1, 1);
      failure = r.exec(l, i);
      if (failure !== undefined) break;
    }
    r.close();
    parentPort!.postMessage({
      type: 'done',
      failure,
      deviceFaults: r.deviceFaults,
      iommuFaults: r.iommuFaults,
      dmaOk: r.dmaOk,
    });
  } catch (e) {
    parentPort!.postMessage({ type: 'error', message: e instanceof Error ? e.stack : String(e) });
  }
});
