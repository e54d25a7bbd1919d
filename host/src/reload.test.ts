/**
 * Hot reload of the edu device while the machine runs: the guest-visible state survives
 * (liveness, factorial, the DMA buffer, a DMA in flight), the new code serves accesses, a
 * leaked closure of the old code is revoked, and each failure leaves the device as documented.
 */
import { readFileSync } from 'node:fs';
import type { GuestPhysAddr } from '@emuhost/sdk';
import { describe, expect, it } from 'vitest';
import { bareMachine } from './bare-machine.js';
import { loadBundled } from './bundled.js';
import type { PluginLoadError } from './diagnostics.js';
import { Emulator } from './emulator.js';
import type { LoadedPlugin } from './loaded-plugin.js';
import { PluginHost } from './plugin-host.js';
import { formatReloadReport, type ReloadError, reloadDevice, reloadPlugin } from './reload.js';
import { enableBar0 } from './test-machine.js';

const phys = (n: number) => n as GuestPhysAddr;
const BAR = 0xe0000000;
const ID = 0x00;
const LIVENESS = 0x04;
const FACT = 0x08;
const IRQ_STATUS = 0x24;
const DMA_SRC = 0x80;
const DMA_DST = 0x88;
const DMA_CNT = 0x90;
const DMA_CMD = 0x98;
const DMA_STATUS = 0xa0;
const BUF = 0x40000;
const DMA_NS = 100_000_000;
const pattern = (n: number, seed: number) =>
  Uint8Array.from({ length: n }, (_, i) => (i * 13 + seed) & 0xff);

interface Rig {
  host: PluginHost;
  edu: LoadedPlugin;
  code: string;
  emu: Emulator;
  rd: (off: number) => number;
  wr: (off: number, v: number) => void;
  dma: (src: number, dst: number, cnt: number, cmd: number) => void;
  /** Loads new edu code over the old (the pre-flight), with `patch` applied to the bundle. */
  next: (version: string, patch?: (code: string) => string) => LoadedPlugin;
}

async function boot(): Promise<Rig> {
  const host = new PluginHost();
  const edu = await loadBundled(host, 'edu');
  const code = readFileSync(edu.file, 'utf8');
  const emu = new Emulator({ machine: bareMachine(), ramSize: 16 << 20, log: () => {} });
  const dev = emu.addDevice(edu, { id: 'edu0' });
  const { rd, wr } = enableBar0(emu.machine, dev.slot.pci!.devfn, BAR);
  return {
    host,
    edu,
    code,
    emu,
    rd,
    wr,
    dma: (src, dst, cnt, cmd) => {
      wr(DMA_SRC, src);
      wr(DMA_DST, dst);
      wr(DMA_CNT, cnt);
      wr(DMA_CMD, cmd);
    },
    next: (version, patch = (c) => c) =>
      host.loadCode({ ...edu.manifest, version }, patch(code), { file: edu.file, replace: true }),
  };
}

/** The guest-visible state the tests set up before reloading: every kind of it. */
function setUp(x: Rig) {
  const m = x.emu.machine.memory;
  m.write(phys(0x10000), pattern(256, 1));
  x.dma(0x10000, BUF, 256, 1); // RAM -> buffer, done before the reload
  x.emu.machine.clock.step(DMA_NS);
  expect(x.rd(DMA_CMD) & 1).toBe(0);
  x.wr(LIVENESS, 0x12345678);
  x.wr(FACT, 10);
  x.emu.machine.clock.step(1000);
  expect(x.rd(FACT)).toBe(3628800);
  // A DMA in flight: buffer -> RAM with an interrupt, 60 of its 100 ms gone.
  x.dma(BUF + 16, 0x20000, 128, 1 | 2 | 4);
  x.emu.machine.clock.step(60_000_000);
  expect(x.rd(DMA_CMD) & 1).toBe(1);
}

