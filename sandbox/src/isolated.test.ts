import { fileURLToPath } from 'node:url';
import { bareMachine, Emulator, PluginHost } from '@emuhost/host';
import type { GuestPhysAddr } from '@emuhost/sdk';
import { createDriver, deviceCases, loadPluginDir } from '@emuhost/testing';
import { describe, expect, it } from 'vitest';
import { createIsolatedRealm } from './isolated.js';

const FIXTURE = fileURLToPath(new URL('../../host/src/__fixtures__/dma-copy', import.meta.url));

describe('the isolated level', () => {
  it('runs a device in a worker: MMIO, timers, DMA and state cross the boundary', async () => {
    const plugin = await loadPluginDir(FIXTURE, { level: 'isolated' });
    expect(plugin.level).toBe('isolated');
    const emu = new Emulator({ machine: bareMachine(), ramSize: 1 << 24, log: () => {} });
    const dev = emu.addDevice(plugin);
    const d = createDriver(emu);
    const pci = d.pciFind(0x1234, 0xbeef)!;
    const bar = pci.iomap(0);
    pci.enable();
    d.memwrite(0x1000, Uint8Array.of(9, 8, 7));
    d.writel(bar.addr, 0x1000);
    d.writel(bar.addr + 4, 0x2000);
    d.writel(bar.addr + 8, 3);
    expect(d.readl(bar.addr + 8)).toBe(3);
    d.writel(bar.addr + 12, 1);
    d.clockStep(10000);
    expect([...d.memread(0x2000, 3)]).toEqual([9, 8, 7]);
    expect(d.irqLevel(17)).toBe(1);
    expect(dev.saveState()).toEqual({ version: 1, data: [0x1000, 0x2000, 3, 0, 0] });
    plugin.realm.dispose();
  });

  it('passes the device conformance suite', async () => {
    const plugin = await loadPluginDir(FIXTURE, { level: 'isolated' });
    for (const run of Object.values(deviceCases({ plugin: () => plugin }))) await run();
    plugin.realm.dispose();
  });

  /** A device whose register 0x10 loops for ever and 0x20 allocates without bound. */
  const RUNAWAY = `const { definePlugin } = require('@emuhost/sdk');
module.exports.default = definePlugin({
  kind: 'device',
  pci: { vendorId: 0x1234, deviceId: 0x0bad, classCode: 0xff0000 },
  create(ctx) {
    const keep = [];
    const r = ctx.mmio('regs', 0x100, {
      read(o) {
        if (o === 0x10) for (;;) {}
        if (o === 0x20) for (;;) keep.push(new Array(1e5).fill(o));
        return 0x11223344;
      },
      write() {},
    });
    ctx.pci.bar(0, { kind: 'memory', size: 0x100 }, r);
    return {};
  },
});`;

  it.each([
    ['loops for ever', 0x10],
    ['allocates without bound', 0x20],
  ])(
    'a plugin that %s is stopped within the bound; its device is quarantined and the machine goes on',
    async (_what, reg) => {
      const ends: string[] = [];
      const host = new PluginHost({
        realms: {
          isolated: () =>
            createIsolatedRealm({
              timeoutMs: 300,
              maxOldGenerationSizeMb: 32,
              onTerminated: (w) => ends.push(w),
            }),
        },
      });
      const manifest = {
        id: 'runaway',
        version: '1.0.0',
        kind: 'device',
        sdk: '^1.0.0',
        entry: 'x.js',
        capabilities: ['pci'],
      };
      const plugin = host.loadCode(manifest, RUNAWAY, { level: 'isolated' });
      const emu = new Emulator({ machine: bareMachine(), ramSize: 1 << 20, log: () => {} });
      const bad = emu.addDevice(plugin);
      const good = emu.addDevice(await loadPluginDir(FIXTURE));
      const d = createDriver(emu);
      const pci = d.pciFind(0x1234, 0x0bad)!;
      const bar = pci.iomap(0);
      pci.enable();
      expect(d.readl(bar.addr)).toBe(0x11223344);
      emu.machine.memory.store(0x100 as GuestPhysAddr, 4, 0xcafe);
      // Without the watchdog this read never returns and the test times out (its own bound,
      // not a timing assertion: how fast is the bench's business).
      expect(d.readl(bar.addr + reg)).toBe(0xffffffff);
      expect(bad.slot.scope.guard.quarantined).toBe(true);
      expect(ends).toHaveLength(1);
      // It now answers as an absent device, at once; everything else goes on.
      expect(d.readl(bar.addr)).toBe(0xffffffff);
      expect(emu.machine.memory.load(0x100 as GuestPhysAddr, 4)).toBe(0xcafe);
      const other = d.pciFind(0x1234, 0xbeef)!;
      const b2 = other.iomap(0);
      other.enable();
      d.writel(b2.addr + 8, 7);
      expect(d.readl(b2.addr + 8)).toBe(7);
      expect(good.slot.scope.guard.quarantined).toBe(false);
    },
  );
});
