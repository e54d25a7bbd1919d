/**
 * The plugin host: loads plugin bundles into realms and keeps them by id.
 *
 * Loading is a pipeline that stops at the first failing stage, each with its own error code
 * and esbuild-style diagnostics: the manifest (before any plugin code runs), the SDK range,
 * the evaluation of the bundle in a fresh realm, the shape of what it exports, and the id's
 * uniqueness. A failure leaves the host and every loaded plugin as they were.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import {
  createConfinedRealm,
  createIsolatedRealm,
  createTrustedRealm,
  type PluginDescription,
  type PluginRealm,
  pluginScriptName,
  type SandboxLevel,
} from '@emuhost/sandbox';
import { EmuhostError, type PluginManifest } from '@emuhost/sdk';
import semver from 'semver';
import { type Diagnostic, locateJsonKey, PluginLoadError } from './diagnostics.js';
import { createHostHooks, type HostHooks, type PluginFailure } from './hooks.js';
import type { LoadedPlugin } from './loaded-plugin.js';
import { MANIFEST_FILE, parseManifest, validateManifest } from './manifest.js';
import { currentSdkRuntime } from './sdk-runtime.js';
import { SdkServer } from './sdk-server.js';
import { BundleSourceMap } from './source-map.js';

export interface PluginHostOptions {
  /** Realm factories per level; all three are built in (override to set isolated limits). */
  readonly realms?: Partial<Record<SandboxLevel, () => PluginRealm>>;
  /** Serve the SDK this host was built with. Default true. */
  readonly serveCurrentSdk?: boolean;
  /**
   * Keep one isolated realm started ahead of need, so that the next isolated load (a hot
   * reload's) does not wait for a worker to start and lock down (hundreds of ms on a loaded
   * machine, against tens for the load itself). For `emuhost dev`; `close()` ends it.
   */
  readonly warmIsolated?: boolean;
}

export interface LoadOptions {
  /**
   * Default: `trusted` for bundles inside this repository (first-party plugins), `isolated`
   * for bundles from anywhere else (third-party plugins): the one level that can stop a plugin
   * that never returns (see `defaultLevel`).
   */
  readonly level?: SandboxLevel;
  /**
   * Load over a loaded plugin with the same id (hot reload's pre-flight): on success the new
   * plugin takes the id; the old one keeps its realm, and whatever still runs on it, until the
   * caller disposes it. On failure nothing changes.
   */
  readonly replace?: boolean;
}

/** The repository this host belongs to: plugins under it are first-party. */
const REPO_ROOT = resolve(
  dirname(createRequire(import.meta.url).resolve('@emuhost/host/package.json')),
  '..',
);

/**
 * The level a bundle gets when nobody chose one: `trusted` inside this repository, `isolated`
 * anywhere else. Not `confined`: it runs plugin code on the kernel's thread, where nothing can
 * stop a `while (true) {}` short of ending the process (a per-call `vm` timeout costs a
 * thread per call, `sandbox.call.timeout.us`), and a third-party plugin under development
 * loops sooner or later. The isolated level's watchdog stops it and quarantines the device.
 * Confined remains the choice for a reviewed plugin whose registers the guest reads often.
 */
export function defaultLevel(file: string): SandboxLevel {
  const rel = relative(REPO_ROOT, resolve(file));
  return rel.startsWith('..') || isAbsolute(rel) ? 'isolated' : 'trusted';
}

/**
 * A plugin's source manifest names its TypeScript entry: the host loads bundles, so say which
 * manifest to pass instead of failing on TypeScript syntax.
 */
function checkBuilt(manifest: PluginManifest, file: string, text: string): void {
  if (!/\.[cm]?tsx?$/.test(manifest.entry)) return;
  const dir = dirname(file);
  throw new PluginLoadError('E_MANIFEST', [
    {
      text: `this is the plugin's source manifest (its "entry" is ${manifest.entry}): load the built one`,
      pluginName: manifest.id,
      location: locateJsonKey(file, text, 'entry'),
      notes: [
        {
          text: `\`emuhost build ${dir}\` writes it: ${join(dir, 'dist', MANIFEST_FILE)}`,
        },
      ],
    },
  ]);
}

interface Source {
  readonly code: string;
  readonly file: string;
  readonly level: SandboxLevel;
}

