/**
 * Out-of-tree plugin development, as a plugin author does it: the packages packed into
 * tarballs, `emuhost new` making a project in a folder outside the repository, an offline
 * install of only those tarballs (third-party packages from the npm cache that `npm ci`
 * filled, see offline-lock.ts), then the project's own scripts: build, test (the conformance
 * kit), typecheck against the shipped declarations, its device loaded over qtest and under
 * `emuhost dev`, and the installed CLI scaffolding a second device with an ID of its own.
 */
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SDK_VERSION } from '@emuhost/sdk';
import { afterAll, describe, expect, it } from 'vitest';
import { deviceIdFor } from './new.js';
import { writeOfflineLock } from './offline-lock.js';

const repo = fileURLToPath(new URL('../../..', import.meta.url));
const work = realpathSync(mkdtempSync(join(tmpdir(), 'emuhost-out-of-tree-')));
// Generous: the project's node_modules is thousands of files, and the machine may be loaded.
afterAll(() => rmSync(work, { recursive: true, force: true }), 120_000);

/** The environment of a shell the author opened: none of this test runner's variables. */
const env = {
  ...Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !k.startsWith('VITEST') && k !== 'NODE_OPTIONS' && k !== 'FORCE_COLOR',
    ),
  ),
  NO_COLOR: '1',
};

function run(cmd: string, args: readonly string[], cwd: string, input?: string) {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', input, timeout: 180_000 });
  return r;
}

/** Fails with everything the command printed. */
function ok(r: SpawnSyncReturns<string>, what: string): string {
  expect(r.status, `${what}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`).toBe(0);
  return r.stdout;
}

describe('a plugin project outside the repository', () => {
  it('builds, tests, typechecks and loads with only the packed packages installed offline', {
    timeout: 600_000,
  }, () => {
    expect(relative(repo, work).startsWith('..')).toBe(true);

    const packs = join(work, 'packs');
    const tarballs = ok(
      run(process.execPath, [join(repo, 'scripts', 'pack.mjs'), '--out', packs], repo),
      'npm run pack',
    )
      .trim()
      .split('\n')
      .filter((l) => l.endsWith('.tgz'));
    const names = tarballs.map((t) => t.slice(packs.length + 1)).sort();
    expect(names).toEqual([
      'emuhost-cli-0.1.0.tgz',
      'emuhost-core-0.1.0.tgz',
      'emuhost-host-0.1.0.tgz',
      'emuhost-sandbox-0.1.0.tgz',
      `emuhost-sdk-${SDK_VERSION}.tgz`,
      'emuhost-testing-0.1.0.tgz',
    ]);

    // `npx emuhost new device my-dev --dir ../my-dev`, from a folder beside it.
    const elsewhere = join(work, 'elsewhere');
    mkdirSync(elsewhere);
    const bin = join(repo, 'cli', 'bin', 'emuhost.mjs');
    const created = ok(
      run(process.execPath, [bin, 'new', 'device', 'my-dev', '--dir', '../my-dev'], elsewhere),
      'emuhost new',
    );
    const id = deviceIdFor('my-dev');
    const hex = id.toString(16).padStart(4, '0');
    expect(created).toContain(`created device plugin 'my-dev' in ../my-dev (PCI 1234:${hex})`);
    expect(created).toContain('npm run pack');
    const project = join(work, 'my-dev');
    for (const f of ['package.json', 'tsconfig.json', 'vitest.config.ts', '.gitignore'])
      expect(existsSync(join(project, f)), f).toBe(true);

    writeOfflineLock(join(repo, 'package-lock.json'), project, tarballs);
    ok(
      run('npm', ['install', '--offline', '--no-audit', '--no-fund', '-D', ...tarballs], project),
      'npm install --offline (a package missing from the npm cache: run `npm ci` in the repository first)',
    );
    const installed = join(project, 'node_modules', '@emuhost');
    for (const p of ['sdk', 'host', 'cli']) {
      expect(existsSync(join(installed, p, 'dist', 'index.js')), p).toBe(true);
      expect(existsSync(join(installed, p, 'src')), `${p} ships no sources`).toBe(false);
    }
    expect(readFileSync(join(installed, 'cli', 'bin', 'launch.mjs'), 'utf8')).not.toMatch(
      /^import .*scripts/m,
    );

    const built = ok(run('npm', ['run', 'build'], project), 'npm run build');
    expect(built).toMatch(/built my-dev 0\.1\.0 \(device, sdk \^1\.0\.0\)/);
    expect(existsSync(join(project, 'dist', 'emuhost.plugin.json'))).toBe(true);
    expect(ok(run('npm', ['test'], project), 'npm test')).toMatch(/Tests\s+9 passed/);
    ok(run('npm', ['run', 'typecheck'], project), 'npm run typecheck');

    // Its registers over qtest: PCI config space at 04.0, then BAR0's ID register.
    const emuhost = join(project, 'node_modules', '.bin', 'emuhost');
    const qtest = ok(
      run(
        emuhost,
        [
          'qtest',
          '-machine',
          'q35',
          '-device',
          'my-dev,addr=04.0',
          '--plugin',
          'dist/emuhost.plugin.json',
          '-qtest',
          'stdio',
          '-qtest-log',
          '/dev/null',
        ],
        project,
        [
          'outl 0xcf8 0x80002000',
          'inl 0xcfc',
          'outl 0xcf8 0x80002010',
          'outl 0xcfc 0xfebf0000',
          'outl 0xcf8 0x80002004',
          'outl 0xcfc 0x6',
          'readl 0xfebf0000',
          '',
        ].join('\n'),
      ),
      'emuhost qtest',
    ).split('\n');
    expect(qtest[1]).toBe(`OK 0x${hex}1234`);
    expect(Number(qtest[6]!.slice(3))).toBe(id * 0x10000 + 1);

    // `emuhost dev --watch .` runs it (a qtest client on stdin asks what runs).
    const dev = run(
      emuhost,
      ['dev', '--watch', '.', '--qtest', 'stdio'],
      project,
      'emuhost.devices\n',
    );
    expect(ok(dev, 'emuhost dev')).toMatch(/^OK \[\{"id":"my-dev0","plugin":"my-dev"/);
    expect(dev.stderr).toMatch(/emuhost dev: q35 running with my-dev0 \(my-dev 0\.1\.0\)/);

    // The installed CLI scaffolds the next device: standalone, its own ID, `npm install`.
    const second = ok(
      run(emuhost, ['new', 'device', 'second-dev', '--dir', '../second-dev'], project),
      'installed emuhost new',
    );
    expect(second).toContain('  npm install\n');
    expect(second).not.toContain('npm run pack');
    const secondId = deviceIdFor('second-dev');
    expect(secondId).not.toBe(id);
    expect(readFileSync(join(work, 'second-dev', 'src', 'index.ts'), 'utf8')).toContain(
      `deviceId: 0x${secondId.toString(16).padStart(4, '0')}`,
    );
  });
});
