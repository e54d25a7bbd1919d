/**
 * `emuhost run [machine-file]` (and `npm start`): builds a machine from a machine file —
 * cli/machines/demo.json unless told otherwise — exactly as any machine file is built, and
 * runs the demo driver on it (cli/src/demo/). Exit code 0 when every step's checks held.
 *
 * A machine that lacks what the demo drives (an edu device, a VT-d IOMMU translating it) and a
 * machine file that does not load are reported on stderr with exit code 1, before any step.
 */
import { relative } from 'node:path';
import {
  buildMachineSpec,
  formatDiagnostics,
  type MachineSpec,
  PluginHost,
  PluginLoadError,
  readMachineFile,
  watchFaults,
} from '@emuhost/host';
import { EmuhostError } from '@emuhost/sdk';
import { PluginLog, runDemo } from '../demo/demo.js';
import { DEMO_MACHINE_FILE, demoTarget } from '../demo/machine.js';
import { formatSize } from '../demo/report.js';

export interface RunIo {
  readonly stdout: { write(text: string): unknown; readonly isTTY?: boolean };
  readonly stderr: { write(text: string): unknown };
  /** Default: stdout is a TTY and NO_COLOR is not set. */
  readonly color?: boolean;
}

/** `emuhost run`: reads the machine file and runs the demo; resolves with the exit code. */
export async function runCommand(file: string | undefined, io: RunIo = process): Promise<number> {
  const path = file ?? DEMO_MACHINE_FILE;
  // `emuhost run | head`: a reader that stops early ends the run, quietly.
  if (io === process)
    process.stdout.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
      process.exit(process.exitCode ?? 0);
    });
  return reportErrors(io, async () =>
    runMachine(readMachineFile(path, { known: [] }), relative(process.cwd(), path) || path, io),
  );
}

/** Builds `spec` and runs the demo on it; `source` names it in messages. */
export async function runMachine(spec: MachineSpec, source: string, io: RunIo): Promise<number> {
  return reportErrors(io, async () => {
    const startedAt = performance.now();
    const log = new PluginLog();
    const emu = await buildMachineSpec(spec, new PluginHost(), { log: log.sink });
    watchFaults(emu, (text) => io.stderr.write(text));
    const target = demoTarget(emu, spec, source);
    const color = io.color ?? (io.stdout.isTTY === true && process.env.NO_COLOR === undefined);
    const ok = runDemo(emu, target, {
      write: (t) => io.stdout.write(t),
      color,
      log,
      startedAt,
      title: `emuhost demo: ${spec.machine}, ${formatSize(spec.ram)} RAM, ${target.edu} (edu) behind ${target.iommu} (VT-d) — ${source}`,
    });
    return ok ? 0 : 1;
  });
}

/** Host-side errors (a bad machine file, a plugin that does not load) as one clear message. */
async function reportErrors(io: RunIo, run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof PluginLoadError) io.stderr.write(`${formatDiagnostics(e.diagnostics)}\n`);
    else if (e instanceof EmuhostError) io.stderr.write(`emuhost: ${e.message}\n`);
    else throw e;
    return 1;
  }
}
