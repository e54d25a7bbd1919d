/**
 * Hot reload under a running Linux guest (issue 20), as a user runs it: `emuhost dev --watch
 * <virtio-blk> --watch <riscv-iommu> -- <qemu-system-riscv64 argv>` boots Debian on the virt
 * machine with the RISC-V IOMMU (`iommu-sys=on`) in front of virtio-blk, and the guest's `io`
 * flavour (guest/init/io.sh) writes checksummed blocks to the disk and reads them back in a
 * loop. Meanwhile the test saves the plugins' sources 50 times each (copies of them, so the
 * checkout is untouched), and saves each kind of failure for each plugin (a build error, a
 * throw in `create`, a state migration that throws), each followed by the fix.
 *
 * Every request stays in flight for 5 ms of virtual time (`x-latency-ns`), so reloads land
 * while the old code holds requests taken from the virtqueue; the new code completes them
 * (the device says so on stderr). Nothing here depends on machine speed: each save waits for
 * its report line, however long the build takes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureGuest } from '@emuhost/guest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const MINUTES = 60_000;
const SAVES = 50;
const repo = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = join(repo, 'cli', 'bin', 'emuhost.mjs');
/** Inside the repository (so the copies bundle its libraries and load at the trusted level). */
const WORK = join(repo, 'node_modules', '.cache', 'emuhost-reload-test');

let child: ChildProcess | undefined;
let copies = '';
let stdout = '';
let stderr = '';
let exitCode: number | null = null;
const failures: { plugin: string; kind: string; text: string; file: string; line: number }[] = [];
let disk = '';

