/**
 * The runtime of the SDK this host was built with, as a CommonJS bundle for plugin realms.
 *
 * It is bundled from the SDK's own sources with esbuild the first time it is needed (a few
 * ms), so the code a plugin's realm evaluates is always the SDK the host was built from: no
 * generated file can go stale. An installed `@emuhost/sdk` has no sources: its built module
 * is bundled instead.
 */

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { SDK_VERSION } from '@emuhost/sdk';
import { buildSync } from 'esbuild';
import type { ServedSdk } from './sdk-server.js';

let cached: ServedSdk | undefined;

export function currentSdkRuntime(): ServedSdk {
  if (cached !== undefined) return cached;
  const dir = dirname(createRequire(import.meta.url).resolve('@emuhost/sdk/package.json'));
  // The sources in a checkout of the repository, the built module in an installed package.
  const source = join(dir, 'src', 'index.ts');
  const out = buildSync({
    entryPoints: [existsSync(source) ? source : join(dir, 'dist', 'index.js')],
    bundle: true,
    format: 'cjs',
    platform: 'neutral',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  cached = { version: SDK_VERSION, code: out.outputFiles[0]!.text };
  return cached;
}
