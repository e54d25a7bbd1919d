/**
 * `emuhost dev` in-process, on a scaffolded copy of the device template: a source edit is
 * rebuilt, pre-flighted and reloaded into the running machine, and the new code answers; a
 * syntax error is reported at its file and line and the old code keeps running.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createDriver } from '@emuhost/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { type DevCycle, type DevSession, startDev } from './dev.js';
import { scaffold } from './new.js';

let session: DevSession | undefined;
afterEach(async () => {
  await session?.close();
  session = undefined;
});

function text(s: PassThrough): () => string {
  let all = '';
  s.on('data', (b: Buffer) => {
    all += b.toString();
  });
  return () => all;
}

describe('emuhost dev', () => {
  it('reloads a watched plugin on a source edit; the new code serves accesses', async () => {
    const { dir, deviceId } = scaffold(
      'device',
      'hot-dev',
      join(mkdtempSync(join(tmpdir(), 'emuhost-dev-')), 'p'),
    );
    // The template's ID register answers the device ID in its high half, then a revision.
    const id = (rev: number) => `0x${deviceId!.toString(16).padStart(4, '0')}000${rev}`;
    const out = new PassThrough();
    const err = new PassThrough();
    const stdout = text(out);
    const stderr = text(err);
    session = await startDev({ watch: [dir], out, err, debounceMs: 10 });
    expect(stdout()).toMatch(/emuhost dev: q35 running with hot-dev0 \(hot-dev 0\.1\.0\)/);
    const d = createDriver(session.emu);
    const dev = d.pciFind(0x1234, deviceId!)!;
    const bar = dev.iomap(0).addr;
    dev.enable();
    d.writel(bar + 0x08, 0x1234);
    expect(d.readl(bar)).toBe(Number(id(1)));

    const cycles: DevCycle[] = [];
    const next = () =>
      new Promise<DevCycle>((done) => {
        session!.onCycle = (c) => {
          cycles.push(c);
          done(c);
        };
      });
    const src = join(dir, 'src', 'index.ts');
    const orig = readFileSync(src, 'utf8');

    // An edit: the watcher rebuilds and reloads.
    let cycle = next();
    writeFileSync(src, orig.replace(`return ${id(1)};`, `return ${id(2)};`));
    let c = await cycle;
    expect(c.reports?.[0]).toMatchObject({
      device: 'hot-dev0',
      outcome: 'reloaded',
      state: 'kept',
    });
    expect(stdout()).toMatch(/reload hot-dev0: hot-dev 0\.1\.0 -> 0\.1\.0, state v1 kept, .* ms/);
    expect(d.readl(bar), 'the new code answers').toBe(Number(id(2)));
    expect(d.readl(bar + 0x08), 'the state survived').toBe(0x1234);

    // A syntax error: reported at its file and line; the old code keeps running.
    cycle = next();
    writeFileSync(src, orig.replace(`return ${id(1)};`, 'return 0x4d44 +;'));
    c = await cycle;
    expect(c.reports).toBeUndefined();
    const line = orig.split('\n').findIndex((l) => l.includes(`return ${id(1)};`)) + 1;
    expect(stderr()).toMatch(new RegExp(`src[\\\\/]index\\.ts:${line}:\\d+: error: \\[hot-dev\\]`));
    expect(stderr()).toMatch(/the old code keeps running/);
    expect(d.readl(bar)).toBe(Number(id(2)));
  });

  it('reports a fault in the watched plugin at its source line; saving a fix restarts the quarantined device', async () => {
    const { dir, deviceId } = scaffold(
      'device',
      'fix-dev',
      join(mkdtempSync(join(tmpdir(), 'emuhost-dev-')), 'p'),
    );
    const idLine = `return 0x${deviceId!.toString(16).padStart(4, '0')}0001;`;
    const src = join(dir, 'src', 'index.ts');
    const orig = readFileSync(src, 'utf8');
    const bug = orig.replace(idLine, "throw new Error('not yet');");
    expect(bug).not.toBe(orig);
    writeFileSync(src, bug);
    const out = new PassThrough();
    const err = new PassThrough();
    const stdout = text(out);
    const stderr = text(err);
    session = await startDev({ watch: [dir], out, err, debounceMs: 10 });
    const d = createDriver(session.emu);
    const dev = d.pciFind(0x1234, deviceId!)!;
    const bar = dev.iomap(0).addr;
    dev.enable();
    expect(d.readl(bar)).toBe(0xffffffff);
    const line = bug.split('\n').findIndex((l) => l.includes("throw new Error('not yet');")) + 1;
    expect(stderr()).toMatch(
      new RegExp(
        `emuhost: device fix-dev0 \\(plugin fix-dev 0\\.1\\.0, isolated\\) faulted in its MMIO read handler .*: Error: not yet\n {4}at .*src[\\\\/]index\\.ts:${line}:`,
      ),
    );
    expect(session.emu.devices.get('fix-dev0')!.slot.scope.guard.quarantined).toBe(true);

    const cycle = new Promise<DevCycle>((done) => {
      session!.onCycle = done;
    });
    writeFileSync(src, orig);
    const c = await cycle;
    expect(c.reports?.[0]).toMatchObject({
      device: 'fix-dev0',
      outcome: 'reloaded',
      state: 'reset',
    });
    expect(stdout()).toMatch(
      /reload fix-dev0: .*warning: the device was quarantined: it starts fresh/,
    );
    expect(session.emu.devices.get('fix-dev0')!.slot.scope.guard.quarantined).toBe(false);
    // Enumerated again (a reset device keeps its BAR but not the guest's command bits).
    dev.enable();
    expect(d.readl(bar)).toBe(((deviceId! << 16) | 1) >>> 0);
  });
});