/** Resolves once `ok()` holds; fails if the process ends first. */
async function until(what: string, ok: () => boolean): Promise<void> {
  while (!ok()) {
    if (child?.exitCode !== null)
      throw new Error(`emuhost ended before ${what}:\n${stderr.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const count = (re: RegExp) => (stderr.match(re) ?? []).length;
const reloaded = (id: string) => count(new RegExp(`^reload ${id}: \\S+ \\S+ -> `, 'gm'));
const keptOld = () => count(/^the old code keeps running$/gm);

describe('hot reload under a running Debian guest (virtio-blk behind the RISC-V IOMMU)', () => {
  beforeAll(async () => {
    const guest = await ensureGuest();
    mkdirSync(WORK, { recursive: true });
    copies = mkdtempSync(join(WORK, 'run-'));
    for (const p of ['virtio-blk', 'riscv-iommu'])
      for (const f of ['src', 'emuhost.plugin.json', 'package.json'])
        cpSync(join(repo, 'plugins', p, f), join(copies, p, f), { recursive: true });
    disk = join(mkdtempSync(join(tmpdir(), 'emuhost-reload-disk-')), 'disk.img');
    writeFileSync(disk, new Uint8Array(4 << 20));
    const blk = join(copies, 'virtio-blk');
    const iommu = join(copies, 'riscv-iommu');
    child = spawn(
      process.execPath,
      [
        BIN,
        'dev',
        '--watch',
        blk,
        '--watch',
        iommu,
        '--',
        '-machine',
        'virt,iommu-sys=on',
        '-m',
        '512M',
        '-nographic',
        '-bios',
        guest.opensbi.fwDynamic,
        '-kernel',
        guest.kernel.image,
        '-initrd',
        guest.initramfs.io!,
        '-append',
        'console=ttyS0',
        '-drive',
        `if=none,id=d0,file=${disk},format=raw`,
        '-device',
        'virtio-blk-pci,drive=d0,iommu_platform=on,disable-legacy=on,x-latency-ns=5000000',
      ],
      { cwd: repo, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    child.stdout!.on('data', (c) => {
      stdout += String(c);
    });
    child.stderr!.on('data', (c) => {
      stderr += String(c);
    });
    const exited = new Promise<void>((r) =>
      child!.on('exit', (code) => {
        exitCode = code;
        r();
      }),
    );
    await until('the guest loop started', () => stdout.includes('EMUHOST-IO: loop start'));

    /** Saves `file` (relative to the copies) and waits for `done()`. */
    const save = async (file: string, text: string, what: string, done: () => boolean) => {
      writeFileSync(join(copies, file), text);
      await until(what, done);
    };
    const sources = {
      blk: join('virtio-blk', 'src', 'inflight.ts'),
      iommu: join('riscv-iommu', 'src', 'state.ts'),
    };
    const orig = (f: string) => readFileSync(join(repo, 'plugins', f), 'utf8');
    const blkText = orig(sources.blk);
    const iommuText = orig(sources.iommu);
    for (let i = 1; i <= SAVES; i++) {
      const b = reloaded('virtio-blk-pci0');
      await save(sources.blk, `${blkText}\n// save ${i}\n`, `blk save ${i}`, () => {
        return reloaded('virtio-blk-pci0') > b;
      });
      const m = reloaded('iommu-sys');
      await save(sources.iommu, `${iommuText}\n// save ${i}\n`, `iommu save ${i}`, () => {
        return reloaded('iommu-sys') > m;
      });
    }

    // Each kind of failing save, for each plugin, then the fix.
    const breakages = [
      { kind: 'build', insert: 'const x = ;' },
      { kind: 'create', insert: "if (Date) throw new Error('reload test: create refused');" },
    ];
    const plugins = [
      { plugin: 'virtio-blk', id: 'virtio-blk-pci0', create: '  create(host, saved) {' },
      { plugin: 'riscv-iommu', id: 'iommu-sys', create: '  create(ctx, saved) {' },
    ];
    for (const p of plugins) {
      const index = join(p.plugin, 'src', 'index.ts');
      const indexText = orig(index);
      for (const b of breakages) {
        const text = indexText.replace(p.create, `${p.create}\n    ${b.insert}`);
        const line = text.split('\n').indexOf(`    ${b.insert}`) + 1;
        const from = stderr.length;
        const k = keptOld();
        await save(index, text, `${p.plugin} ${b.kind} failure`, () => keptOld() > k);
        failures.push({
          plugin: p.plugin,
          kind: b.kind,
          text: stderr.slice(from),
          file: index,
          line,
        });
        const r = reloaded(p.id);
        await save(index, indexText, `${p.plugin} fix`, () => reloaded(p.id) > r);
      }
      // A state migration that throws: state version 3, whose migration from 2 refuses.
      const state = join(p.plugin, 'src', 'state.ts');
      const stateText = orig(state);
      const refuse = "  if (from === 2) throw new Error('reload test: migration refused');";
      const text = stateText
        .replace('export const STATE_VERSION = 2;', 'export const STATE_VERSION = 3;')
        .replace(
          'export function migrateState(from: number, data: unknown): unknown {',
          `export function migrateState(from: number, data: unknown): unknown {\n${refuse}`,
        );
      const line = text.split('\n').indexOf(refuse) + 1;
      const from = stderr.length;
      const k = keptOld();
      await save(state, text, `${p.plugin} migration failure`, () => keptOld() > k);
      failures.push({
        plugin: p.plugin,
        kind: 'migration',
        text: stderr.slice(from),
        file: state,
        line,
      });
      const r = reloaded(p.id);
      await save(state, stateText, `${p.plugin} migration fix`, () => reloaded(p.id) > r);
    }

    // Any line on the console ends the guest's loop; it checks, reports and powers off.
    child.stdin!.write('stop\n');
    await exited;
  }, 40 * MINUTES);

  afterAll(() => {
    if (child?.exitCode === null) child.kill('SIGKILL');
    if (copies !== '') rmSync(copies, { recursive: true, force: true });
  });

  const guestConsole = () => stdout;

  it('the guest loop ran throughout, and the guest powered off', () => {
    expect(guestConsole(), stderr.slice(-2000)).toMatch(/EMUHOST-IO: loop end after \d+ rounds/);
    expect(guestConsole()).toContain('EMUHOST-IO: poweroff');
    expect(exitCode).toBe(0);
    expect(count(/^reload virtio-blk-pci0: .* -> .*state v2 kept/gm)).toBeGreaterThanOrEqual(SAVES);
    expect(reloaded('iommu-sys')).toBeGreaterThanOrEqual(SAVES);
  });

  it('zero guest I/O errors and checksum mismatches, no kernel warning', () => {
    expect(guestConsole()).not.toMatch(/EMUHOST-IO: (ERROR|MISMATCH)/);
    expect(guestConsole()).not.toMatch(/WARNING:|BUG:|I\/O error|blk_update_request/);
    expect((guestConsole().match(/EMUHOST-IO: round \d+ ok/g) ?? []).length).toBeGreaterThan(10);
  });

  it('the image holds what the guest last wrote to each block (checked on the host)', () => {
    const img = readFileSync(disk);
    const blocks = [
      ...guestConsole().matchAll(/EMUHOST-IO: block (\d+) sector (\d+) md5 ([0-9a-f]{32})/g),
    ];
    expect(blocks.length).toBeGreaterThan(0);
    for (const [, , sector, md5] of blocks) {
      const at = Number(sector) * 512;
      const sum = createHash('md5')
        .update(img.subarray(at, at + 8192))
        .digest('hex');
      expect(sum, `block at sector ${sector}`).toBe(md5);
    }
  });

  it('reloads landed with requests in flight, and the new code completed them', () => {
    const carried = [...stderr.matchAll(/carried (\d+) requests? in flight over/g)];
    const completed = [
      ...stderr.matchAll(/completed the (\d+) requests? in flight the previous code/g),
    ];
    expect(carried.length).toBeGreaterThan(0);
    expect(completed.length).toBeGreaterThan(0);
    // Whatever was carried was completed in the end (by the code that took over, or by a
    // later one when another reload came first: it carries them again).
    const events = [...stderr.matchAll(/(carried|completed the) \d+ requests? in flight/g)];
    expect(events.at(-1)?.[1]).toBe('completed the');
  });

  it('failing saves keep the old code running and name the file and line', () => {
    expect(failures.map((f) => `${f.plugin} ${f.kind}`)).toEqual([
      'virtio-blk build',
      'virtio-blk create',
      'virtio-blk migration',
      'riscv-iommu build',
      'riscv-iommu create',
      'riscv-iommu migration',
    ]);
    for (const f of failures) {
      const base = f.file.split('/').pop()!;
      expect(f.text, `${f.plugin} ${f.kind}`).toMatch(
        new RegExp(`${base.replace('.', '\\.')}:${f.line}:\\d+`),
      );
      if (f.kind !== 'build') expect(f.text).toMatch(/rolled back \(reload test: \w+ refused/);
    }
  });
});
