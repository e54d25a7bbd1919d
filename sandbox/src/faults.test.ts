/**
 * Fault containment at every level: a plugin that throws in any of the places the kernel
 * calls it gets its device quarantined (an event says which plugin, device and callback,
 * with the stack), the access that hit it answers as an absent device, its timers stop, its
 * DMA is refused and unmapped, guest RAM its failed callback wrote is restored, the machine
 * and its other devices go on, and the device can be restarted.
 */
import { fileURLToPath } from 'node:url';
import type { DeviceFaultEvent } from '@emuhost/core';
import { bareMachine, Emulator, PluginHost } from '@emuhost/host';
import { type GuestPhysAddr, iova } from '@emuhost/sdk';
import { createDriver, loadPluginDir } from '@emuhost/testing';
import { describe, expect, it } from 'vitest';
import type { SandboxLevel } from './realm.js';

const FIXTURE = fileURLToPath(new URL('../../host/src/__fixtures__/dma-copy', import.meta.url));

/**
 * A device that misbehaves on request. BAR0: 0x00 reads 0x600d; a read of 0x10 throws; a
 * write to 0x14 DMA-writes 0xaa to RAM 0x3000 and then throws; a write to 0x18 arms a timer
 * that does the same; a write to 0x1c maps RAM 0x5000 with a notifier that throws when the
 * mapping is invalidated; a guest config write to 0x40 throws. A second timer ticks every µs.
 */
const FAULTY = `const { definePlugin, iova } = require('@emuhost/sdk');
module.exports.default = definePlugin({
  kind: 'device',
  pci: { vendorId: 0x1234, deviceId: 0xfa17, classCode: 0xff0000 },
  create(ctx) {
    const dirty = () => ctx.dma.write(iova(0x3000), new Uint8Array([0xaa, 0xaa, 0xaa, 0xaa]));
    const boom = ctx.clock.timer('boom', () => { dirty(); throw new Error('timer bug'); });
    const tick = ctx.clock.timer('tick', () => tick.armIn(1000));
    tick.armIn(1000);
    const r = ctx.mmio('regs', 0x100, {
      read(o) {
        if (o === 0x10) throw new Error('read bug');
        return o === 0 ? 0x600d : 0;
      },
      write(o) {
        if (o === 0x14) { dirty(); throw new Error('write bug'); }
        if (o === 0x18) boom.armIn(10);
        if (o === 0x1c) ctx.dma.map(iova(0x5000), 16, 'write', () => { throw new Error('dma completion bug'); });
      },
    }, { valid: { min: 4, max: 4 } });
    ctx.pci.bar(0, { kind: 'memory', size: 0x100 }, r);
    ctx.pci.onConfigWrite((o) => { if (o === 0x40) throw new Error('config bug'); });
    return { reset() {} };
  },
});`;

const MANIFEST = {
  id: 'faulty',
  version: '1.0.0',
  kind: 'device',
  sdk: '^1.0.0',
  entry: 'faulty.js',
  capabilities: ['pci', 'dma', 'timers'],
};

async function rig(level: SandboxLevel) {
  const host = new PluginHost();
  const plugin = host.loadCode(MANIFEST, FAULTY, { level, file: '/plugins/faulty.js' });
  const emu = new Emulator({ machine: bareMachine(), ramSize: 1 << 20, log: () => {} });
  const faults: DeviceFaultEvent[] = [];
  emu.machine.hooks.guard.deviceFault.tap('test', (e) => void faults.push(e));
  const dev = emu.addDevice(plugin, { id: 'bad0' });
  emu.addDevice(await loadPluginDir(FIXTURE), { id: 'good0' });
  const d = createDriver(emu);
  const pci = d.pciFind(0x1234, 0xfa17)!;
  const bar = pci.iomap(0);
  pci.enable();
  const good = d.pciFind(0x1234, 0xbeef)!;
  const goodBar = good.iomap(0);
  good.enable();
  emu.machine.memory.write(0x3000 as GuestPhysAddr, Uint8Array.of(1, 2, 3, 4));
  return { host, plugin, emu, dev, d, pci, bar, goodBar, faults };
}

type Rig = Awaited<ReturnType<typeof rig>>;

const HOOKS: [
  string,
  'mmio-read' | 'mmio-write' | 'timer' | 'dma' | 'config-write',
  (r: Rig) => void,
  string,
][] = [
  [
    'an MMIO read',
    'mmio-read',
    (r) => expect(r.d.readl(r.bar.addr + 0x10)).toBe(0xffffffff),
    'read bug',
  ],
  ['an MMIO write', 'mmio-write', (r) => r.d.writel(r.bar.addr + 0x14, 1), 'write bug'],
  [
    'a timer',
    'timer',
    (r) => {
      r.d.writel(r.bar.addr + 0x18, 1);
      r.d.clockStep(100);
    },
    'timer bug',
  ],
  [
    'a DMA completion',
    'dma',
    (r) => {
      r.d.writel(r.bar.addr + 0x1c, 1);
      r.emu.machine.dma.addIommu('strict', () => ({
        translate: () => ({ kind: 'fault', reason: 'not-present' }),
      }));
      r.emu.machine.dma.bind({ device: 'bad0' }, 'strict');
    },
    'dma completion bug',
  ],
  ['a config-space write', 'config-write', (r) => r.pci.configWrite(0x40, 4, 1), 'config bug'],
];

