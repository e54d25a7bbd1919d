/** Builds a plugin directory and loads the bundle, as `emuhost build` and the host would. */
import { buildPlugin, type LoadedPlugin, PluginHost } from '@emuhost/host';
import type { SandboxLevel } from '@emuhost/sandbox';

export async function loadPluginDir(
  dir: string,
  opts: { level?: SandboxLevel; host?: PluginHost } = {},
): Promise<LoadedPlugin> {
  const built = await buildPlugin(dir);
  const host = opts.host ?? new PluginHost();
  return host.loadFile(built.manifestPath, opts.level === undefined ? {} : { level: opts.level });
}

/** A plugin given as a directory or a loader. */
export type PluginSource = string | (() => LoadedPlugin | Promise<LoadedPlugin>);

export async function resolvePlugin(src: PluginSource): Promise<LoadedPlugin> {
  return typeof src === 'string' ? loadPluginDir(src) : src();
}
