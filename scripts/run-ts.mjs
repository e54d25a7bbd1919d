#!/usr/bin/env node
// Runs a TypeScript entry of this repository without a separate build step.
//
// Why: the workspace packages export their TypeScript sources under the
// `emuhost-source` condition (for tsc and vitest). Node 20 cannot run TypeScript, so
// this bundles the entry with esbuild (workspace sources inlined, every other package
// left external) and imports it. The bundle is written inside the entry's own package
// (node_modules/.cache/emuhost-run/), so Node resolves third-party packages exactly as the
// package itself would: its own node_modules first (where npm puts a version that conflicts
// with the root's), then the root's. A bundle takes ~100 ms.
import { existsSync, mkdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  console.error('usage: node scripts/run-ts.mjs <entry.ts> [args...]');
  process.exit(2);
}
const entryPath = resolve(root, entry);
let pkgDir = dirname(entryPath);
while (pkgDir !== root && !existsSync(join(pkgDir, 'package.json'))) pkgDir = dirname(pkgDir);
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
        // Keep third-party packages external; inline our own workspace packages.
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
