/**
 * `emuhost new device|iommu <name>`: copies a template plugin (cli/templates/, itself a
 * working plugin that CI builds and tests) and renames it. The result builds, loads and
 * passes its own tests as it is.
 */
import { cpSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { EmuhostError } from '@emuhost/sdk';

const TEMPLATES = { device: 'my-device', iommu: 'my-iommu' } as const;

export function templatesDir(): string {
  return join(
    dirname(createRequire(import.meta.url).resolve('@emuhost/cli/package.json')),
    'templates',
  );
}

export async function newCommand(kind: string, name: string, o: { dir?: string }): Promise<void> {
  const dir = scaffold(kind, name, o.dir ?? join('plugins', name));
  const rel = relative(process.cwd(), dir) || '.';
  process.stdout.write(
    `created ${kind} plugin '${name}' in ${rel}\n\nnext:\n` +
      '  npm install                      # register it as a workspace (updates package-lock.json)\n' +
      `  npx emuhost build ${rel}\n` +
      `  npx vitest run ${rel}\n`,
  );
}

/** Creates the plugin and returns its directory. */
export function scaffold(kind: string, name: string, target: string): string {
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
  const from = join(templatesDir(), kind);
  cpSync(from, dir, {
    recursive: true,
    filter: (src) => !/[\\/](dist|node_modules)([\\/]|$)/.test(src),
  });
  const placeholder = TEMPLATES[kind];
  for (const file of walk(dir)) {
    const text = readFileSync(file, 'utf8');
    if (text.includes(placeholder)) writeFileSync(file, text.replaceAll(placeholder, name));
  }
  return dir;
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}