/** The host that loaded each plugin (`PluginHost.of`), and from what (`loadAgain`). */
const hostOf = new WeakMap<LoadedPlugin, { host: PluginHost; source: Source }>();

export class PluginHost {
  /**
   * The host that loaded `plugin` (so that a caller holding only a running device can load
   * its code again, e.g. `emuhost.device.reload`), or undefined for a plugin made elsewhere.
   */
  static of(plugin: LoadedPlugin): PluginHost | undefined {
    return hostOf.get(plugin)?.host;
  }

  readonly hooks: HostHooks = createHostHooks();
  readonly sdk = new SdkServer();
  private readonly plugins = new Map<string, LoadedPlugin>();
  /** What each plugin was loaded from, so that a realm can be made again (`respawn`). */
  private readonly sources = new Map<string, Source>();
  private readonly realms: Partial<Record<SandboxLevel, () => PluginRealm>>;
  private readonly warm: boolean;
  /** An isolated realm started ahead, not yet used (`warmIsolated`). */
  private spare: PluginRealm | undefined;

  constructor(opts: PluginHostOptions = {}) {
    this.realms = {
      trusted: createTrustedRealm,
      confined: createConfinedRealm,
      isolated: () => createIsolatedRealm(),
      ...opts.realms,
    };
    if (opts.serveCurrentSdk !== false) this.sdk.serve(currentSdkRuntime());
    this.warm = opts.warmIsolated === true;
  }

  /** Ends what the host keeps for later (the spare isolated realm). Loaded plugins stay. */
  close(): void {
    this.spare?.dispose();
    this.spare = undefined;
  }

  /** A realm of `level`: the spare one when it is isolated and one is ready. */
  private realmFor(level: SandboxLevel, make: () => PluginRealm): PluginRealm {
    if (level !== 'isolated' || !this.warm) return make();
    const spare = this.spare;
    this.spare = undefined;
    return spare !== undefined && spare.ended === undefined ? spare : make();
  }

  /** Loads a built plugin from its manifest file (the bundle is the manifest's `entry`). */
  loadFile(manifestPath: string, opts: LoadOptions = {}): LoadedPlugin {
    const file = resolve(manifestPath);
    let manifest: PluginManifest;
    let code: string;
    try {
      const text = readText(file);
      manifest = parseManifest(text, file);
      checkBuilt(manifest, file, text);
      code = readText(resolve(dirname(file), manifest.entry));
    } catch (e) {
      throw this.fail(file, 'manifest', e);
    }
    const bundle = resolve(dirname(file), manifest.entry);
    return this.loadCode(manifest, code, {
      level: opts.level ?? defaultLevel(bundle),
      file: bundle,
      ...(opts.replace !== undefined && { replace: opts.replace }),
    });
  }

  /** Loads a plugin from a manifest object and bundle text. */
  loadCode(
    manifestIn: unknown,
    code: string,
    opts: LoadOptions & { file?: string } = {},
  ): LoadedPlugin {
    return this.load(manifestIn, code, opts, true);
  }

