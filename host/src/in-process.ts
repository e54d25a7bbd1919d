/**
 * A plugin that is already a definition in this process (no bundle): for tests and for
 * embedders who link a plugin in directly. It runs at the trusted level in the host's own
 * realm, and is validated exactly like a loaded one.
 */

import type { PluginRealm } from '@emuhost/sandbox';
import type { PluginDefinition } from '@emuhost/sdk';
import { SDK_VERSION } from '@emuhost/sdk';
import type { LoadedPlugin } from './loaded-plugin.js';
import { validateManifest } from './manifest.js';

export function inProcessPlugin(manifest: unknown, definition: PluginDefinition): LoadedPlugin {
  const m = validateManifest(manifest, '<in-process>');
  return Object.freeze({
    manifest: m,
    definition,
    sdkVersion: SDK_VERSION,
    level: 'trusted',
    realm: <PluginRealm>{
      level: 'trusted',
      evaluate: () => {
        throw new Error('an in-process plugin has no realm to evaluate code in');
      },
      createDevice: (create, ctx, state) => create(ctx, state),
      createIommu: (create, ctx, state) => create(ctx, state),
      migrateState: (migrate, from, data) => migrate(from, data),
      dispose: () => {},
    },
    file: '<in-process>',
  });
}
