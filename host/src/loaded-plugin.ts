/** A plugin that passed every check: its manifest, its definition, where it runs. */

import type { PluginRealm, SandboxLevel } from '@emuhost/sandbox';
import type { PluginDefinition, PluginManifest } from '@emuhost/sdk';

export interface LoadedPlugin {
  readonly manifest: PluginManifest;
  readonly definition: PluginDefinition;
  /** The SDK version the plugin's realm was given. */
  readonly sdkVersion: string;
  readonly level: SandboxLevel;
  readonly realm: PluginRealm;
  /** Where the bundle came from, for messages. */
  readonly file: string;
}
