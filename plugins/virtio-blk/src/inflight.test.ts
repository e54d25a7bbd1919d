/**
 * Requests in flight (`x-latency-ns`): they complete after their virtual latency, and a hot
 * reload in the middle carries them over: the new code completes them at their deadlines,
 * with the old code's decoded headers, and the image holds what was written. The v1 state
 * (no requests in flight) migrates.
 */
import { readFileSync } from 'node:fs';
import { reloadDevice } from '@emuhost/host';
import { loadPluginDir } from '@emuhost/testing';
import { describe, expect, it } from 'vitest';
import { migrateState } from './state.js';
import { header, PLUGIN_DIR, pattern, S, SECTOR, setup, T } from './test-support/setup.js';

const LATENCY = 50_000;

describe('virtio-blk requests in flight', { timeout: 120_000 }, () => {
  it('complete after x-latency-ns of virtual time, not inside the notify', async () => {
    const t = await setup({ options: { 'x-latency-ns': LATENCY } });
    const h = header(t, T.IN, 0);
    const st = t.g.alloc(1);
    const buf = t.g.alloc(SECTOR);
    t.q.add([
      { addr: h, len: 16, write: false },
      { addr: buf, len: SECTOR, write: true },
      { addr: st, len: 1, write: true },
    ]);
    t.g.notify(0);
    expect(t.q.takeUsed(), 'still in flight').toBeUndefined();
    t.d.clockStep(LATENCY);
    expect(t.q.takeUsed()?.len).toBe(SECTOR + 1);
    expect(t.d.readb(st)).toBe(S.OK);
  });

  it('a reload with requests in flight: the new code completes them at their deadlines', async () => {
    const t = await setup({ options: { 'x-latency-ns': LATENCY } });
    const writes = [0, 1, 2].map((i) => {
      const data = pattern(2 * SECTOR, 20 + i);
      const buf = t.g.alloc(data.length);
      t.d.memwrite(buf, data);
      const st = t.g.alloc(1);
      t.d.writeb(st, 0xff);
      const head = t.q.add([
        { addr: header(t, T.OUT, 8 + 2 * i), len: 16, write: false },
        { addr: buf, len: data.length, write: false },
        { addr: st, len: 1, write: true },
      ]);
      return { data, st, head };
    });
    t.g.notify(0);
    t.d.clockStep(LATENCY / 2);
    expect(t.q.takeUsed()).toBeUndefined();
    const fresh = await loadPluginDir(PLUGIN_DIR);
    const report = reloadDevice(t.emu, 'blk0', fresh);
    expect(report).toMatchObject({ outcome: 'reloaded', state: 'kept', warnings: [] });
    expect(report.stateVersion).toEqual({ from: 2, to: 2 });
    expect(t.q.takeUsed(), 'not completed by the reload').toBeUndefined();
    t.d.clockStep(LATENCY / 2);
    const used = [t.q.takeUsed(), t.q.takeUsed(), t.q.takeUsed()];
    expect(used.map((u) => u?.id)).toEqual(writes.map((w) => w.head));
    for (const w of writes) expect(t.d.readb(w.st)).toBe(S.OK);
    const img = new Uint8Array(readFileSync(t.file));
    for (const [i, w] of writes.entries())
      expect(img.subarray((8 + 2 * i) * SECTOR, (10 + 2 * i) * SECTOR)).toEqual(w.data);
  });

  it('a device reset drops them (their chains go with the queues)', async () => {
    const t = await setup({ options: { 'x-latency-ns': LATENCY } });
    const st = t.g.alloc(1);
    t.q.add([
      { addr: header(t, T.FLUSH, 0), len: 16, write: false },
      { addr: st, len: 1, write: true },
    ]);
    t.g.notify(0);
    t.emu.reset();
    t.d.clockStep(LATENCY);
    expect(t.q.takeUsed()).toBeUndefined();
  });

  it('migrates a v1 state (1.0.0: nothing in flight) to v2', () => {
    const core = { status: 15, queues: [] };
    expect(migrateState(1, { core, transport: {}, device: { writeback: 0 } })).toEqual({
      core,
      transport: {},
      device: { writeback: 0, inflight: [] },
    });
    expect(migrateState(7, {})).toBeUndefined();
  });
});
