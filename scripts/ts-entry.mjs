// Bundles a TypeScript entry of this repository with esbuild and imports it.
//
// Why: the workspace packages export their TypeScript sources under the `emuhost-source`
// condition (for tsc and vitest), and Node 20 cannot run TypeScript. The bundle inlines our
// workspace packages and leaves third-party ones external. It is written inside the entry's
// own package (node_modules/.cache/emuhost-run/), so Node resolves third-party packages as
// that package would: its own node_modules first, then the root's. A bundle takes ~100 ms.
import { existsSync, mkdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Bundles `entry` (relative to the repository root) and imports it with `args` as its argv. */
export async function runTs(entry, args) {
  const entryPath = resolve(root, entry);
  let pkgDir = dirname(entryPath);
  while (pkgDir !== root && !existsSync(join(pkgDir, 'package.json'))) {
    // An entry outside the repository: stop at the filesystem root instead of looping there.
    if (dirname(pkgDir) === pkgDir) {
      pkgDir = root;
      break;
    }
    pkgDir = dirname(pkgDir);
  }
  const outDir = join(pkgDir, 'node_modules', '.cache', 'emuhost-run');
  mkdirSync(outDir, { recursive: true });
  const outfile = join(outDir, `${basename(entry).replace(/\.ts$/, '')}.mjs`);
  await build({
    entryPoints: [entryPath],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'inline',
    conditions: ['emuhost-source'],
    logLevel: 'warning',
    plugins: [
      {
        name: 'external-node-modules',
        setup(b) {
          b.onResolve({ filter: /^[^./]/ }, (a) =>
            a.path.startsWith('@emuhost/') ? undefined : { path: a.path, external: true },
          );
        },
      },
    ],
  });
  process.argv = [process.argv[0], outfile, ...args];
  process.setSourceMapsEnabled(true);
  await import(pathToFileURL(outfile).href);
}
