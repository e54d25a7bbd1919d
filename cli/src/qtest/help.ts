/**
 * QEMU's `-machine help`, `-device help` and `-device NAME,help`, for emuhost's plugins: the
 * machines and devices this emuhost can build (the ones it ships and those `--plugin`
 * loaded), listed as QEMU lists its own, read from the manifests (nothing is built or run to
 * list them). A plugin's options come from its definition, which loading gives.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  bundledPlugins,
  type LoadedPlugin,
  loadBundled,
  MANIFEST_FILE,
  type PluginHost,
} from '@emuhost/host';
import type { PluginManifest } from '@emuhost/sdk';

/** QEMU device names that are emuhost plugins of another id. */
export const DEVICE_ALIASES: Readonly<Record<string, string>> = { 'intel-iommu': 'vtd' };

/** Every plugin this host can name: `--plugin` ones first (they win over shipped ids). */
export function knownManifests(host: PluginHost): PluginManifest[] {
  const out = new Map<string, PluginManifest>();
  for (const p of host.list()) out.set(p.manifest.id, p.manifest);
  for (const [id, dir] of bundledPlugins()) {
    if (out.has(id)) continue;
    try {
      out.set(id, JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8')) as PluginManifest);
    } catch {
      // A malformed manifest is reported when that plugin is loaded.
    }
  }
  return [...out.values()].sort((a, b) => a.id.localeCompare(b.id));
}

/** `-machine help`: QEMU's "Supported machines are:" and a line per machine. */
export function machineHelp(host: PluginHost): string {
  const lines = ['Supported machines are:'];
  for (const m of knownManifests(host).filter((p) => p.kind === 'machine'))
    lines.push(row(m.id, `${m.description ?? m.id}${m.id === 'pc' ? ' (default)' : ''}`));
  lines.push(row('none', 'empty machine'));
  return `${lines.join('\n')}\n`;
}

/** `-device help`: devices, then IOMMUs, one `name "...", bus ..., desc "..."` line each. */
export function deviceHelp(host: PluginHost): string {
  const all = knownManifests(host);
  const aliasOf = (id: string) => Object.keys(DEVICE_ALIASES).find((a) => DEVICE_ALIASES[a] === id);
  const line = (m: PluginManifest) => {
    const bus = m.capabilities.includes('pci') ? 'PCI' : 'platform';
    const alias = aliasOf(m.id);
    const names = alias === undefined ? `name "${m.id}"` : `name "${alias}", alias "${m.id}"`;
    return `${names}, bus ${bus}${m.description === undefined ? '' : `, desc "${m.description}"`}`;
  };
  return [
    'Devices:',
    ...all.filter((m) => m.kind === 'device').map(line),
    '',
    'IOMMUs:',
    ...all.filter((m) => m.kind === 'iommu').map(line),
    '',
    'A plugin of your own: `emuhost build DIR`, then --plugin DIR/dist/emuhost.plugin.json',
    '',
  ].join('\n');
}

/** `-device NAME,help`: the plugin's options (QEMU's "NAME options:"). */
export async function deviceOptionsHelp(host: PluginHost, id: string): Promise<string> {
  const plugin: LoadedPlugin = host.get(id) ?? (await loadBundled(host, id));
  const options = Object.entries(plugin.definition.options ?? {});
  const lines = [`${id} options:`];
  for (const [name, o] of options)
    lines.push(
      `  ${name}=<${o.type}>${o.description === undefined ? '' : ` - ${o.description}`} (default: ${String(o.default)})`,
    );
  if (options.length === 0) lines.push('  (none)');
  lines.push('  id=<str>, bus=<str>, addr=<SLOT[.FN]> - placement, for every device');
  return `${lines.join('\n')}\n`;
}

function row(name: string, text: string): string {
  return `${name.padEnd(20)} ${text}`;
}