/** What setUp left must still be there, and the pending DMA must finish on its deadline. */
function expectPreserved(x: Rig) {
  expect(x.rd(LIVENESS)).toBe(0xedcba987);
  expect(x.rd(FACT)).toBe(3628800);
  x.emu.machine.clock.step(40_000_000 - 1);
  expect(x.rd(DMA_CMD) & 1, 'not before the 100 ms are up').toBe(1);
  x.emu.machine.clock.step(1);
  expect(x.rd(DMA_CMD) & 1).toBe(0);
  expect(x.rd(DMA_STATUS)).toBe(0);
  expect(x.rd(IRQ_STATUS)).toBe(0x100);
  expect(x.emu.devices.get('edu0')!.slot.pci!.intxLevel).toBe(1);
  const out = new Uint8Array(128);
  x.emu.machine.memory.read(phys(0x20000), out);
  expect(out).toEqual(pattern(256, 1).subarray(16, 144));
}

describe('hot reload of edu', () => {
  it('keeps liveness, the factorial, the DMA buffer and a pending DMA; the new code serves', async () => {
    const x = await boot();
    setUp(x);
    const v2 = x.next('1.1.0', (c) => c.replace('return ID;', 'return 0x020000ed;'));
    const phases: string[] = [];
    const hooks = x.host.hooks.reload;
    for (const [name, hook] of Object.entries(hooks))
      (hook as { tap(n: string, f: () => void): void }).tap('test', () => phases.push(name));
    const [report] = reloadPlugin(x.emu, v2, { hooks });
    expect(phases).toEqual(['quiesce', 'saved', 'disposed', 'created', 'resumed']);
    expect(report).toMatchObject({
      device: 'edu0',
      plugin: 'edu',
      from: '1.0.0',
      to: '1.1.0',
      outcome: 'reloaded',
      stateVersion: { from: 1, to: 1 },
      state: 'kept',
      warnings: [],
    });
    expect(report!.ms.quiesceToResume).toBeLessThanOrEqual(report!.ms.total);
    expect(formatReloadReport(report!)).toMatch(
      /^reload edu0: edu 1\.0\.0 -> 1\.1\.0, state v1 kept, /,
    );
    expect(x.rd(ID), 'the new code answers').toBe(0x020000ed);
    expect(x.emu.devices.get('edu0')!.plugin).toBe(v2);
    expectPreserved(x);
  });

  it('revokes the old instance: a leaked closure gets E_REVOKED and never reaches the machine', async () => {
    const x = await boot();
    setUp(x);
    const dev = x.emu.devices.get('edu0')!;
    const oldOps = dev.slot.regions.get('edu-mmio')!.ops;
    const oldModel = dev.model;
    reloadDevice(x.emu, 'edu0', x.next('1.0.1'));
    // The old MMIO write handler raises an interrupt; the old saveState asks the clock.
    expect(() => oldOps.write(0x60, 4, 0x8, {} as never)).toThrow(
      expect.objectContaining({ code: 'E_REVOKED' }),
    );
    expect(() => oldModel.saveState?.()).toThrow(expect.objectContaining({ code: 'E_REVOKED' }));
    expect(dev.slot.pci!.intxLevel).toBe(0);
    expectPreserved(x);
  });

  it('a syntax error fails the pre-flight with a location; the old code keeps running', async () => {
    const x = await boot();
    setUp(x);
    let err: PluginLoadError | undefined;
    try {
      x.next('1.0.1', (c) => c.replace('return ID;', 'return ID +;'));
    } catch (e) {
      err = e as PluginLoadError;
    }
    expect(err?.code).toBe('E_PLUGIN_EVAL');
    // Located through the bundle's source map: the edu source line the patched line came from.
    expect(err?.diagnostics[0]?.location?.file).toMatch(/plugins\/edu\/src\/[\w-]+\.ts$/);
    expect(err?.diagnostics[0]?.location?.lineText).toContain('return ID;');
    expect(x.host.get('edu')).toBe(x.edu);
    expect(x.emu.devices.get('edu0')!.plugin).toBe(x.edu);
    expect(x.rd(ID)).toBe(0x010000ed);
    expectPreserved(x);
  });

  it('a throwing create rolls back to the old code with the same state', async () => {
    const x = await boot();
    setUp(x);
    // The new code claims the region first (so the rollback must rebind it), then throws.
    const bad = x.next('2.0.0', (c) =>
      c.replace(
        'create(ctx, saved) {',
        'create(ctx, saved) { ctx.mmio("edu-mmio", BAR_SIZE, { read: () => 0xbad, write() {} }); throw new Error("boom");',
      ),
    );
    const phases: string[] = [];
    x.host.hooks.reload.rolledBack.tap('test', (f) => phases.push(f.error.message));
    const report = reloadDevice(x.emu, 'edu', bad, { hooks: x.host.hooks.reload });
    expect(report).toMatchObject({
      outcome: 'rolled-back',
      from: '1.0.0',
      to: '1.0.0',
      state: 'kept',
    });
    expect(report.error?.message).toMatch(/boom/);
    expect(phases).toEqual([expect.stringMatching(/boom/)]);
    expect(formatReloadReport(report)).toMatch(/rolled back \(.*boom/);
    expect(x.emu.devices.get('edu0')!.plugin).toBe(x.edu);
    expect(x.rd(ID)).toBe(0x010000ed);
    expectPreserved(x);
  });

  it('a new state version without migrateState resets the device, with a warning', async () => {
    const x = await boot();
    setUp(x);
    const v2 = x.next('2.0.0', (c) => c.replace('stateVersion: 1,', 'stateVersion: 2,'));
    const report = reloadDevice(x.emu, 'edu0', v2);
    expect(report).toMatchObject({
      outcome: 'reloaded',
      stateVersion: { from: 1, to: 2 },
      state: 'reset',
    });
    expect(report.warnings.join('\n')).toMatch(/state version 1 cannot be used by state version 2/);
    expect(formatReloadReport(report)).toMatch(/state v1 -> v2 reset.*warning/);
    expect(x.rd(LIVENESS)).toBe(0);
    expect(x.rd(DMA_CMD)).toBe(0);
    x.emu.machine.clock.step(DMA_NS);
    expect(x.rd(IRQ_STATUS), 'the pending DMA was dropped with the state').toBe(0);
    expect(x.emu.devices.get('edu0')!.slot.pci!.intxLevel).toBe(0);
  });

  it("a new state version with migrateState gets the plugin's migration", async () => {
    const x = await boot();
    setUp(x);
    const v2 = x.next('2.0.0', (c) =>
      c.replace(
        'stateVersion: 1,',
        'stateVersion: 2, migrateState: (from, d) => (from === 1 ? { ...d, addr4: (d.addr4 ^ 0xff) >>> 0 } : undefined),',
      ),
    );
    const report = reloadDevice(x.emu, 'edu0', v2);
    expect(report.error).toBeUndefined();
    expect(report).toMatchObject({
      stateVersion: { from: 1, to: 2 },
      state: 'migrated',
      warnings: [],
    });
    expect(x.rd(LIVENESS)).toBe(0xedcba978);
    x.wr(LIVENESS, 0x12345678);
    expectPreserved(x);
  });

  it('is refused inside a device callback (quiesce is between events)', async () => {
    const x = await boot();
    const guard = x.emu.machine.device('edu0').scope.guard;
    let err: ReloadError | undefined;
    guard.run('deferred', () => {
      try {
        reloadDevice(x.emu, 'edu0', x.next('1.0.1'));
      } catch (e) {
        err = e as ReloadError;
      }
    });
    expect(err).toMatchObject({
      name: 'EmuhostError',
      code: 'E_BAD_ARGUMENT',
      reason: 'in-callback',
    });
    expect(x.emu.devices.get('edu0')!.plugin).toBe(x.edu);
  });
});
