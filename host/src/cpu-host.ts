/**
 * CPU plugins in a machine: one instance per CPU the machine asks for, scheduled by the
 * kernel. A CPU plugin runs only at the trusted level (its per-instruction path touches guest
 * RAM directly; a membrane there would cost more than the instruction), so its context is the
 * kernel's objects with thin checks, not facades that copy.
 */
import type { Machine, ScheduledCpu } from '@emuhost/core';
import {
  type CpuContext,
  type CpuHandle,
  type CpuModel,
  type CpuTrace,
  type CpuTraceKind,
  EmuhostError,
  type OptionValue,
  type SavedState,
} from '@emuhost/sdk';
import type { LoadedPlugin } from './loaded-plugin.js';
import { createLogger, type LogSink, stderrSink } from './log.js';
import { resolveOptions } from './options.js';

/** Where CPU trace lines go, and which kinds were asked for (`--trace cpu`, `-d in_asm,int`). */
export interface CpuTraceOptions {
  readonly kinds: ReadonlySet<CpuTraceKind>;
  readonly sink: (cpu: string, kind: CpuTraceKind, text: string) => void;
}

export interface AddCpuOptions {
  readonly id: string;
  readonly index: number;
  /** The machine's props for the CPU. */
  readonly props?: Readonly<Record<string, OptionValue>>;
  /** The user's `-cpu model,key=value` options; they win over `props`. */
  readonly options?: Readonly<Record<string, OptionValue>>;
  readonly log?: LogSink;
  readonly trace?: CpuTraceOptions;
  /** Saved state to resume from (a snapshot). */
  readonly state?: SavedState;
  /** What the CPU's `halt(reason)` does: the emulator ends the run with that message. */
  readonly onHalt?: (cpu: string, reason: string) => void;
}

/** A CPU running in a machine. */
export class RunningCpu {
  constructor(
    readonly id: string,
    readonly index: number,
    readonly plugin: LoadedPlugin,
    readonly scheduled: ScheduledCpu,
  ) {}

  get model(): CpuModel {
    return this.scheduled.model;
  }

  /** The CPU's state, versioned by its plugin. */
  saveState(): SavedState {
    return {
      version: this.plugin.definition.stateVersion ?? 1,
      data: this.model.saveState?.(),
    };
  }

  /** What the machine plugin that made it holds. */
  handle(): CpuHandle {
    const inputs = this.plugin.definition.irqInputs ?? [];
    const model = this.model;
    const who = { plugin: this.plugin.manifest.id, device: this.id };
    return Object.freeze({
      id: this.id,
      index: this.index,
      arch: this.plugin.definition.arch ?? '',
      info: Object.freeze({ ...model.info }),
      irq: (name: string) => {
        const i = inputs.indexOf(name);
        if (i < 0)
          throw new EmuhostError(
            'E_UNKNOWN_ID',
            `CPU '${who.plugin}' has no interrupt input '${name}' (inputs: ${inputs.join(', ')})`,
            who,
          );
        return (level: 0 | 1) => model.setIrq(i, level ? 1 : 0);
      },
    });
  }
}

export function addCpu(machine: Machine, plugin: LoadedPlugin, opts: AddCpuOptions): RunningCpu {
  const def = plugin.definition;
  const pluginId = plugin.manifest.id;
  if (def.kind !== 'cpu')
    throw new EmuhostError('E_BAD_ARGUMENT', `'${pluginId}' is a ${def.kind} plugin, not a CPU`, {
      plugin: pluginId,
    });
  const who = { plugin: pluginId, device: opts.id };
  // The user's options are checked against the plugin's spec on their own first, so that a
  // typo names the user's argument, then merged over the machine's props.
  resolveOptions(def.options, opts.options ?? {}, who);
  const options = resolveOptions(def.options, { ...opts.props, ...opts.options }, who);
  let state: unknown;
  if (opts.state !== undefined) {
    const want = def.stateVersion ?? 1;
    state =
      opts.state.version === want
        ? opts.state.data
        : def.migrates
          ? plugin.realm.migrateState(opts.state.version, opts.state.data)
          : undefined;
    if (state === undefined)
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `CPU state version ${opts.state.version} cannot be restored by '${pluginId}' (state version ${want}, no migration)`,
        who,
      );
  }
  const log = createLogger(opts.log ?? stderrSink, `${pluginId}:${opts.id}`);
  const trace: CpuTrace | undefined =
    opts.trace === undefined || opts.trace.kinds.size === 0
      ? undefined
      : Object.freeze({
          kinds: opts.trace.kinds,
          line: (kind: CpuTraceKind, text: string) => opts.trace!.sink(opts.id, kind, text),
        });
  const scheduled = machine.addCpu(opts.id, ({ memory, clock }) => {
    const ctx: CpuContext = Object.freeze({
      id: opts.id,
      index: opts.index,
      options,
      log,
      memory,
      clock,
      trace,
      halt: (reason: string) => {
        log.error(reason);
        opts.onHalt?.(opts.id, String(reason));
      },
    });
    return plugin.realm.createCpu(ctx, state);
  });
  return new RunningCpu(opts.id, opts.index, plugin, scheduled);
}
