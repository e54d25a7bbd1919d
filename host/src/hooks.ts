/**
 * The host's hooks: plugin load, unload and failure, and the phases of a hot reload. Tap
 * names are the tapper's id.
 */
import { SyncHook } from 'tapable';
import type { LoadedPlugin } from './loaded-plugin.js';
import type { ReloadFailure, ReloadPhase, ReloadReport } from './reload.js';

export interface PluginFailure {
  /** The plugin id when the manifest got that far, else the file. */
  readonly plugin: string;
  readonly phase: 'manifest' | 'sdk' | 'evaluate' | 'shape' | 'register';
  readonly error: Error;
}

export function createHostHooks() {
  return Object.freeze({
    plugin: Object.freeze({
      loaded: new SyncHook<[LoadedPlugin]>(['plugin']),
      unloaded: new SyncHook<[LoadedPlugin]>(['plugin']),
      failed: new SyncHook<[PluginFailure]>(['failure']),
    }),
    /** One call per device and phase of `reloadDevice` (see reload.ts). */
    reload: createReloadHooks(),
  });
}

export type HostHooks = ReturnType<typeof createHostHooks>;

/** The hooks of a hot reload, in the order the phases run. */
export function createReloadHooks() {
  return Object.freeze({
    /** Between two events, before the old instance's state is saved. */
    quiesce: new SyncHook<[ReloadPhase]>(['phase']),
    /** The old instance's state, saved. */
    saved: new SyncHook<[ReloadPhase]>(['phase']),
    /** The old instance is disposed and its handles are revoked. */
    disposed: new SyncHook<[ReloadPhase]>(['phase']),
    /** The new instance exists and serves the device. */
    created: new SyncHook<[ReloadPhase]>(['phase']),
    /** The new instance could not be made: the old code runs again with the same state. */
    rolledBack: new SyncHook<[ReloadFailure]>(['failure']),
    /** The device runs again (on the new code, or the old after a rollback). */
    resumed: new SyncHook<[ReloadReport]>(['report']),
  });
}

export type ReloadHooks = ReturnType<typeof createReloadHooks>;
