/**
 * The plugins that ship with emuhost, found by id and loaded. They are first-party: the trusted
 * level unless told otherwise. In a checkout of the repository they are its `plugins/*`
 * sources, built with `emuhost build` when first loaded; an installed `@emuhost/host` carries
 * them built, in its `dist/plugins/<id>/` (scripts/build-packages.mjs puts them there), and
 * loads those bundles as they are.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import type { SandboxLevel } from '@emuhost/sandbox';
import { EmuhostError } from '@emuhost/sdk';
import { buildPlugin } from './build.js';
import type { LoadedPlugin } from './loaded-plugin.js';
import { MANIFEST_FILE } from './manifest.js';
import type { PluginHost } from './plugin-host.js';

const HOST_DIR = dirname(createRequire(import.meta.url).resolve('@emuhost/host/package.json'));
/** The repository's plugin sources, when this host is a checkout's. */
const SOURCE_DIR = resolve(HOST_DIR, '..', 'plugins');
/** The built plugins an installed host ships. */
const BUILT_DIR = join(HOST_DIR, 'dist', 'plugins');
const fromSource = existsSync(join(HOST_DIR, 'src')) && existsSync(SOURCE_DIR);
const PLUGINS_DIR = fromSource ? SOURCE_DIR : BUILT_DIR;

let index: Map<string, string> | undefined;
let aliasIndex: Map<string, DeviceAlias> | undefined;

/** A `-device` name that is another plugin's alias, and the bus it puts the device on. */
export interface DeviceAlias {
  readonly plugin: string;
  readonly bus: 'pci' | 'platform';
}

/** Plugin id → its directory (the sources' or the built one's), for every shipped plugin. */
export function bundledPlugins(): ReadonlyMap<string, string> {
  if (index !== undefined) return index;
  index = new Map();
  aliasIndex = new Map();
  if (existsSync(PLUGINS_DIR)) {
    for (const d of readdirSync(PLUGINS_DIR)) {
      const m = join(PLUGINS_DIR, d, MANIFEST_FILE);
      if (!existsSync(m)) continue;
      try {
        const raw = JSON.parse(readFileSync(m, 'utf8')) as { id?: unknown; aliases?: unknown };
        const id = raw.id;
        if (typeof id !== 'string') continue;
        index.set(id, join(PLUGINS_DIR, d));
        if (raw.aliases !== null && typeof raw.aliases === 'object')
          for (const [name, bus] of Object.entries(raw.aliases as Record<string, unknown>))
            if (bus === 'pci' || bus === 'platform') aliasIndex.set(name, { plugin: id, bus });
      } catch {
        // A malformed manifest is reported when that plugin is loaded by path.
      }
    }
  }
  return index;
}

/**
 * The bundled device plugin a `-device` name stands for when it is an alias (QEMU's
 * `virtio-blk-device` is the `virtio-blk-pci` plugin on the platform bus), or undefined.
 */
export function bundledAlias(name: string): DeviceAlias | undefined {
  bundledPlugins();
  return aliasIndex!.get(name);
}

/** Builds and loads a bundled plugin by id (or returns it if this host has it already). */
export async function loadBundled(
  host: PluginHost,
  id: string,
  level?: SandboxLevel,
): Promise<LoadedPlugin> {
  const have = host.get(id);
  if (have !== undefined) return have;
  const dir = bundledPlugins().get(id);
  if (dir === undefined) {
    throw new EmuhostError(
      'E_UNKNOWN_ID',
      `no plugin '${id}' ships with emuhost (have: ${[...bundledPlugins().keys()].sort().join(', ')})`,
    );
  }
  const manifest = fromSource ? (await buildPlugin(dir)).manifestPath : join(dir, MANIFEST_FILE);
  return host.loadFile(manifest, level === undefined ? {} : { level });
}
