/**
 * Hot reload: replacing the plugin instance that serves a running device with one made from
 * new code, while the machine keeps running.
 *
 * The pre-flight (manifest, SDK range, evaluating the new bundle) is the plugin host's load
 * (`PluginHost.loadFile(..., { replace: true })`); a failure there never reaches this file and
 * the old instance keeps running. Then, per device, between two events:
 *
 * 1. quiesce: refused (`ReloadError`, reason `in-callback`) while any device callback runs;
 * 2. save the old instance's state through the SDK's state contract, dispose the old instance
 *    and revoke every handle it held (a leaked closure gets `E_REVOKED`, never the machine);
 * 3. create the new instance from that state on the same device slot: its regions, BARs, IRQ
 *    lines and named timers are found again by name (timers keep their deadlines, IRQ levels
 *    are re-asserted), and the DMA context with its mappings stays the kernel's: the new
 *    instance adopts the live mappings (`dma.adoptMappings`) and those it does not are released
 *    with a warning. Another state version goes through the plugin's `migrateState`; without
 *    one the device starts fresh (pending timers cancelled, interrupts lowered, PCI
 *    configuration kept) with a warning.
 *    When `create` throws, the old code is created again from the same state (rollback);
 * 4. resume, with a report and the `reload` hooks called for each phase.
 */
import type { Timer } from '@emuhost/core';
import { EmuhostError, type ErrorCode, type ErrorContext, type SavedState } from '@emuhost/sdk';
import type { RunningDevice } from './device-host.js';
import type { Emulator } from './emulator.js';
import type { ReloadHooks } from './hooks.js';
import type { LoadedPlugin } from './loaded-plugin.js';
import { migrateState } from './state.js';

/** What a reload hook receives for one device. */
export interface ReloadPhase {
  readonly device: string;
  readonly plugin: string;
  /** The old and new plugin versions (manifest `version`). */
  readonly from: string;
  readonly to: string;
  /** The saved state, from the `saved` phase on (undefined when the device starts fresh). */
  readonly state?: SavedState | undefined;
}

export interface ReloadFailure extends ReloadPhase {
  readonly error: Error;
}

export interface ReloadReport {
  readonly device: string;
  readonly plugin: string;
  /** Plugin version before and after (after a rollback, `to` is the old version again). */
  readonly from: string;
  readonly to: string;
  /** `reloaded`: the new code serves the device; `rolled-back`: the old code does, same state. */
  readonly outcome: 'reloaded' | 'rolled-back';
  readonly stateVersion: { readonly from: number; readonly to: number };
  /** What happened to the device's state: used as is, migrated, or dropped (device reset). */
  readonly state: 'kept' | 'migrated' | 'reset';
  readonly ms: { readonly total: number; readonly quiesceToResume: number };
  readonly warnings: readonly string[];
  /** Why the reload rolled back. */
  readonly error?: Error;
}

export type ReloadErrorReason =
  | 'in-callback'
  | 'unknown-device'
  | 'not-a-device'
  | 'rollback-failed';

/** A reload that could not start, or whose rollback failed too. */
export class ReloadError extends EmuhostError {
  constructor(
    readonly reason: ReloadErrorReason,
    code: ErrorCode,
    message: string,
    context: ErrorContext = {},
  ) {
    super(code, message, context);
  }
}

export interface ReloadOptions {
  /** Called for each phase (e.g. `PluginHost.hooks.reload`). */
  readonly hooks?: ReloadHooks;
}

/**
 * Reloads one device (by device id, or by plugin id when exactly one device runs that plugin)
 * onto `plugin`. Returns the report; a failing `create` rolls back and reports `rolled-back`.
 */
export function reloadDevice(
  emu: Emulator,
  target: string,
  plugin: LoadedPlugin,
  opts: ReloadOptions = {},
): ReloadReport {
  let dev = emu.devices.get(target);
  if (dev === undefined) {
    const of = [...emu.devices.values()].filter((d) => d.plugin.manifest.id === target);
    if (of.length > 1)
      throw new ReloadError(
        'unknown-device',
        'E_BAD_ARGUMENT',
        `${of.length} devices run '${target}': name one (${of.map((d) => d.id).join(', ')}) or use reloadPlugin`,
        { plugin: target },
      );
    dev = of[0];
  }
  if (dev === undefined)
    throw new ReloadError('unknown-device', 'E_UNKNOWN_ID', `no device or plugin '${target}'`, {
      device: target,
    });
  checkQuiescent(emu, dev.id);
  return reloadOne(dev, plugin, opts);
}

