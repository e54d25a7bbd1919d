/**
 * The demo driver behind `emuhost run` and `npm start`: a guest OS in miniature, written
 * against the machine's hardware only (PCI config space, BARs, guest RAM, the VT-d register
 * block), run as a list of steps. Each step prints what it did and what the hardware answered;
 * the first check that does not hold ends the demo with what was expected.
 *
 * Steps are a list so that a step can be added where it belongs: an IOMMU swap (replace the
 * VT-d model under the running edu, translations intact) goes after the fault once the kernel
 * can swap models.
 */
import type { Emulator, LogLevel, LogSink } from '@emuhost/host';
import { DemoContext, type DemoStep } from './context.js';
import { dmaThroughIommu } from './dma.js';
import { eduBasics } from './edu-basics.js';
import { enumerate } from './enumerate.js';
import { iommuFault } from './fault.js';
import type { DemoTarget } from './machine.js';
import { programIommu } from './program-iommu.js';
import { DemoCheckFailed, formatNs, Reporter } from './report.js';
import { iommuStats } from './stats.js';

export const DEMO_STEPS: readonly DemoStep[] = [
  enumerate,
  eduBasics,
  programIommu,
  dmaThroughIommu,
  iommuFault,
  iommuStats,
];

export interface DemoOptions {
  readonly write: (text: string) => void;
  readonly color?: boolean;
  /** A first line saying what runs. */
  readonly title?: string;
  /** Plugin log lines, taken after each step and shown under it. */
  readonly log?: PluginLog;
  readonly steps?: readonly DemoStep[];
  /** `performance.now()` when the run began (default: when the steps begin). */
  readonly startedAt?: number;
}

/** Runs the steps on a built machine; true when every check held. */
export function runDemo(emu: Emulator, target: DemoTarget, opts: DemoOptions): boolean {
  const rep = new Reporter(opts.write, opts.color ?? false);
  const steps = opts.steps ?? DEMO_STEPS;
  const demo = new DemoContext(emu, target);
  const started = opts.startedAt ?? performance.now();
  if (opts.title !== undefined) rep.line(rep.paint('bold', opts.title));
  for (const [i, step] of steps.entries()) {
    const from = demo.drv.now;
    const out = rep.step();
    let failure: DemoCheckFailed | undefined;
    try {
      step.run(demo, out);
    } catch (e) {
      // A driver-level error (a BAR that does not size, a register that never settles) is a
      // failed step too, reported the same way.
      failure =
        e instanceof DemoCheckFailed
          ? e
          : new DemoCheckFailed(step.title, 'the step to complete', String(e));
    }
    for (const l of opts.log?.take() ?? []) out.note(l);
    rep.endStep(i + 1, step.title, from, demo.drv.now, failure);
    if (failure !== undefined) {
      rep.line();
      rep.line(rep.paint('red', `✗ demo failed at step ${i + 1} (${step.title})`));
      return false;
    }
  }
  const wall = ((performance.now() - started) / 1000).toFixed(2);
  rep.line();
  rep.line(
    rep.paint(
      'green',
      `✓ all ${steps.length} steps passed: ${formatNs(demo.drv.now)} of virtual time, ${wall} s of real time`,
    ),
  );
  return true;
}

/** Collects plugin log lines (edu's and VT-d's guest-error warnings) for the step output. */
export class PluginLog {
  private lines: string[] = [];

  readonly sink: LogSink = (level: LogLevel, source: string, message: string) => {
    if (level !== 'debug') this.lines.push(`log [${source}] ${level}: ${message}`);
  };

  take(): string[] {
    const l = this.lines;
    this.lines = [];
    return l;
  }
}