  /** `loadCode`; with `register` false the plugin is made but not kept under its id. */
  private load(
    manifestIn: unknown,
    code: string,
    opts: LoadOptions & { file?: string },
    register: boolean,
  ): LoadedPlugin {
    const file = opts.file ?? '<bundle>';
    let manifest: PluginManifest;
    try {
      manifest = validateManifest(manifestIn, file);
    } catch (e) {
      throw this.fail(file, 'manifest', e);
    }
    const id = manifest.id;
    if (register && this.plugins.has(id) && opts.replace !== true) {
      throw this.fail(
        id,
        'register',
        new PluginLoadError('E_DUPLICATE_ID', [
          diag(
            id,
            file,
            `a plugin with id '${id}' is already loaded (from ${this.plugins.get(id)!.file})`,
          ),
        ]),
      );
    }
    let sdk: ReturnType<SdkServer['pick']>;
    try {
      sdk = this.sdk.pick(manifest.sdk, id, file);
      checkBuiltWith(manifest, sdk.version, file);
    } catch (e) {
      throw this.fail(id, 'sdk', e);
    }
    const level = opts.level ?? 'trusted';
    const make = this.realms[level];
    if (make === undefined) {
      throw this.fail(
        id,
        'evaluate',
        new PluginLoadError('E_PLUGIN_EVAL', [
          diag(id, file, `no realm for sandbox level '${level}' is available`),
        ]),
      );
    }
    if ((manifest.kind === 'machine' || manifest.kind === 'cpu') && level !== 'trusted') {
      const why =
        manifest.kind === 'machine'
          ? 'machine plugins build the whole machine'
          : 'CPU plugins reach guest RAM directly on every instruction';
      throw this.fail(
        id,
        'evaluate',
        new PluginLoadError('E_PLUGIN_EVAL', [
          diag(
            id,
            file,
            `${why} and run only at the trusted level, not '${level}'`,
            "load it with level 'trusted' if you trust it",
          ),
        ]),
      );
    }
    const script = {
      name: pluginScriptName(id, file),
      sourceMap: opts.file === undefined ? undefined : BundleSourceMap.forBundle(file, code),
    };
    // Made only once the plugin may run in it (an isolated realm is a worker).
    const realm = this.realmFor(level, make);
    let exported: PluginDescription;
    try {
      exported = realm.evaluate(code, { filename: script.name, sdkCode: sdk.code });
    } catch (e) {
      realm.dispose();
      throw this.fail(
        id,
        'evaluate',
        new PluginLoadError('E_PLUGIN_EVAL', [evalDiagnostic(id, file, script, e, code)]),
      );
    }
    let definition: PluginDescription;
    try {
      definition = checkShape(id, file, manifest, exported);
    } catch (e) {
      realm.dispose();
      throw this.fail(id, 'shape', e);
    }
    const plugin: LoadedPlugin = Object.freeze({
      manifest,
      definition,
      sdkVersion: sdk.version,
      level,
      realm,
      file,
      script,
    });
    if (register) {
      this.plugins.set(id, plugin);
      this.sources.set(id, { code, file, level });
    }
    hostOf.set(plugin, { host: this, source: { code, file, level } });
    this.hooks.plugin.loaded.call(plugin);
    // The next one starts now, while the user edits (its worker boots on its own thread).
    if (level === 'isolated' && this.warm && this.spare === undefined) this.spare = make();
    return plugin;
  }

  /**
   * Loads the bundle `plugin` was loaded from again, into a fresh realm at the same level: the
   * same code as a new plugin, for a hot reload that only wants fresh instances
   * (`reloadDevice(emu, id, host.loadAgain(plugin))`). When `plugin` is this host's current
   * plugin for its id the new one replaces it there (as `loadFile(..., { replace: true })`);
   * otherwise (an older load that devices still run) the host's entry is left alone. The old
   * plugin keeps its realm for whatever still runs on it; the caller disposes it.
   * `E_UNKNOWN_ID` when this host did not load `plugin`.
   */
  loadAgain(plugin: LoadedPlugin): LoadedPlugin {
    const id = plugin.manifest.id;
    const from = hostOf.get(plugin);
    if (from?.host !== this) {
      throw new EmuhostError(
        'E_UNKNOWN_ID',
        `plugin '${id}' from ${plugin.file} was not loaded by this host`,
        { plugin: id },
      );
    }
    const { code, file, level } = from.source;
    const current = this.plugins.get(id) === plugin;
    return this.load(plugin.manifest, code, { level, file, replace: true }, current);
  }

  /**
   * Loads a plugin again from the same bundle into a fresh realm (an isolated plugin whose
   * worker the watchdog killed, say), replacing the entry. Devices are moved to it with
   * `RunningDevice.restart(plugin)`.
   */
  respawn(id: string): LoadedPlugin {
    const old = this.plugins.get(id);
    const src = this.sources.get(id);
    if (old === undefined || src === undefined) {
      throw new EmuhostError('E_UNKNOWN_ID', `no plugin '${id}' is loaded`, { plugin: id });
    }
    this.plugins.delete(id);
    this.sources.delete(id);
    try {
      const fresh = this.loadCode(old.manifest, src.code, { level: src.level, file: src.file });
      old.realm.dispose();
      return fresh;
    } catch (e) {
      this.plugins.set(id, old);
      this.sources.set(id, src);
      throw e;
    }
  }

