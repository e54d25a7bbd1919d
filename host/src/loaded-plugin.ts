/** A plugin that passed every check: its manifest, its definition, where it runs. */

import type { PluginDescription, PluginRealm, SandboxLevel } from '@emuhost/sandbox';
import type { PluginManifest } from '@emuhost/sdk';
import type { BundleSourceMap } from './source-map.js';

export interface LoadedPlugin {
  readonly manifest: PluginManifest;
  /**
   * What the plugin defines, as data copied by its realm (kind, PCI identity, options, state
   * version): the host never touches the plugin's own objects. Calls go through `realm`.
   */
  readonly definition: PluginDescription;
  /** The SDK version the plugin's realm was given. */
  readonly sdkVersion: string;
  readonly level: SandboxLevel;
  readonly realm: PluginRealm;
  /** Where the bundle came from, for messages. */
  readonly file: string;
  /**
   * The name the bundle runs under in stacks (`emuhost-plugin:<id>/<file name>`, see
   * @emuhost/sandbox's stack-filter), and its source map, to map those frames to the
   * plugin's sources. Absent for in-process plugins.
   */
  readonly script?: { readonly name: string; readonly sourceMap: BundleSourceMap | undefined };
}
