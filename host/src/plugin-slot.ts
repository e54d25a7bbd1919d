/**
 * What a running device and a running IOMMU share: a kernel slot (regions, IRQ lines,
 * timers, DMA contexts) that outlives the plugin instance on it. An instance is made from
 * (possibly migrated) saved state with a lifetime and logger of its own, and becomes current
 * by `adopt`, which revokes the previous instance's handles. Restart, hot reload and IOMMU
 * reload replace instances through these two steps.
 */
import type { Machine } from '@emuhost/core';
import { PLUGIN_SCRIPT_PREFIX } from '@emuhost/sandbox';
import {
  type DeviceContext,
  EmuhostError,
  type Logger,
  type Options,
  type SavedState,
} from '@emuhost/sdk';
import { createDeviceContext } from './facades/device-context.js';
import type { DeviceSlot } from './facades/device-slot.js';
import { Lifetime } from './facades/lifetime.js';
import { pluginFrames } from './fault-report.js';
import type { LoadedPlugin } from './loaded-plugin.js';
import { createLogger, type LogSink } from './log.js';
import { migrateState } from './state.js';

/** What an instance's `create` is given: the handles of a fresh lifetime, and its state. */
export interface InstanceParts {
  readonly ctx: DeviceContext;
  readonly life: Lifetime;
  readonly log: Logger;
  readonly restored: unknown;
}

export interface CreatedInstance<M> {
  readonly model: M;
  readonly life: Lifetime;
  /** E.g. state dropped for want of a migration. */
  readonly warnings: string[];
}

export abstract class PluginSlot<M extends { saveState?(): unknown; dispose?(): void }> {
  /** The instance serving the slot now. */
  model!: M;
  life!: Lifetime;

  constructor(
    readonly id: string,
    public plugin: LoadedPlugin,
    readonly slot: DeviceSlot,
    protected readonly machine: Machine,
    readonly options: Options,
    protected readonly sink: LogSink,
  ) {}

  /**
   * Creates an instance of `plugin` on this slot from `state` (migrated if its version
   * differs), without making it current. Throws what `create` throws, the new handles
   * revoked first; the caller decides whether that rolls back.
   */
  protected instantiate(
    plugin: LoadedPlugin,
    state: SavedState | undefined,
    what: string,
    create: (parts: InstanceParts) => unknown,
  ): CreatedInstance<M> {
    const warnings: string[] = [];
    const restored =
      state === undefined
        ? undefined
        : migrateState(plugin.definition, plugin.realm, state, warnings);
    const life = new Lifetime(plugin.manifest.id, this.id);
    const log = createLogger(this.sink, `${plugin.manifest.id}:${this.id}`);
    for (const w of warnings) log.warn(w);
    const { ctx } = createDeviceContext({
      machine: this.machine,
      slot: this.slot,
      life,
      capabilities: plugin.manifest.capabilities,
      options: this.options,
      log,
    });
    // The new instance starts from what it claims: timers and config listeners unbound, the
    // previous instance's mappings its to adopt. A failing create puts everything back.
    const rebind = this.slot.bindings();
    this.slot.unbind();
    const dma = this.slot.scope.dmaContexts;
    const before = new Set(dma.flatMap((c) => [...c.mappings]));
    for (const c of dma) c.disownMappings();
    const warn = (w: string) => {
      log.warn(w);
      warnings.push(w);
    };
    try {
      const model = create({ ctx, life, log, restored });
      if (model === null || typeof model !== 'object')
        throw new Error(`create must return an object (the ${what} model)`);
      const released = dma.reduce((n, c) => n + c.releaseOrphans(), 0);
      if (released > 0)
        warn(
          `${released} DMA mapping${released === 1 ? '' : 's'} of the previous instance ${released === 1 ? 'was' : 'were'} not adopted (dma.adoptMappings): released`,
        );
      // A pending timer the new code did not ask for has nobody to call.
      for (const [name, t] of this.slot.timers) {
        if (t.callback === null && t.timer.pending) {
          t.timer.cancel();
          warn(`timer '${name}' was pending but the new code does not use it: cancelled`);
        }
      }
      return { model: model as M, life, warnings };
    } catch (e) {
      life.revoke();
      rebind();
      // What the failed instance mapped goes; what it adopted is offered again (rollback).
      for (const c of dma) {
        for (const m of [...c.mappings]) if (!before.has(m)) m.release(0);
        c.disownMappings();
      }
      throw withSourceLine(e, plugin);
    }
  }

  /**
   * The instance's state as it reports it (under its guard: a `saveState` that throws
   * quarantines it and throws `E_DEVICE_REALIZE` here), versioned, detached from its realm.
   */
  saveState(): SavedState {
    let data: unknown;
    const guard = this.slot.scope.guard;
    const ok = guard.run('deferred', () => {
      data = this.model.saveState?.();
    });
    if (!ok) {
      const why = guard.lastFault?.stack.split('\n')[0];
      throw new EmuhostError(
        'E_DEVICE_REALIZE',
        `saveState failed${why === undefined ? '' : `: ${why}`} (the device is quarantined)`,
        { device: this.id },
      );
    }
    return {
      version: this.plugin.definition.stateVersion ?? 1,
      data: data === undefined ? undefined : structuredClone(data),
    };
  }

  /** Makes a created instance current, revoking the previous one's handles. */
  adopt(plugin: LoadedPlugin, model: M, life: Lifetime): void {
    this.life?.revoke();
    this.slot.scope.guard.plugin = plugin.manifest.id;
    this.plugin = plugin;
    this.model = model;
    this.life = life;
  }
}

/**
 * A `create` that threw, its message followed by where in the plugin's sources (the innermost
 * plugin frame, through the bundle's source map): `setup went wrong (at setup
 * (src/index.ts:4:9))`. The kernel refuses the device with that message. Unchanged when the
 * plugin has no source map or the stack shows no frame of it.
 */
function withSourceLine(e: unknown, plugin: LoadedPlugin): unknown {
  const stack = (e as { stack?: unknown })?.stack;
  if (plugin.script?.sourceMap === undefined || typeof stack !== 'string') return e;
  const top = pluginFrames(stack, plugin)[0];
  if (top === undefined || top.includes(PLUGIN_SCRIPT_PREFIX)) return e;
  const message = (e as { message?: unknown }).message;
  return new Error(`${typeof message === 'string' ? message : String(e)} (${top})`, { cause: e });
}
