/** Builds a plugin directory and loads the bundle, as `emuhost build` and the host would. */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildPlugin, type LoadedPlugin, PluginHost } from '@emuhost/host';
import type { SandboxLevel } from '@emuhost/sandbox';

/**
 * Builds `dir` and loads it. The build goes to a private directory under the plugin's
 * `node_modules/.cache/` (so the bundle's path, and with it the default sandbox level, is
 * what `dist/` would give), removed once the bundle is loaded (the host keeps what it read):
 * test files run in parallel, and two of them building one plugin into `dist/` would race.
 */
export async function loadPluginDir(
  dir: string,
  opts: { level?: SandboxLevel; host?: PluginHost } = {},
): Promise<LoadedPlugin> {
  const cache = join(dir, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const out = mkdtempSync(join(cache, 'emuhost-build-'));
  try {
    const built = await buildPlugin(dir, { outDir: out });
    const host = opts.host ?? new PluginHost();
    return host.loadFile(built.manifestPath, opts.level === undefined ? {} : { level: opts.level });
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
/** A plugin given as a directory or a loader. */
export type PluginSource = string | (() => LoadedPlugin | Promise<LoadedPlugin>);

export async function resolvePlugin(src: PluginSource): Promise<LoadedPlugin> {
  return typeof src === 'string' ? loadPluginDir(src) : src();
}
