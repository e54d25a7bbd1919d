/**
 * `emuhost new device|iommu <name> [--dir DIR]`: copies a template plugin (cli/templates/, itself a
 * working plugin that CI builds and tests) and renames it. The result builds, loads and
 * passes its own tests as it is.
 *
 * Two shapes, by where it goes. Inside this repository's checkout it is one more workspace
 * package (`plugins/<name>`, tested by the repository's vitest). Anywhere else it is a
 * standalone project (templates/project/: its own package.json, tsconfig, vitest config)
 * that needs only the published `@emuhost/*` packages, never the repository. Each new device
 * gets a PCI device ID of its own, derived from its name, so two scaffolded devices can sit
 * in one machine.
 */
import { cpSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { EmuhostError, SDK_VERSION } from '@emuhost/sdk';
import { VERSION } from '../version.js';

const TEMPLATES = { device: 'my-device', iommu: 'my-iommu' } as const;
/** The template device's PCI device ID: every occurrence is the new device's ID. */
const TEMPLATE_DEVICE_ID = 0x4d44;
/** PCI device IDs under vendor 0x1234 that emuhost's own devices use (edu) or reserve. */
const TAKEN_DEVICE_IDS = new Set([0x11e8, 0x1111, TEMPLATE_DEVICE_ID]);

/**
 * The tools a standalone project's scripts run, at the versions this repository is tested
 * with (`new.test.ts` keeps them equal to the root package.json's). vitest's range is
 * `@emuhost/testing`'s peer range, read at run time.
 */
export const TOOL_VERSIONS = { typescript: '^7.0.2', '@types/node': '^20.19.43' } as const;

function cliDir(): string {
  return dirname(createRequire(import.meta.url).resolve('@emuhost/cli/package.json'));
}

export function templatesDir(): string {
  return join(cliDir(), 'templates');
}

/** The repository's root when this CLI runs from a checkout of it, else undefined. */
export function checkoutRoot(): string | undefined {
  const root = resolve(cliDir(), '..');
  return existsSync(join(cliDir(), 'src')) && existsSync(join(root, 'scripts', 'pack.mjs'))
    ? root
    : undefined;
}

export async function newCommand(kind: string, name: string, o: { dir?: string }): Promise<void> {
  const target = o.dir ?? (checkoutRoot() !== undefined ? join('plugins', name) : name);
  const made = scaffold(kind, name, target);
  // As given when near (`../elsewhere`), absolute when it is far from here.
  const near = relative(process.cwd(), made.dir) || '.';
  const rel = near.startsWith(`..${sep}..`) ? made.dir : near;
  const pci = made.deviceId === undefined ? '' : ` (PCI 1234:${hex4(made.deviceId)})`;
  const lines = [`created ${kind} plugin '${name}' in ${rel}${pci}`, '', 'next:'];
  if (!made.standalone) {
    lines.push(
      '  npm install                      # register it as a workspace (updates package-lock.json)',
      `  npx emuhost build ${rel}`,
      `  npx vitest run ${rel}`,
    );
  } else {
    const repo = checkoutRoot();
    lines.push(`  cd ${rel}`);
    if (repo === undefined) lines.push('  npm install');
    else
      lines.push(
        `  (cd ${repo} && npm run pack)    # the @emuhost packages as tarballs in ${join(repo, 'packs')}`,
        `  npm install -D ${join(repo, 'packs')}/*.tgz`,
      );
    lines.push(
      '  npm run build                    # dist/: the bundle and the built manifest',
      '  npm test                         # the conformance kit and the plugin’s own tests',
      `  npx emuhost qtest ${qtestArgs(kind, name)} -qtest stdio`,
      '  npx emuhost dev --watch .        # a machine running it, reloaded on every save',
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

export interface Scaffolded {
  readonly dir: string;
  /** A standalone project (outside this repository), not a workspace package. */
  readonly standalone: boolean;
  /** A device's PCI device ID (vendor 0x1234). */
  readonly deviceId?: number;
}

/** Creates the plugin (see the header) and says what it made. */
export function scaffold(kind: string, name: string, target: string): Scaffolded {
  if (kind !== 'device' && kind !== 'iommu') {
    throw new EmuhostError('E_BAD_ARGUMENT', `kind must be 'device' or 'iommu', not '${kind}'`);
  }
  if (!/^[a-z][a-z0-9-]{0,63}$/.test(name)) {
    throw new EmuhostError(
      'E_BAD_ARGUMENT',
      `'${name}' is not a plugin id: lowercase letters, digits and '-', starting with a letter`,
    );
  }
  const dir = resolve(target);
  if (existsSync(dir)) throw new EmuhostError('E_BAD_ARGUMENT', `${dir} already exists`);
  const repo = checkoutRoot();
  const standalone = repo === undefined || !`${dir}${sep}`.startsWith(`${repo}${sep}`);
  const template = join(templatesDir(), kind);
  cpSync(template, dir, {
    recursive: true,
    // (Relative: an installed CLI's templates are themselves under node_modules/.)
    filter: (src) => {
      const rel = relative(template, src);
      return !/^(dist|node_modules)([\\/]|$)/.test(rel) && !(standalone && rel === 'package.json');
    },
  });
  if (standalone) writeProject(kind, name, dir);
  const deviceId = kind === 'device' ? deviceIdFor(name) : undefined;
  const placeholder = TEMPLATES[kind];
  for (const file of walk(dir)) {
    let text = readFileSync(file, 'utf8');
    const before = text;
    text = text.replaceAll(placeholder, name);
    if (deviceId !== undefined)
      text = text.replaceAll(`0x${TEMPLATE_DEVICE_ID.toString(16)}`, `0x${hex4(deviceId)}`);
    if (text !== before) writeFileSync(file, text);
  }
  return { dir, standalone, ...(deviceId !== undefined && { deviceId }) };
}

/**
 * A PCI device ID for a new device under vendor 0x1234 (QEMU's, for emulated devices): FNV-1a
 * of its name folded into 0x4000-0xbfff, stepping past IDs emuhost's own devices use. The
 * same name always gets the same ID; different names differ but for a 1-in-32768 chance.
 */
export function deviceIdFor(name: string): number {
  let h = 0x811c9dc5;
  for (const c of name) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  let id = 0x4000 + (h % 0x8000);
  while (TAKEN_DEVICE_IDS.has(id)) id = 0x4000 + ((id - 0x4000 + 1) % 0x8000);
  return id;
}

/** A standalone project's own files: package.json, tsconfig, vitest config, README. */
function writeProject(kind: 'device' | 'iommu', name: string, dir: string): void {
  const project = join(templatesDir(), 'project');
  const testing = JSON.parse(
    readFileSync(createRequire(import.meta.url).resolve('@emuhost/testing/package.json'), 'utf8'),
  ) as { version: string; peerDependencies: { vitest: string } };
  const manifest = JSON.parse(
    readFileSync(join(templatesDir(), kind, 'emuhost.plugin.json'), 'utf8'),
  ) as { description: string };
  const pkg = {
    name,
    version: '0.1.0',
    private: true,
    type: 'module',
    description: manifest.description,
    scripts: {
      build: 'emuhost build .',
      test: 'vitest run',
      typecheck: 'tsc',
      dev: 'emuhost dev --watch .',
    },
    // All of them for development: the SDK is the plugin's one import, but the bundle leaves
    // it out (the host that loads the plugin supplies its own), so nothing is a run-time
    // dependency.
    devDependencies: {
      '@emuhost/sdk': `^${SDK_VERSION}`,
      '@emuhost/cli': `^${VERSION}`,
      '@emuhost/host': `^${VERSION}`,
      '@emuhost/testing': `^${testing.version}`,
      ...TOOL_VERSIONS,
      vitest: testing.peerDependencies.vitest,
    },
  };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  for (const f of ['tsconfig.json', 'vitest.config.ts']) cpSync(join(project, f), join(dir, f));
  // npm leaves a file named .gitignore out of a package: the template's is `gitignore`.
  cpSync(join(project, 'gitignore'), join(dir, '.gitignore'));
  const readme = readFileSync(join(project, 'README.md'), 'utf8')
    .replaceAll('QTEST_ARGS', qtestArgs(kind, name))
    .replaceAll('my-plugin', name);
  writeFileSync(join(dir, 'README.md'), readme);
}

/** The qtest arguments that load the plugin into q35 (an IOMMU with edu to translate). */
function qtestArgs(kind: string, name: string): string {
  const devices = kind === 'iommu' ? `-device ${name} -device edu` : `-device ${name}`;
  return `-machine q35 ${devices} --plugin dist/emuhost.plugin.json`;
}

function hex4(n: number): string {
  return n.toString(16).padStart(4, '0');
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}
