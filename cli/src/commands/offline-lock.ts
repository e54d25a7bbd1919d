/**
 * Test support: an offline install of a project outside the repository. npm cannot resolve a
 * version range, nor find a lock entry's tarball without its address, unless the registry's
 * package metadata is in its cache, and `npm ci` need not have put it there. So the project
 * gets a package-lock.json whose third-party entries are copied from the repository's own
 * lock (the versions and integrities whose tarballs `npm ci` put in the npm cache), each with
 * its tarball's address; `npm install --offline <tarballs>` then takes every third-party
 * package from the cache, by integrity, and the `@emuhost/*` ones from the tarballs, checking
 * their declared dependencies as a registry install would.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where npm's tarballs live: the cache finds them by integrity, the address names them. */
const REGISTRY = 'https://registry.npmjs.org';

interface LockEntry {
  readonly version?: string;
  readonly resolved?: string;
  readonly link?: boolean;
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
}

interface Manifest {
  readonly name: string;
  readonly version: string;
  readonly dependencies?: Record<string, string>;
  readonly devDependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
}

/**
 * Writes `project`/package-lock.json with the repository lock's entries for every
 * third-party package the project or the tarballs depend on, and what those depend on.
 * Returns the names it started from. Throws when the repository's lock lacks one.
 */
export function writeOfflineLock(
  repoLockFile: string,
  project: string,
  tarballs: readonly string[],
): string[] {
  const lock = JSON.parse(readFileSync(repoLockFile, 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const pkg = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as Manifest;
  const thirdParty = (m: Manifest, withDev: boolean) =>
    Object.keys({
      ...m.dependencies,
      ...m.peerDependencies,
      ...(withDev ? m.devDependencies : {}),
    }).filter((n) => !n.startsWith('@emuhost/'));
  const roots = new Set(thirdParty(pkg, true));
  for (const t of tarballs) {
    const text = execFileSync('tar', ['-xzOf', t, 'package/package.json'], { encoding: 'utf8' });
    for (const n of thirdParty(JSON.parse(text) as Manifest, false)) roots.add(n);
  }
  // Node's resolution over the lock's paths: node_modules/a/node_modules/b, then upwards.
  const resolveFrom = (path: string, name: string): string | undefined => {
    for (let base = path; ; ) {
      const at = `${base === '' ? '' : `${base}/`}node_modules/${name}`;
      if (lock.packages[at] !== undefined && lock.packages[at].link !== true) return at;
      if (base === '') return undefined;
      const i = base.lastIndexOf('/node_modules/');
      base = i < 0 ? '' : base.slice(0, i);
    }
  };
  const entries: Record<string, LockEntry> = {};
  const queue = [...roots].map((n) => {
    const at = resolveFrom('', n);
    if (at === undefined) throw new Error(`${n} is not in the repository's package-lock.json`);
    return at;
  });
  for (let at = queue.pop(); at !== undefined; at = queue.pop()) {
    if (entries[at] !== undefined) continue;
    const e = lock.packages[at]!;
    // With its tarball's address and integrity, an entry installs from the cache without
    // the package's registry metadata (the repository's lock may omit the address).
    const name = at.slice(at.lastIndexOf('node_modules/') + 'node_modules/'.length);
    entries[at] = {
      resolved: `${REGISTRY}/${name}/-/${name.split('/').pop()}-${e.version}.tgz`,
      ...e,
    };
    const deps = { ...e.dependencies, ...e.optionalDependencies, ...e.peerDependencies };
    for (const d of Object.keys(deps)) {
      // Optional peers the repository never installed are not needed here either.
      const found = resolveFrom(at, d);
      if (found !== undefined) queue.push(found);
    }
  }
  const root = {
    name: pkg.name,
    version: pkg.version,
    ...(pkg.dependencies !== undefined && { dependencies: pkg.dependencies }),
    ...(pkg.devDependencies !== undefined && { devDependencies: pkg.devDependencies }),
  };
  writeFileSync(
    join(project, 'package-lock.json'),
    `${JSON.stringify(
      {
        name: pkg.name,
        version: pkg.version,
        lockfileVersion: 3,
        requires: true,
        packages: { '': root, ...entries },
      },
      null,
      2,
    )}\n`,
  );
  return [...roots];
}
