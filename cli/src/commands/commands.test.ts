import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deviceCases, type IommuKit, iommuCases, loadPluginDir } from '@emuhost/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { scaffold } from './new.js';

const repo = fileURLToPath(new URL('../../..', import.meta.url));
const bin = join(repo, 'cli', 'bin', 'emuhost.mjs');
// Inside the repository, so the scaffold resolves @emuhost/* as a plugins/ directory would.
const scratch = join(repo, 'cli', 'node_modules', '.cache', 'scaffold-test');
mkdirSync(scratch, { recursive: true });
const work = mkdtempSync(join(scratch, 'run-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const emuhost = (...args: string[]) =>
  spawnSync(process.execPath, [bin, ...args], { cwd: repo, encoding: 'utf8' });

describe('emuhost new', { timeout: 60_000 }, () => {
  it('scaffolds a device plugin that builds, loads and passes the conformance suite', async () => {
    const { dir, standalone } = scaffold('device', 'hello-dma', join(work, 'hello-dma'));
    expect(standalone).toBe(false);
    expect(JSON.parse(readFileSync(join(dir, 'emuhost.plugin.json'), 'utf8')).id).toBe('hello-dma');
    expect(readFileSync(join(dir, 'package.json'), 'utf8')).toContain('@emuhost-plugins/hello-dma');
    const plugin = await loadPluginDir(dir);
    expect(plugin.manifest.id).toBe('hello-dma');
    for (const run of Object.values(deviceCases({ plugin: () => plugin }))) await run();
  });

  it('scaffolds an IOMMU plugin that passes the IOMMU suite', async () => {
    const { dir } = scaffold('iommu', 'hello-mmu', join(work, 'hello-mmu'));
    const plugin = await loadPluginDir(dir);
    const tables = new WeakMap<IommuKit, number>();
    const cases = iommuCases({
      plugin: () => plugin,
      setup(kit) {
        tables.set(kit, kit.alloc(1 << 23));
        kit.driver.writel(0xfed00000, tables.get(kit)!);
        kit.driver.writel(0xfed00008, 1 << 20);
      },
      map(kit, m) {
        kit.driver.writeq(
          tables.get(kit)! + (m.iova / 4096) * 8,
          BigInt(m.gpa) | { read: 1n, write: 2n, 'read-write': 3n }[m.perm],
        );
        kit.driver.writel(0xfed0000c, m.iova / 4096);
      },
      unmap(kit, m) {
        kit.driver.writeq(tables.get(kit)! + (m.iova / 4096) * 8, 0n);
        kit.driver.writel(0xfed0000c, m.iova / 4096);
      },
    });
    for (const run of Object.values(cases)) await run();
  });

  it('refuses a bad name, an unknown kind and an existing directory, with exit code 1', () => {
    const r = emuhost('new', 'device', 'Bad_Name', '--dir', join(work, 'x'));
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      "emuhost: E_BAD_ARGUMENT: 'Bad_Name' is not a plugin id: lowercase letters, digits and '-', starting with a letter\n",
    );
    expect(emuhost('new', 'gpu', 'x', '--dir', join(work, 'y')).stderr).toMatch(
      /kind must be 'device' or 'iommu'/,
    );
    expect(emuhost('new', 'device', 'x', '--dir', work).stderr).toMatch(/already exists/);
  });
});

describe('emuhost build', { timeout: 60_000 }, () => {
  it('builds a plugin directory and says where the bundle went', () => {
    const out = join(work, 'built');
    const r = emuhost('build', join(repo, 'host/src/__fixtures__/dma-copy'), '--out', out);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(
      /^built dma-copy 1\.0\.0 \(device, sdk \^1\.0\.0\) in \d+ ms\n {2}bundle {4}.*dma-copy\.js \(\d+ bytes with its map\)/,
    );
  });

  it('prints esbuild-style diagnostics and exits 1 for a plugin that imports fs, with no stack trace', () => {
    const dir = join(work, 'bad');
    mkdirSync(join(dir, 'src'), { recursive: true });
    writeFileSync(
      join(dir, 'emuhost.plugin.json'),
      JSON.stringify({
        id: 'bad',
        version: '1.0.0',
        kind: 'device',
        sdk: '^1.0.0',
        entry: 'src/index.ts',
        capabilities: [],
      }),
    );
    writeFileSync(
      join(dir, 'src/index.ts'),
      "import { readFileSync } from 'fs';\nreadFileSync('/etc/passwd');\n",
    );
    const r = emuhost('build', dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${join(dir, 'src/index.ts')}:1:`);
    expect(r.stderr).toContain(
      "error: [bad] 'fs' cannot be imported by a plugin: it is a Node builtin",
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('--version prints one line', () => {
    expect(execFileSync(process.execPath, [bin, '--version'], { encoding: 'utf8' })).toBe(
      '0.1.0\n',
    );
  });
});

describe('emuhost info', { timeout: 60_000 }, () => {
  it("shows a machine file's machine as built, one view or all, and names an unknown view", () => {
    const file = join(work, 'machine.json');
    writeFileSync(
      file,
      JSON.stringify({
        machine: 'q35',
        ram: '64M',
        devices: [{ plugin: 'edu', id: 'edu0', addr: '03.0' }],
        iommus: [{ plugin: 'vtd', id: 'vtd0' }],
      }),
    );
    const pci = emuhost('info', file, 'pci');
    expect(pci.status).toBe(0);
    expect(pci.stdout).toContain("Bus 0, device 3, function 0 (pcie.0 00:03.0, 'edu0')");
    expect(pci.stdout).toContain('PCI device 1234:11e8');
    const iommu = emuhost('info', file, 'iommu');
    expect(iommu.stdout).toMatch(/edu0 \(pcie\.0 requester 00:03\.0\): vtd0/);
    const all = emuhost('info', file);
    for (const v of ['mtree', 'mtree -f', 'pci', 'iommu', 'devices'])
      expect(all.stdout).toContain(`# info ${v}\n`);
    const bad = emuhost('info', file, 'bogus');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe(
      "emuhost: E_BAD_ARGUMENT: no view 'bogus' (views: mtree, mtree -f, pci, iommu, devices)\n",
    );
  });
});
