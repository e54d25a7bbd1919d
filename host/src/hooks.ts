/**
 * The host's hooks: plugin load, unload and failure. Tap names are the tapper's id.
 */
import { SyncHook } from 'tapable';
import type { LoadedPlugin } from './loaded-plugin.js';

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
  });
}

export type HostHooks = ReturnType<typeof createHostHooks>;
