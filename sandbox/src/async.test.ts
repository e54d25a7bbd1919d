/**
 * Promises and `await` in plugin code. At the isolated level the worker never returns to its
 * event loop, so before issue 15 an `await` never resumed; now the plugin's promise jobs run
 * at the end of each call from the kernel, inside it. At every level, a promise a callback
 * returns that rejects faults the device with that error, as a throw would.
 */
import type { DeviceFaultEvent } from '@emuhost/core';
import { bareMachine, Emulator, PluginHost } from '@emuhost/host';
import { createDriver } from '@emuhost/testing';
import { describe, expect, it } from 'vitest';
import { createIsolatedRealm } from './isolated.js';
import type { SandboxLevel } from './realm.js';

/**
 * 0x00 reads `value`. Writing v to 0x00 stores 2v after an await; to 0x04 waits for the `tick`
 * timer (armed now, 1 µs) to resolve a promise with 42, then DMA-writes it and stores it; to
 * 0x08 throws after an await; to 0x0c queues promise jobs for ever.
 */
const PLUGIN = `const { definePlugin, iova } = require('@emuhost/sdk');
module.exports.default = definePlugin({
  kind: 'device',
  pci: { vendorId: 0x1234, deviceId: 0xa5c0, classCode: 0xff0000 },
  create(ctx) {
    let value = 0;
    let resolveTick;
    const tick = ctx.clock.timer('tick', () => resolveTick?.(42));
    const regs = ctx.mmio('regs', 0x100, {
      read: (o) => (o === 0 ? value : 0),
      write: async (o, _s, v) => {
        if (o === 0) {
          await null;
          value = Number(v) * 2;
        }
        if (o === 4) {
          const got = await new Promise((r) => { resolveTick = r; tick.armIn(1000); });
          ctx.dma.write(iova(0x2000), new Uint8Array([got]));
          value = got;
        }
        if (o === 8) {
          await null;
          throw new Error('async bug');
        }
        if (o === 12) {
          const spin = () => Promise.resolve().then(spin);
          spin();
        }
      },
    });
    ctx.pci.bar(0, { kind: 'memory', size: 0x100 }, regs);
    return {};
  },
});`;

const MANIFEST = {
  id: 'asyncdev',
  version: '1.0.0',
  kind: 'device',
  sdk: '^1.0.0',
  entry: 'asyncdev.js',
  capabilities: ['pci', 'dma', 'timers'],
};

function rig(level: SandboxLevel) {
  const host = new PluginHost({
    realms: { isolated: () => createIsolatedRealm({ timeoutMs: 500 }) },
  });
  const plugin = host.loadCode(MANIFEST, PLUGIN, { level, file: '/x/asyncdev.js' });
  const emu = new Emulator({ machine: bareMachine(), ramSize: 1 << 20, log: () => {} });
  const faults: DeviceFaultEvent[] = [];
  emu.machine.hooks.guard.deviceFault.tap('test', (e) => void faults.push(e));
  const dev = emu.addDevice(plugin, { id: 'a0' });
  const d = createDriver(emu);
  const pci = d.pciFind(0x1234, 0xa5c0)!;
  const bar = pci.iomap(0).addr;
  pci.enable();
  return { plugin, emu, dev, d, bar, faults };
}

describe('at the isolated level', () => {
  it('an await resumes inside the same access, and may use the handles', () => {
    const r = rig('isolated');
    r.d.writel(r.bar, 21);
    expect(r.d.readl(r.bar)).toBe(42);
    // Awaiting what a later callback (the timer) resolves: it resumes inside that callback.
    r.d.writel(r.bar + 4, 1);
    expect(r.d.readl(r.bar)).toBe(42);
    r.d.writel(r.bar, 1);
    expect(r.d.readl(r.bar)).toBe(2);
    r.d.clockStep(1000);
    expect(r.d.readl(r.bar)).toBe(42);
    expect([...r.d.memread(0x2000, 1)]).toEqual([42]);
    expect(r.faults).toEqual([]);
    r.plugin.realm.dispose();
  });

  it('promise jobs queued for ever are stopped by the watchdog, like a loop', () => {
    const r = rig('isolated');
    r.d.writel(r.bar + 12, 1);
    expect(r.faults).toHaveLength(1);
    expect(r.faults[0]!.error).toMatchObject({ message: expect.stringMatching(/did not return/) });
    expect(r.dev.slot.scope.guard.quarantined).toBe(true);
    expect(r.d.readl(r.bar)).toBe(0xffffffff);
    r.plugin.realm.dispose();
  });
});

describe.each<SandboxLevel>(['trusted', 'confined', 'isolated'])('at the %s level', (level) => {
  it('a rejected promise a callback returned faults the device with its error and stack', async () => {
    const r = rig(level);
    r.d.writel(r.bar + 8, 1);
    // At trusted and confined the job runs on the event loop, after this access.
    await new Promise((done) => setImmediate(done));
    expect(r.faults).toHaveLength(1);
    expect(r.faults[0]).toMatchObject({
      device: 'a0',
      site: 'mmio-write',
      detail: "region 'regs' offset 0x8: a promise it returned was rejected",
    });
    expect(r.faults[0]!.stack).toMatch(
      /^Error: async bug\n {4}at .*emuhost-plugin:asyncdev\/asyncdev\.js:23:/,
    );
    expect(r.dev.slot.scope.guard.quarantined).toBe(true);
    r.plugin.realm.dispose();
  });
});
