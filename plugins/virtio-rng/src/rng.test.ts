/**
 * virtio-rng through the virtio guest driver: buffers filled with entropy, the same bytes on
 * every seeded run (deterministic mode), host entropy in real-time mode, rng-random reading a
 * file, QEMU's rate limit in virtual time, and the conformance kit.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bareMachine, Emulator, type EmulatorOptions, type LoadedPlugin } from '@emuhost/host';
import type { OptionValue } from '@emuhost/sdk';
import {
  createDriver,
  deviceConformance,
  loadPluginDir,
  VIRTIO_F,
  virtioConformance,
  virtioPciGuest,
} from '@emuhost/testing';
import { describe, expect, it } from 'vitest';

const PLUGIN_DIR = fileURLToPath(new URL('..', import.meta.url));
let plugin: Promise<LoadedPlugin> | undefined;
const loadRng = () => {
  plugin ??= loadPluginDir(PLUGIN_DIR);
  return plugin;
};

async function setup(
  o: { options?: Record<string, OptionValue>; emu?: Partial<EmulatorOptions> } = {},
) {
  const emu = new Emulator({ machine: bareMachine(), ramSize: 64 << 20, log: () => {}, ...o.emu });
  emu.addDevice(await loadRng(), { id: 'rng0', ...(o.options && { options: o.options }) });
  const d = createDriver(emu);
  const g = virtioPciGuest(d, d.pciFind(0x1af4, 0x1044)!, 0x100000);
  if (!g.negotiate(1n << BigInt(VIRTIO_F.VERSION_1))) throw new Error('FEATURES_OK refused');
  const q = g.setupQueue(0);
  g.driverOk();
  /** Posts a buffer of `len` bytes, notifies; returns the used length and the bytes. */
  const take = (len: number) => {
    const buf = g.alloc(len);
    q.add([{ addr: buf, len, write: true }]);
    g.notify(0);
    const u = q.takeUsed();
    return { len: u?.len, bytes: d.memread(buf, len), used: u !== undefined };
  };
  return { emu, d, g, q, take };
}

describe('virtio-rng-pci', { timeout: 60_000 }, () => {
  it('is 1af4:1044, one queue of 8, no features of its own', async () => {
    const t = await setup();
    expect(t.g.queueMax(0)).toBe(8);
    expect(t.g.deviceFeatures() & 0xffffffn).toBe(0n);
  });

  it('fills buffers; a seeded machine gives the same bytes every run, whatever the sizes', async () => {
    const a = await setup({ emu: { seed: 7 } });
    const b = await setup({ emu: { seed: 7 } });
    const c = await setup({ emu: { seed: 8 } });
    const x = [...a.take(64).bytes, ...a.take(64).bytes];
    const y = b.take(128);
    expect(y.len).toBe(128);
    expect([...y.bytes]).toEqual(x);
    expect([...c.take(128).bytes]).not.toEqual(x);
    expect(new Set(x).size, 'not constant').toBeGreaterThan(32);
  });

  it('deterministic mode is seeded by default; real-time mode is not', async () => {
    const a = await setup();
    const b = await setup();
    expect([...a.take(32).bytes]).toEqual([...b.take(32).bytes]);
    const r1 = await setup({ emu: { scheduler: { mode: 'realtime' } } });
    const r2 = await setup({ emu: { scheduler: { mode: 'realtime' } } });
    expect([...r1.take(32).bytes]).not.toEqual([...r2.take(32).bytes]);
  });

  it('rng-random reads its file, and returns fewer bytes when it runs dry', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'emuhost-rng-'));
    const file = join(dir, 'entropy');
    writeFileSync(
      file,
      Uint8Array.from({ length: 40 }, (_, i) => i + 1),
    );
    const t = await setup({
      options: { rng: 'r0' },
      emu: { backends: { rngs: [{ id: 'r0', kind: 'rng-random', filename: file }] } },
    });
    const first = t.take(16);
    expect([...first.bytes]).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    const second = t.take(64);
    expect(second.len).toBe(24);
    expect(second.bytes[23]).toBe(40);
  });

  it('max-bytes per period: buffers wait for the next period (virtual time)', async () => {
    const t = await setup({ options: { 'max-bytes': 16, period: 1000 } });
    expect(t.take(10).len).toBe(10);
    expect(t.take(10).len).toBe(6);
    const buf = t.g.alloc(8);
    t.q.add([{ addr: buf, len: 8, write: true }]);
    t.g.notify(0);
    expect(t.q.takeUsed(), 'quota spent: the buffer waits').toBeUndefined();
    t.d.clockStep(1_000_000_000);
    expect(t.q.takeUsed()).toMatchObject({ len: 8 });
  });

  it('rng= naming no object refuses the device', async () => {
    await expect(setup({ options: { rng: 'nope' } })).rejects.toThrow(/rng-\*.*nope|nope/);
  });
});

describe('sandbox levels', { timeout: 60_000 }, () => {
  it.each(['confined', 'isolated'] as const)(
    'works %s (the membrane carries every handle)',
    async (level) => {
      const p = await loadPluginDir(PLUGIN_DIR, { level });
      const emu = new Emulator({
        machine: bareMachine(),
        ramSize: 64 << 20,
        log: () => {},
        seed: 3,
      });
      emu.addDevice(p, { id: 'rng0' });
      const d = createDriver(emu);
      const g = virtioPciGuest(d, d.pciFind(0x1af4, 0x1044)!, 0x100000);
      expect(g.negotiate(1n << BigInt(VIRTIO_F.VERSION_1))).toBe(true);
      const q = g.setupQueue(0);
      g.driverOk();
      const buf = g.alloc(48);
      q.add([{ addr: buf, len: 48, write: true }]);
      g.notify(0);
      expect(q.takeUsed()).toMatchObject({ len: 48 });
      const ref = await setup({ emu: { seed: 3 } });
      expect([...d.memread(buf, 48)]).toEqual([...ref.take(48).bytes]);
      expect(emu.machine.dma.info().find((c) => c.device === 'rng0')!.bypass).toBe(true);
    },
  );
});

describe('conformance', () => {
  deviceConformance({ plugin: PLUGIN_DIR });
  virtioConformance({ plugin: PLUGIN_DIR });
});