/**
 * Reloads every device that runs a plugin with `plugin`'s id. The old plugin's realm is
 * disposed once no device of `emu` runs on it any more.
 */
export function reloadPlugin(
  emu: Emulator,
  plugin: LoadedPlugin,
  opts: ReloadOptions = {},
): ReloadReport[] {
  const id = plugin.manifest.id;
  const devices = [...emu.devices.values()].filter((d) => d.plugin.manifest.id === id);
  checkQuiescent(emu, devices[0]?.id);
  const olds = new Set(devices.map((d) => d.plugin));
  const reports = devices.map((d) => reloadOne(d, plugin, opts));
  for (const old of olds) {
    if (old === plugin) continue;
    if (![...emu.devices.values()].some((d) => d.plugin === old)) old.realm.dispose();
  }
  return reports;
}

/** One line for a terminal: what changed, how long it took, the state version. */
export function formatReloadReport(r: ReloadReport): string {
  const sv =
    r.stateVersion.from === r.stateVersion.to
      ? `state v${r.stateVersion.to}`
      : `state v${r.stateVersion.from} -> v${r.stateVersion.to}`;
  const what =
    r.outcome === 'reloaded'
      ? `${r.plugin} ${r.from} -> ${r.to}`
      : `${r.plugin} ${r.from}: rolled back (${firstLine(r.error)})`;
  const ms = `${r.ms.total.toFixed(1)} ms (quiesce-to-resume ${r.ms.quiesceToResume.toFixed(1)} ms)`;
  const warn = r.warnings.length > 0 ? `; warning: ${r.warnings.join('; ')}` : '';
  return `reload ${r.device}: ${what}, ${sv} ${r.state}, ${ms}${warn}`;
}

/**
 * A thrown value as a host `Error`. A trusted plugin's errors come from its own realm (not
 * `instanceof Error` here): their message and stack are kept, so the report can name the
 * plugin's source line.
 */
export function asHostError(e: unknown): Error {
  if (e instanceof Error) return e;
  const x = e as { message?: unknown; stack?: unknown } | null;
  if (typeof x?.message !== 'string') return new Error(String(e));
  const error = new Error(x.message);
  if (typeof x.stack === 'string') error.stack = x.stack;
  return error;
}

function firstLine(e: Error | undefined): string {
  return (e?.message ?? 'unknown error').split('\n')[0]!;
}

/** Quiesce means between two events: no device callback may be running. */
function checkQuiescent(emu: Emulator, device: string | undefined): void {
  const id = emu.machine.busyDevice;
  if (id !== undefined)
    throw new ReloadError(
      'in-callback',
      'E_BAD_ARGUMENT',
      `a reload cannot run inside a device callback (${id}'s is running): reload between events`,
      device === undefined ? {} : { device },
    );
}

interface TimerMark {
  readonly timer: Timer;
  readonly pending: boolean;
  readonly deadline: number;
}

