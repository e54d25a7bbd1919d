/**
 * The build of the workspace packages: each library package's TypeScript becomes JavaScript
 * and declarations in its own dist/, which is what `npm pack` ships and what the `emuhost` bin
 * runs (Node 20 cannot run TypeScript). In the repository, tsc and vitest keep reading the
 * sources through the `emuhost-source` export condition; nothing here changes that.
 *
 *   node scripts/build-packages.mjs [--no-types] [package-dir...]   (`npm run build`: all)
 *
 * Which packages and entries: every workspace package whose `exports` map has an
 * `emuhost-source` condition is a library; each such export is one entry (`emuhost-source`
 * in, `default` out), plus the extra entries its package.json lists under `emuhost.entries`
 * (worker threads, the CLI's bins). So a new package is built by adding its exports map,
 * nothing here. Each entry is one esbuild bundle of the package's own code (ESM, Node 20, a
 * linked source map with the sources inside); every bare import stays external, so a package
 * reaches the others through their published exports. Declarations come from tsc, one run per
 * package. A package whose package.json says `emuhost.bundlePlugins: DIR` also ships the
 * plugins under DIR, built (`@emuhost/host` ships the first-party plugins this way).
 *
 * `ensureBuilt()` is what the bin calls in a checkout: it rebuilds the JavaScript (not the
 * declarations) when a source is newer than the last build, in about a second, so `npx
 * emuhost` is never stale and otherwise costs a few milliseconds of `stat`.
 */
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = join(root, 'node_modules', '.cache', 'emuhost-build');
const STAMP = join(CACHE, 'stamp.json');

/** The workspace package directories, as the root package.json's `workspaces` names them. */
export function workspaceDirs() {
  const { workspaces } = readJson(join(root, 'package.json'));
  return workspaces.flatMap((w) => {
    if (!w.endsWith('/*')) return [join(root, w)];
    const parent = join(root, w.slice(0, -2));
    return readdirSync(parent)
      .map((d) => join(parent, d))
      .filter((d) => existsSync(join(d, 'package.json')));
  });
}

/** Every library package: `{ dir, name, pkg, entries: [{ src, out }] }` (paths absolute). */
export function libraryPackages(dirs = workspaceDirs()) {
  const libs = [];
  for (const dir of dirs) {
    const pkg = readJson(join(dir, 'package.json'));
    const entries = [];
    for (const target of Object.values(pkg.exports ?? {})) {
      if (typeof target !== 'object' || target['emuhost-source'] === undefined) continue;
      entries.push({ src: join(dir, target['emuhost-source']), out: join(dir, target.default) });
    }
    if (entries.length === 0) continue;
    for (const src of pkg.emuhost?.entries ?? []) {
      const rel = relative('src', src).replace(/\.ts$/, '.js');
      entries.push({ src: join(dir, src), out: join(dir, 'dist', rel) });
    }
    libs.push({ dir, name: pkg.name, pkg, entries });
  }
  return libs;
}

/**
 * Bundles each package's entries (see the header) in one esbuild run per package, with code
 * splitting: what two entries share, and what an entry imports with `import()`, is a chunk, so
 * a command loads only the code (and the external packages) it uses. Files are written
 * atomically; chunks are content-hashed, so a process still running an older build keeps
 * finding its own (`clean` removes those no entry uses any more, for a pack).
 */
export async function buildJs(libs, { clean = false } = {}) {
  const { build } = await import('esbuild');
  await Promise.all(
    libs.map(async (lib) => {
      const dist = join(lib.dir, 'dist');
      const r = await build({
        absWorkingDir: lib.dir,
        entryPoints: lib.entries.map((e) => ({
          in: e.src,
          out: relative(dist, e.out).replace(/\.js$/, ''),
        })),
        outdir: dist,
        chunkNames: 'chunks/[name]-[hash]',
        bundle: true,
        splitting: true,
        packages: 'external',
        platform: 'node',
        format: 'esm',
        target: 'node20',
        sourcemap: 'linked',
        legalComments: 'none',
        logLevel: 'warning',
        write: false,
      });
      for (const f of r.outputFiles) writeAtomic(f.path, f.contents);
      // Chunks no entry of this build uses (a build of identical sources makes identical
      // names, so a CLI running meanwhile never loses one it needs).
      const chunks = join(dist, 'chunks');
      if (clean && existsSync(chunks)) {
        const made = new Set(r.outputFiles.map((f) => f.path));
        for (const f of readdirSync(chunks))
          if (!made.has(join(chunks, f))) rmSync(join(chunks, f), { force: true });
      }
    }),
  );
}

/**
 * Writes each package's declarations into its dist/ with tsc, two packages at a time (tsc is
 * a process per package). Rejects on a type error.
 */
