/**
 * The plugin manifest (`emuhost.plugin.json`), validated before any plugin code runs.
 * Every problem is reported at once, each as a diagnostic pointing at its field.
 */
import type { Capability, PluginKind, PluginManifest } from '@emuhost/sdk';
import semver from 'semver';
import { type Diagnostic, locateJsonKey, PluginLoadError } from './diagnostics.js';

export const MANIFEST_FILE = 'emuhost.plugin.json';

const KINDS: readonly PluginKind[] = ['device', 'iommu', 'machine', 'cpu'];
const CAPABILITIES: readonly Capability[] = [
  'dma',
  'irq',
  'msi',
  'timers',
  'pci',
  'platform',
  'block',
  'entropy',
  'net',
  'chardev',
  'iommu-bypass',
];
const FIELDS = [
  'id',
  'version',
  'kind',
  'sdk',
  'entry',
  'capabilities',
  'description',
  'aliases',
  'builtWithSdk',
];
const ID = /^[a-z][a-z0-9-]{0,63}$/;

/** Parses and validates manifest text; throws `PluginLoadError` (E_MANIFEST) listing every problem. */
export function parseManifest(text: string, file: string): PluginManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    const m = /position (\d+)/.exec(String(e));
    const pos = m ? Number(m[1]) : 0;
    const before = text.slice(0, pos).split('\n');
    const line = before.length;
    throw new PluginLoadError('E_MANIFEST', [
      {
        text: `the manifest is not valid JSON: ${(e as Error).message}`,
        location: {
          file,
          line,
          column: before[line - 1]!.length,
          lineText: text.split('\n')[line - 1] ?? '',
        },
        notes: [],
      },
    ]);
  }
  return validateManifest(raw, file, text);
}

/** Validates a parsed manifest; `text` (when given) lets diagnostics point at lines. */
export function validateManifest(raw: unknown, file: string, text = ''): PluginManifest {
  const diags: Diagnostic[] = [];
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new PluginLoadError('E_MANIFEST', [
      { text: 'the manifest must be a JSON object', location: { file }, notes: [] },
    ]);
  }
  const m = raw as Record<string, unknown>;
  const id = typeof m.id === 'string' && ID.test(m.id) ? m.id : undefined;
  const bad = (key: string, msg: string, ...notes: string[]) =>
    diags.push({
      text: msg,
      ...(id !== undefined && { pluginName: id }),
      location: locateJsonKey(file, text, key),
      notes: notes.map((n) => ({ text: n })),
    });

  if (typeof m.id !== 'string') bad('id', 'missing "id" (a string)');
  else if (id === undefined)
    bad(
      'id',
      `"id" must be lowercase letters, digits and '-', starting with a letter, not "${m.id}"`,
    );
  if (typeof m.version !== 'string' || semver.valid(m.version) === null) {
    bad(
      'version',
      `"version" must be a semver version such as "1.0.0", not ${JSON.stringify(m.version)}`,
    );
  }
  if (!KINDS.includes(m.kind as PluginKind)) {
    bad(
      'kind',
      `unknown kind ${JSON.stringify(m.kind)}`,
      `kind is one of ${KINDS.map((k) => `"${k}"`).join(', ')}`,
    );
  }
  if (typeof m.sdk !== 'string' || semver.validRange(m.sdk) === null) {
    bad('sdk', `"sdk" must be a semver range such as "^1.0.0", not ${JSON.stringify(m.sdk)}`);
  }
  if (typeof m.entry !== 'string' || m.entry.length === 0)
    bad('entry', 'missing "entry" (the path of the plugin entry)');
  if (!Array.isArray(m.capabilities)) {
    bad('capabilities', 'missing "capabilities" (an array, possibly empty)');
  } else {
    for (const c of m.capabilities) {
      if (!CAPABILITIES.includes(c as Capability)) {
        bad(
          'capabilities',
          `unknown capability ${JSON.stringify(c)}`,
          `capabilities are ${CAPABILITIES.join(', ')}`,
        );
      }
    }
  }
  if (m.description !== undefined && typeof m.description !== 'string')
    bad('description', '"description" must be a string');
  if (m.aliases !== undefined) {
    const a = m.aliases as Record<string, unknown>;
    if (a === null || typeof a !== 'object' || Array.isArray(a))
      bad('aliases', '"aliases" must map device names to "pci" or "platform"');
    else
      for (const [name, bus] of Object.entries(a)) {
        if (!ID.test(name)) bad('aliases', `alias ${JSON.stringify(name)} is not a valid id`);
        if (bus !== 'pci' && bus !== 'platform')
          bad('aliases', `alias ${JSON.stringify(name)} must say "pci" or "platform"`);
      }
  }
  if (
    m.builtWithSdk !== undefined &&
    (typeof m.builtWithSdk !== 'string' || semver.valid(m.builtWithSdk) === null)
  ) {
    bad('builtWithSdk', '"builtWithSdk" must be a semver version');
  }
  for (const key of Object.keys(m)) {
    if (!FIELDS.includes(key)) {
      const near = FIELDS.find((f) => f.slice(0, 4) === key.slice(0, 4));
      bad(
        key,
        `unknown field "${key}"`,
        ...(near !== undefined ? [`did you mean "${near}"?`] : []),
      );
    }
  }
  if (diags.length > 0) throw new PluginLoadError('E_MANIFEST', diags);
  return Object.freeze({ ...m }) as unknown as PluginManifest;
}
