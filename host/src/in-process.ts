/**
 * A plugin that is already a definition in this process (no bundle): for tests and for
 * embedders who link a plugin in directly. It runs at the trusted level in the host's own
 * realm, described and validated exactly like a loaded one.
 */
import { makeMembrane, type PluginRealm } from '@emuhost/sandbox';
import { type PluginDefinition, SDK_VERSION } from '@emuhost/sdk';
import type { LoadedPlugin } from './loaded-plugin.js';
import { validateManifest } from './manifest.js';

const hostSide = makeMembrane((x) => x);

export function inProcessPlugin(manifest: unknown, definition: PluginDefinition): LoadedPlugin {
  const m = validateManifest(manifest, '<in-process>');
  const handle = hostSide.plugin({ default: definition }, false);
  const realm: PluginRealm = {
    level: 'trusted',
    evaluate: () => {
      throw new Error('an in-process plugin has no bundle to evaluate');
    },
    createDevice: (ctx, state) =>
      handle.createDevice(ctx, state) as ReturnType<PluginRealm['createDevice']>,
    createIommu: (ctx, state) =>
      handle.createIommu(ctx, state) as ReturnType<PluginRealm['createIommu']>,
    createMachine: (ctx) => handle.createMachine(ctx) as ReturnType<PluginRealm['createMachine']>,
    createCpu: (ctx, state) => handle.createCpu(ctx, state) as ReturnType<PluginRealm['createCpu']>,
    migrateState: (from, data) => handle.migrateState(from, data),
    dispose: () => {},
    ended: undefined,
  };
  return Object.freeze({
    manifest: m,
    definition: handle.description as unknown as LoadedPlugin['definition'],
    sdkVersion: SDK_VERSION,
    level: 'trusted',
    realm,
    file: '<in-process>',
  });
}