function reloadOne(dev: RunningDevice, plugin: LoadedPlugin, opts: ReloadOptions): ReloadReport {
  const t0 = performance.now();
  const hooks = opts.hooks;
  const old = { plugin: dev.plugin, model: dev.model, life: dev.life };
  const pluginId = old.plugin.manifest.id;
  if (plugin.definition.kind !== 'device' || plugin.manifest.id !== pluginId) {
    throw new ReloadError(
      'not-a-device',
      'E_BAD_ARGUMENT',
      `device ${dev.id} runs '${pluginId}'; '${plugin.manifest.id}' (${plugin.definition.kind}) cannot replace it`,
      { device: dev.id, plugin: plugin.manifest.id },
    );
  }
  const slot = dev.slot;
  const guard = slot.scope.guard;
  const warnings: string[] = [];
  const phase = (state?: SavedState): ReloadPhase => ({
    device: dev.id,
    plugin: pluginId,
    from: old.plugin.manifest.version,
    to: plugin.manifest.version,
    state,
  });

  // 1. Quiesce (the caller checked that no callback runs) and save.
  const tq = performance.now();
  hooks?.quiesce.call(phase());
  let saved: SavedState | undefined;
  if (guard.quarantined) {
    warnings.push('the device was quarantined: it starts fresh (reset)');
  } else {
    try {
      saved = dev.saveState();
    } catch (e) {
      warnings.push(`${firstLine(e as Error)}: the device starts fresh (reset)`);
    }
  }
  hooks?.saved.call(phase(saved));

  // What the kernel holds for the device now, to put back exactly on a rollback.
  const timers: TimerMark[] = [...slot.timers.values()].map(({ timer }) => ({
    timer,
    pending: timer.pending,
    deadline: timer.deadline,
  }));
  const intx = slot.pci?.intxLevel;
  const lines = [...slot.irqLines].map(([name, line]) => ({ name, line, level: line.level }));
  const reassert = () => {
    if (intx !== undefined && slot.pci!.intxLevel !== intx) slot.pci!.setIntx(intx);
    for (const l of lines) if (l.line.level !== l.level) l.line.set(l.level);
  };

  // 2. Dispose the old instance and revoke its handles.
  if (old.model.dispose !== undefined && !guard.quarantined) {
    if (!guard.run('deferred', () => old.model.dispose?.()))
      warnings.push(`dispose failed: ${firstLine(guard.lastFault?.error as Error)}`);
  }
  old.life.revoke();
  if (guard.quarantined) slot.scope.restart();
  hooks?.disposed.call(phase(saved));

  // 3. The new instance, on the same slot (it starts from what it claims: PluginSlot).
  const freshStart = () => {
    for (const t of slot.timers.values()) t.timer.cancel();
    if (slot.pci !== undefined && slot.pci.intxLevel !== 0) slot.pci.setIntx(0);
    for (const l of lines) l.line.set(0);
  };
  if (saved === undefined) freshStart();
  const fromVersion = saved?.version ?? old.plugin.definition.stateVersion ?? 1;
  const toVersion = plugin.definition.stateVersion ?? 1;
  let state: ReloadReport['state'] = saved === undefined ? 'reset' : 'kept';
  let outcome: ReloadReport['outcome'] = 'reloaded';
  let error: Error | undefined;
  try {
    let input = saved;
    if (saved !== undefined && saved.version !== toVersion) {
      const dropped: string[] = [];
      const data = migrateState(plugin.definition, plugin.realm, saved, dropped);
      warnings.push(...dropped);
      if (dropped.length > 0) {
        // No migration: the instance starts from nothing, and so does what the kernel kept.
        state = 'reset';
        input = undefined;
        freshStart();
      } else {
        state = 'migrated';
        input = { version: toVersion, data };
      }
    }
    const made = dev.createInstance(plugin, input);
    dev.adopt(plugin, made.model, made.life);
    warnings.push(...made.warnings);
    if (state !== 'reset') reassert();
    hooks?.created.call(phase(saved));
  } catch (e) {
    // Rollback: the old code, created again from the same state, the kernel as it was.
    error = asHostError(e);
    outcome = 'rolled-back';
    state = saved === undefined ? 'reset' : 'kept';
    warnings.push(`create failed, rolled back to ${pluginId} ${old.plugin.manifest.version}`);
    hooks?.rolledBack.call({ ...phase(saved), error });
    for (const m of timers) {
      if (m.pending) m.timer.armAt(m.deadline);
      else m.timer.cancel();
    }
    try {
      const made = dev.createInstance(old.plugin, saved);
      dev.adopt(old.plugin, made.model, made.life);
      if (saved !== undefined) reassert();
    } catch (e2) {
      throw new ReloadError(
        'rollback-failed',
        'E_DEVICE_REALIZE',
        `reload failed (${firstLine(error)}) and so did the rollback (${firstLine(e2 as Error)})`,
        { device: dev.id, plugin: pluginId },
      );
    }
  }

  // 4. Resume.
  const t1 = performance.now();
  const report: ReloadReport = {
    device: dev.id,
    plugin: pluginId,
    from: old.plugin.manifest.version,
    to: dev.plugin.manifest.version,
    outcome,
    stateVersion: {
      from: fromVersion,
      to: outcome === 'reloaded' ? toVersion : (old.plugin.definition.stateVersion ?? 1),
    },
    state,
    ms: { total: t1 - t0, quiesceToResume: t1 - tq },
    warnings,
    ...(error !== undefined && { error }),
  };
  hooks?.resumed.call(report);
  return report;
}
