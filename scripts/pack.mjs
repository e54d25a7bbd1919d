/**
 * `npm run pack [-- --out DIR]`: the tarballs a plugin author installs, one per published
 * workspace package (every library package that is not private: @emuhost/sdk, core, sandbox,
 * host, testing, cli), built first (JavaScript, declarations, the shipped plugins) and packed
 * with `npm pack` into DIR (default packs/). Prints one tarball path a line.
 *
 * Until the packages are on a registry, this is how a project outside the repository gets
 * them: `npm install -D <DIR>/*.tgz` (docs/writing-a-device-plugin.md).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { libraryPackages, root } from './build-packages.mjs';

const { values } = parseArgs({ options: { out: { type: 'string', default: 'packs' } } });
const out = resolve(values.out);
mkdirSync(out, { recursive: true });
const published = libraryPackages().filter((l) => l.pkg.private !== true);

// One build of everything (the packages' prepack would build each on its own), then pack
// without running the scripts again.
const built = spawnSync(process.execPath, [join(root, 'scripts', 'build-packages.mjs')], {
  cwd: root,
  stdio: ['ignore', 'inherit', 'inherit'],
});
if (built.status !== 0) process.exit(built.status ?? 1);
const packed = spawnSync(
  'npm',
  [
    'pack',
    '--ignore-scripts',
    '--json',
    '--pack-destination',
    out,
    ...published.flatMap((l) => ['-w', relative(root, l.dir)]),
  ],
  { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
);
if (packed.status !== 0) process.exit(packed.status ?? 1);
for (const t of JSON.parse(packed.stdout)) console.log(join(out, t.filename));
