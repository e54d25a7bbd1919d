/**
 * `emuhost build`: bundles one plugin with esbuild into one self-contained CommonJS file,
 * with the SDK left external (the host supplies it at load), a source map and a metafile,
 * and writes the built manifest beside it.
 *
 * The bundle may contain third-party packages (inlined), but it may not leave anything but
 * the SDK external: Node builtins (`fs`, `child_process`...) and other emuhost packages are
 * refused with the import and the file that made it, except plugin libraries: emuhost
 * packages whose package.json says `"emuhost": { "pluginLibrary": true }` (`@emuhost/virtio`)
 * are bundled in like any third-party code, under the same rules for their own imports. Output is reproducible: paths are
 * relative to the plugin directory and nothing time- or machine-dependent is written.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { type PluginManifest, SDK_VERSION } from '@emuhost/sdk';
import {
  type BuildContext,
  type BuildOptions,
  context,
  type Message,
  type Metafile,
  type Plugin,
  stop,
} from 'esbuild';
import semver from 'semver';
import { type Diagnostic, locateJsonKey, PluginLoadError } from './diagnostics.js';
import { MANIFEST_FILE, parseManifest } from './manifest.js';

export interface BuildResult {
  readonly manifest: PluginManifest;
  /** The built manifest (load this). */
  readonly manifestPath: string;
  readonly bundlePath: string;
  readonly metafile: Metafile;
  readonly warnings: readonly Diagnostic[];
}

export interface PluginBuilder {
  /** Builds (again); incremental after the first call. Throws PluginLoadError (E_PLUGIN_BUILD). */
  rebuild(): Promise<BuildResult>;
  dispose(): Promise<void>;
}

const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** Refuses imports a plugin may not make; the SDK stays external. */
const importPolicy: Plugin = {
  name: 'emuhost-import-policy',
  setup(b) {
    // Bare specifiers only: a relative or absolute path is never a package, and each call is a
    // round trip to this thread, which under a running guest waits for the CPU slice to end.
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.kind === 'entry-point') return undefined;
      const p = args.path;
      if (p === '@emuhost/sdk') return { path: p, external: true };
      const refuse = (why: string) => ({
        errors: [
          {
            text: `'${p}' cannot be imported by a plugin: ${why}`,
            notes: [
              {
                text: 'a plugin may import only @emuhost/sdk (and code it bundles: its own, packages, plugin libraries such as @emuhost/virtio)',
              },
            ],
          },
        ],
      });
      if (BUILTINS.has(p) || p.startsWith('node:')) return refuse('it is a Node builtin');
      if (p.startsWith('@emuhost/')) {
        if (isPluginLibrary(p, args.resolveDir)) return undefined;
        return refuse('plugins depend on the SDK only');
      }
      return undefined;
    });
  },
};

/** Whether `name` (an `@emuhost/...` import) is a plugin library: bundled, not refused. */
function isPluginLibrary(name: string, from: string): boolean {
  const pkg = name.split('/').slice(0, 2).join('/');
  try {
    const file = createRequire(join(from, 'x.js')).resolve(`${pkg}/package.json`);
    const json = JSON.parse(readFileSync(file, 'utf8')) as {
      emuhost?: { pluginLibrary?: unknown };
    };
    return json.emuhost?.pluginLibrary === true;
  } catch {
    return false;
  }
}

