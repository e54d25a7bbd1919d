/**
 * The published package's version is the SDK's: `@emuhost/sdk`'s package.json says
 * SDK_VERSION, and every workspace package that depends on the SDK accepts it. A bump of
 * SDK_VERSION alone fails here, naming the files to change.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { SDK_VERSION } from './contract.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const json = (file: string) => JSON.parse(readFileSync(join(root, file), 'utf8'));

/** Every package.json of the workspace (and the CLI's templates, which are copied as they are). */
function manifests(): string[] {
  const { workspaces } = json('package.json') as { workspaces: string[] };
  const dirs = workspaces.flatMap((w) =>
    w.endsWith('/*')
      ? readdirSync(join(root, w.slice(0, -2)), { withFileTypes: true })
          .filter((d) => d.isDirectory())
          .map((d) => `${w.slice(0, -2)}/${d.name}`)
      : [w],
  );
  return [...dirs, 'cli/templates/device', 'cli/templates/iommu']
    .map((d) => `${d}/package.json`)
    .filter((f) => {
      try {
        readFileSync(join(root, f));
        return true;
      } catch {
        return false;
      }
    });
}

describe('the SDK package version', () => {
  it('is SDK_VERSION, in sdk/package.json and in package-lock.json', () => {
    expect(
      json('sdk/package.json').version,
      'set "version" in sdk/package.json to SDK_VERSION, then run `npm install`',
    ).toBe(SDK_VERSION);
    expect(json('package-lock.json').packages.sdk.version, 'run `npm install`').toBe(SDK_VERSION);
  });

  it('satisfies every workspace dependency on @emuhost/sdk', () => {
    const stale = manifests().flatMap((f) => {
      const pkg = json(f) as Record<string, Record<string, string> | undefined>;
      return ['dependencies', 'devDependencies', 'peerDependencies'].flatMap((k) => {
        const range = pkg[k]?.['@emuhost/sdk'];
        return range !== undefined && !semver.satisfies(SDK_VERSION, range)
          ? [`${f} ${k}: ${range}`]
          : [];
      });
    });
    expect(stale, `give these ^${SDK_VERSION}`).toEqual([]);
  });
});
