/**
 * The runtime of the SDK this host was built with, as a CommonJS bundle for plugin realms.
 *
 * It is bundled from the SDK's own sources with esbuild the first time it is needed (a few
 * ms), so the code a plugin's realm evaluates is always the SDK the host was built from: no
 * generated file can go stale.
 */

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { SDK_VERSION } from '@emuhost/sdk';
import { buildSync } from 'esbuild';
import type { ServedSdk } from './sdk-server.js';

let cached: ServedSdk | undefined;

export function currentSdkRuntime(): ServedSdk {
  if (cached !== undefined) return cached;
  const pkg = createRequire(import.meta.url).resolve('@emuhost/sdk/package.json');
  const out = buildSync({
    entryPoints: [join(dirname(pkg), 'src', 'index.ts')],
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