/** A reusable builder for one plugin directory (incremental rebuilds, for `emuhost dev`). */
export async function createPluginBuilder(
  pluginDir: string,
  opts: { outDir?: string } = {},
): Promise<PluginBuilder> {
  const dir = resolve(pluginDir);
  const manifestFile = join(dir, MANIFEST_FILE);
  const text = readText(manifestFile);
  const manifest = parseManifest(text, manifestFile);
  checkSdkRange(manifest, manifestFile, text);
  const outDir = resolve(dir, opts.outDir ?? 'dist');
  const bundleName = `${manifest.id}.js`;
  const options: BuildOptions = {
    absWorkingDir: dir,
    entryPoints: [resolve(dir, manifest.entry)],
    outfile: join(outDir, bundleName),
    bundle: true,
    format: 'cjs',
    platform: 'neutral',
    target: 'es2022',
    mainFields: ['module', 'main'],
    sourcemap: 'linked',
    metafile: true,
    legalComments: 'none',
    logLevel: 'silent',
    plugins: [importPolicy],
  };
  let ctx: BuildContext | undefined = await context(options);
  return {
    async rebuild() {
      if (ctx === undefined) throw new Error('the builder was disposed');
      let result: Awaited<ReturnType<BuildContext['rebuild']>>;
      try {
        result = await ctx.rebuild();
      } catch (e) {
        const errors = (e as { errors?: Message[] }).errors ?? [];
        throw new PluginLoadError(
          'E_PLUGIN_BUILD',
          errors.length > 0
            ? errors.map((m) => toDiagnostic(manifest.id, dir, m))
            : [{ text: String(e), pluginName: manifest.id, notes: [] }],
        );
      }
      const metafile = result.metafile!;
      mkdirSync(outDir, { recursive: true });
      writeFileSync(
        join(outDir, `${manifest.id}.meta.json`),
        `${JSON.stringify(metafile, null, 2)}\n`,
      );
      const built: PluginManifest = {
        ...manifest,
        entry: `./${bundleName}`,
        builtWithSdk: SDK_VERSION,
      };
      const manifestPath = join(outDir, MANIFEST_FILE);
      writeFileSync(manifestPath, `${JSON.stringify(built, null, 2)}\n`);
      return {
        manifest: built,
        manifestPath,
        bundlePath: join(outDir, bundleName),
        metafile,
        warnings: result.warnings.map((m) => toDiagnostic(manifest.id, dir, m)),
      };
    },
    async dispose() {
      await ctx?.dispose();
      ctx = undefined;
    },
  };
}

/**
 * The bundle is built against this SDK (its types, and `builtWithSdk`): a manifest whose
 * `sdk` range refuses it would build, then fail to load on this very host. Said at build
 * time instead, at the field.
 */
function checkSdkRange(manifest: PluginManifest, file: string, text: string): void {
  if (semver.satisfies(SDK_VERSION, manifest.sdk)) return;
  const major = semver.major(SDK_VERSION);
  throw new PluginLoadError('E_SDK_RANGE', [
    {
      text: `"sdk": "${manifest.sdk}" does not accept SDK ${SDK_VERSION}, the one this emuhost builds with`,
      pluginName: manifest.id,
      location: locateJsonKey(file, text, 'sdk'),
      notes: [
        {
          text: `a range such as "^${major}.0.0" accepts it; a plugin built now would not load here with "${manifest.sdk}"`,
        },
      ],
    },
  ]);
}

/** Builds a plugin once. */
export async function buildPlugin(
  pluginDir: string,
  opts: { outDir?: string } = {},
): Promise<BuildResult> {
  const b = await createPluginBuilder(pluginDir, opts);
  try {
    return await b.rebuild();
  } finally {
    await b.dispose();
  }
}

function toDiagnostic(plugin: string, dir: string, m: Message): Diagnostic {
  const l = m.location;
  return {
    text: m.text,
    pluginName: plugin,
    ...(l !== null && {
      location: {
        file: resolve(dir, l.file),
        line: l.line,
        column: l.column,
        lineText: l.lineText,
      },
    }),
    notes: m.notes.map((n) => ({ text: n.text })),
  };
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    throw new PluginLoadError('E_MANIFEST', [
      { text: `no ${MANIFEST_FILE} in ${resolve(file, '..')}`, location: { file }, notes: [] },
    ]);
  }
}

/**
 * Ends esbuild's service process now (synchronously: its pipes closed, the process killed).
 * For a process about to exit without returning to its event loop (the CLI's exit guard): the
 * service pings its host, and one that dies with a ping unanswered makes it print a Go
 * deadlock trace on the way out. A later build starts a new service.
 */
export function stopBuildService(): void {
  void stop();
}