  /** Drops a plugin; its realm is disposed. Instances must have been removed first. */
  unload(id: string): void {
    const p = this.plugins.get(id);
    if (p === undefined) return;
    this.plugins.delete(id);
    this.sources.delete(id);
    p.realm.dispose();
    this.hooks.plugin.unloaded.call(p);
  }

  get(id: string): LoadedPlugin | undefined {
    return this.plugins.get(id);
  }

  list(): LoadedPlugin[] {
    return [...this.plugins.values()];
  }

  private fail(plugin: string, phase: PluginFailure['phase'], e: unknown): Error {
    const error = e instanceof Error ? e : new Error(String(e));
    this.hooks.plugin.failed.call({ plugin, phase, error });
    return error;
  }
}

/** A bundle built against another SDK major has that major's calling conventions baked in. */
function checkBuiltWith(manifest: PluginManifest, served: string, file: string): void {
  const built = manifest.builtWithSdk;
  if (built === undefined || semver.major(built) === semver.major(served)) return;
  throw new PluginLoadError('E_SDK_RANGE', [
    diag(
      manifest.id,
      file,
      `plugin '${manifest.id}' was built with @emuhost/sdk ${built}, but its range ${manifest.sdk} chose ${served}`,
      `rebuild it with 'emuhost build' against SDK ${semver.major(served)}.x, or serve an SDK ${semver.major(built)}.x`,
    ),
  ]);
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new PluginLoadError('E_MANIFEST', [
      {
        text: `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
        location: { file },
        notes: [],
      },
    ]);
  }
}

function diag(pluginName: string, file: string, text: string, ...notes: string[]): Diagnostic {
  return { text, pluginName, location: { file }, notes: notes.map((t) => ({ text: t })) };
}

/**
 * Turns an evaluation error into a diagnostic at the line its stack names in the bundle (the
 * bundle runs under its script name), mapped through the bundle's source map when there is
 * one, so the error names `src/regs.ts:12`, not `dist/x.js:840`.
 */
function evalDiagnostic(
  id: string,
  file: string,
  script: NonNullable<LoadedPlugin['script']>,
  e: unknown,
  code: string,
): Diagnostic {
  const err = e as { name?: unknown; message?: unknown; stack?: unknown };
  const text = `evaluating the bundle threw ${String(err?.name ?? 'an error')}: ${String(err?.message ?? e)}`;
  const stack = typeof err?.stack === 'string' ? err.stack : '';
  const at = new RegExp(`${escapeRe(script.name)}:(\\d+)(?::(\\d+))?`).exec(stack);
  if (at === null) return diag(id, file, text);
  const line = Number(at[1]);
  const column = at[2] !== undefined ? Number(at[2]) - 1 : 0;
  return {
    text,
    pluginName: id,
    location: script.sourceMap?.locate(line, column) ?? {
      file,
      line,
      column,
      lineText: code.split('\n')[line - 1] ?? '',
    },
    notes: [],
  };
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function checkShape(
  id: string,
  file: string,
  manifest: PluginManifest,
  def: PluginDescription,
): PluginDescription {
  const problems: string[] = [];
  if (def.kind !== manifest.kind)
    problems.push(`the manifest says kind '${manifest.kind}' but the plugin is '${def.kind}'`);
  if (def.kind === 'device') {
    if (def.pci === undefined && def.platform !== true)
      problems.push('a device plugin must declare `pci` identity or `platform: true`');
    if (def.pci !== undefined && !manifest.capabilities.includes('pci'))
      problems.push("the plugin has a PCI identity but not the 'pci' capability");
    if (def.platform === true && !manifest.capabilities.includes('platform'))
      problems.push("the plugin can sit on the platform bus but lacks the 'platform' capability");
  }
  if (def.kind === 'cpu') {
    if (def.arch === undefined || !/^[a-z][a-z0-9_]*$/.test(def.arch))
      problems.push("a CPU plugin's `arch` must be a lowercase name such as 'riscv64'");
    const inputs = def.irqInputs ?? [];
    if (new Set(inputs).size !== inputs.length)
      problems.push(`a CPU plugin's irqInputs must be distinct (${inputs.join(', ')})`);
  }
  if (problems.length > 0)
    throw new PluginLoadError(
      'E_PLUGIN_SHAPE',
      problems.map((p) => diag(id, file, p)),
    );
  return def;
}
