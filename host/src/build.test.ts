/**
 * `emuhost build`'s checks before any bundling: a manifest whose `sdk` range refuses the SDK
 * the build uses is an error at that field; and the host, handed a source manifest instead of
 * the built one, says which file to load.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SDK_VERSION } from '@emuhost/sdk';
import { describe, expect, it } from 'vitest';
import { buildPlugin } from './build.js';
import { formatDiagnostics, PluginLoadError } from './diagnostics.js';
import { PluginHost } from './plugin-host.js';

const FIXTURE = fileURLToPath(new URL('__fixtures__/dma-copy', import.meta.url));

function copy(sdk?: string): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'emuhost-build-')), 'p');
  cpSync(FIXTURE, dir, { recursive: true, filter: (s) => !s.includes('dist') });
  if (sdk !== undefined) {
    const file = join(dir, 'emuhost.plugin.json');
    const m = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(file, `${JSON.stringify({ ...m, sdk }, null, 2)}\n`);
  }
  return dir;
}

async function failure(p: Promise<unknown>): Promise<PluginLoadError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof PluginLoadError) return e;
    throw e;
  }
  throw new Error('it did not fail');
}

describe('emuhost build checks the manifest’s sdk range', () => {
  it('refuses a range the SDK it builds with does not satisfy, at the "sdk" field', async () => {
    const dir = copy('^2.0.0');
    const e = await failure(buildPlugin(dir));
    expect(e.code).toBe('E_SDK_RANGE');
    const text = formatDiagnostics(e.diagnostics);
    expect(text).toMatch(
      new RegExp(
        `emuhost\\.plugin\\.json:\\d+:\\d+: error: \\[dma-copy\\] "sdk": "\\^2\\.0\\.0" does not accept SDK ${SDK_VERSION.replaceAll('.', '\\.')}`,
      ),
    );
    expect(text).toContain('"sdk": "^2.0.0"');
    expect(text).toMatch(/note: a range such as "\^1\.0\.0" accepts it/);
  });

  it('builds with a range that accepts it', async () => {
    const r = await buildPlugin(copy(`>=${SDK_VERSION} <2`));
    expect(r.manifest.builtWithSdk).toBe(SDK_VERSION);
  });
});

describe('loading a source manifest', () => {
  it('says it is the source manifest and names the built one', () => {
    const dir = copy();
    let e: unknown;
    try {
      new PluginHost().loadFile(join(dir, 'emuhost.plugin.json'));
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(PluginLoadError);
    const text = formatDiagnostics((e as PluginLoadError).diagnostics);
    expect(text).toMatch(/this is the plugin's source manifest \(its "entry" is src\/index\.ts\)/);
    expect(text).toContain(
      `\`emuhost build ${dir}\` writes it: ${join(dir, 'dist', 'emuhost.plugin.json')}`,
    );
  });
});