describe.each(['trusted', 'confined', 'isolated'] as const)('at the %s level', (level) => {
  it.each(HOOKS)(
    'a plugin that throws in %s is quarantined, and everything else goes on',
    async (_what, site, trigger, message) => {
      const r = await rig(level);
      expect(r.d.readl(r.bar.addr)).toBe(0x600d);
      trigger(r);
      expect(r.faults).toHaveLength(1);
      const f = r.faults[0]!;
      expect(f).toMatchObject({
        device: 'bad0',
        plugin: 'faulty',
        site,
      });
      expect(String((f.error as Error).message)).toContain(message);
      expect(f.stack).toContain(message);
      expect(r.dev.slot.scope.guard.quarantined).toBe(true);
      // Absent now: all-ones, at once; its timers are stopped and its DMA refused.
      expect(r.d.readl(r.bar.addr)).toBe(0xffffffff);
      expect([...r.dev.slot.timers.values()].every((t) => !t.timer.pending)).toBe(true);
      expect(r.dev.slot.pci!.dma.readU8(iova(0))).toMatchObject({ result: 'device-fault' });
      // What its failed callback wrote to guest RAM is undone.
      expect([...r.d.memread(0x3000, 4)]).toEqual([1, 2, 3, 4]);
      // The other device and the machine go on.
      r.d.writel(r.goodBar.addr + 8, 5);
      expect(r.d.readl(r.goodBar.addr + 8)).toBe(5);
      r.d.clockStep(10_000);
      // And it can be restarted: a fresh instance, after a device reset.
      r.dev.restart();
      expect(r.dev.slot.scope.guard.quarantined).toBe(false);
      // Only the new instance listens to config writes (the old one's listener is gone).
      expect(r.dev.slot.configWriteListeners).toHaveLength(1);
      const bar = r.pci.iomap(0);
      r.pci.enable();
      expect(r.d.readl(bar.addr)).toBe(0x600d);
      if (level === 'isolated') r.plugin.realm.dispose();
    },
  );

  it('a plugin whose setup throws is refused with a clear error, and leaves nothing behind', async () => {
    const host = new PluginHost();
    const code = `const { definePlugin } = require('@emuhost/sdk');
module.exports.default = definePlugin({ kind: 'device', pci: { vendorId: 1, deviceId: 2, classCode: 0 },
  create(ctx) { ctx.clock.timer('t', () => {}).armIn(5); throw new Error('setup bug'); } });`;
    const plugin = host.loadCode({ ...MANIFEST, id: 'nosetup' }, code, { level });
    const emu = new Emulator({ machine: bareMachine(), ramSize: 1 << 20, log: () => {} });
    expect(() => emu.addDevice(plugin, { id: 'x0' })).toThrow(
      'E_DEVICE_REALIZE: realize failed: setup bug (device x0)',
    );
    expect(emu.machine.deviceIds).toEqual([]);
    expect(emu.machine.clock.pendingTimers).toBe(0);
    if (level === 'isolated') plugin.realm.dispose();
  });
});

it('a killed isolated plugin is respawned into a fresh worker and its device restarted', async () => {
  const code = `const { definePlugin } = require('@emuhost/sdk');
module.exports.default = definePlugin({ kind: 'device', pci: { vendorId: 0x1234, deviceId: 0x1009, classCode: 0 },
  create(ctx) {
    const r = ctx.mmio('r', 0x100, { read: (o) => { if (o === 4) for (;;) {} return 0x77; }, write() {} }, { valid: { min: 4, max: 4 } });
    ctx.pci.bar(0, { kind: 'memory', size: 0x100 }, r);
    return {};
  } });`;
  const { createIsolatedRealm } = await import('./isolated.js');
  const fast = new PluginHost({
    realms: { isolated: () => createIsolatedRealm({ timeoutMs: 200 }) },
  });
  const plugin = fast.loadCode({ ...MANIFEST, id: 'spinner' }, code, { level: 'isolated' });
  const emu = new Emulator({ machine: bareMachine(), ramSize: 1 << 20, log: () => {} });
  const dev = emu.addDevice(plugin);
  const d = createDriver(emu);
  const pci = d.pciFind(0x1234, 0x1009)!;
  let bar = pci.iomap(0);
  pci.enable();
  expect(d.readl(bar.addr + 4)).toBe(0xffffffff);
  expect(dev.slot.scope.guard.quarantined).toBe(true);
  const fresh = fast.respawn('spinner');
  dev.restart(fresh);
  bar = pci.iomap(0);
  pci.enable();
  expect(d.readl(bar.addr)).toBe(0x77);
  fresh.realm.dispose();
});