export async function buildTypes(libs) {
  mkdirSync(CACHE, { recursive: true });
  const tsc = join(
    dirname(createRequire(import.meta.url).resolve('typescript/package.json')),
    'bin/tsc',
  );
  const one = (lib) => {
    const config = join(CACHE, `${lib.name.replace(/\W/g, '_')}.tsconfig.json`);
    writeFileSync(
      config,
      JSON.stringify({
        extends: join(root, 'tsconfig.base.json'),
        compilerOptions: {
          noEmit: false,
          declaration: true,
          emitDeclarationOnly: true,
          sourceMap: false,
          rootDir: join(lib.dir, 'src'),
          outDir: join(lib.dir, 'dist'),
        },
        include: [join(lib.dir, 'src')],
        exclude: [join(lib.dir, 'src/**/*.test.ts'), join(lib.dir, 'src/**/__fixtures__')],
      }),
    );
    return new Promise((done, fail) => {
      const child = spawn(process.execPath, [tsc, '-p', config], { cwd: root, stdio: 'inherit' });
      child.on('error', fail);
      child.on('exit', (code) =>
        code === 0 ? done() : fail(new Error(`tsc could not emit ${lib.name}'s declarations`)),
      );
    });
  };
  const queue = [...libs];
  const worker = async () => {
    for (let lib = queue.shift(); lib !== undefined; lib = queue.shift()) await one(lib);
  };
  await Promise.all([worker(), worker()]);
}

/** Builds the plugins a package ships (`emuhost.bundlePlugins`) into its dist/plugins/<id>/. */
export async function buildShippedPlugins(libs) {
  for (const lib of libs) {
    const from = lib.pkg.emuhost?.bundlePlugins;
    if (from === undefined) continue;
    const host = join(root, 'host', 'dist', 'index.js');
    const { buildPlugin } = await import(pathToFileURL(host).href);
    const into = join(lib.dir, 'dist', 'plugins');
    rmSync(into, { recursive: true, force: true });
    const parent = resolve(lib.dir, from);
    for (const d of readdirSync(parent)) {
      const dir = join(parent, d);
      if (!existsSync(join(dir, 'emuhost.plugin.json'))) continue;
      const { id } = readJson(join(dir, 'emuhost.plugin.json'));
      await buildPlugin(dir, { outDir: join(into, id) });
    }
  }
}

/** Rebuilds the JavaScript of every library when a source changed since the last build. */
export async function ensureBuilt() {
  const libs = libraryPackages();
  const now = sourceState(libs);
  const last = existsSync(STAMP) ? readJson(STAMP) : undefined;
  const outputs = libs.every((l) => l.entries.every((e) => existsSync(e.out)));
  if (outputs && last?.key === now.key && last.newest === now.newest) return false;
  await buildJs(libs);
  writeStamp(libs, now);
  return true;
}

/** Records what the JavaScript of every library was built from (ensureBuilt's check). */
function writeStamp(libs, state = sourceState(libs)) {
  mkdirSync(CACHE, { recursive: true });
  writeAtomic(STAMP, JSON.stringify(state));
}

/** What a build depends on: the newest mtime and the list of source files and manifests. */
function sourceState(libs) {
  let newest = 0;
  const files = [];
  const walk = (d) => {
    for (const f of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, f.name);
      if (f.isDirectory()) walk(p);
      else {
        files.push(p);
        newest = Math.max(newest, statSync(p).mtimeMs);
      }
    }
  };
  for (const lib of libs) {
    walk(join(lib.dir, 'src'));
    const pj = join(lib.dir, 'package.json');
    files.push(pj);
    newest = Math.max(newest, statSync(pj).mtimeMs);
  }
  return { key: files.join('\n'), newest };
}

function writeAtomic(file, contents) {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(tmp, contents);
  renameSync(tmp, file);
}

function readJson(file) {
  return JSON.parse(readFileSync(file, 'utf8'));
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const types = !args.includes('--no-types');
  const dirs = args.filter((a) => !a.startsWith('--')).map((d) => resolve(d));
  const all = libraryPackages();
  const libs = dirs.length === 0 ? all : all.filter((l) => dirs.includes(l.dir));
  if (libs.length < dirs.length) {
    console.error(
      `not a library package: ${dirs.filter((d) => !libs.some((l) => l.dir === d)).join(', ')}`,
    );
    process.exit(1);
  }
  const t0 = performance.now();
  // Shipped plugins are built with the host's own dist, so the host's JavaScript comes first.
  const needsHost = libs.some((l) => l.pkg.emuhost?.bundlePlugins !== undefined);
  const state = sourceState(all);
  // (and it imports the other libraries' dist).
  await buildJs(needsHost ? all : libs, { clean: true });
  if (needsHost || libs.length === all.length) writeStamp(all, state);
  await buildShippedPlugins(libs);
  if (types) await buildTypes(libs);
  console.log(
    `built ${libs.map((l) => l.name).join(', ')}${types ? ' (JavaScript and declarations)' : ''} in ${Math.round(performance.now() - t0)} ms`,
  );
}
