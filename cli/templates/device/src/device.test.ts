import { fileURLToPath } from 'node:url';
import { bareMachine, Emulator } from '@emuhost/host';
import { createDriver, deviceConformance, loadPluginDir } from '@emuhost/testing';
import { describe, expect, it } from 'vitest';

const dir = fileURLToPath(new URL('..', import.meta.url));

// What every device plugin must do (reset, state, failing DMA, unplug...).
deviceConformance({ plugin: dir });

describe('my-device', () => {
  async function setup() {
    const plugin = await loadPluginDir(dir);
    const emu = new Emulator({ machine: bareMachine(), ramSize: 64 << 20, log: () => {} });
    emu.addDevice(plugin);
    const d = createDriver(emu);
    const dev = d.pciFind(0x1234, 0x4d44)!;
    const bar = dev.iomap(0);
    dev.enable();
    return { emu, d, dev, r: (off: number) => bar.addr + off };
  }

  it('copies guest memory through its DMA context and raises its interrupt', async () => {
    const { d, r } = await setup();
    d.memwrite(0x10000, Uint8Array.of(1, 2, 3, 4, 5));
    d.writel(r(0x08), 0x10000);
    d.writel(r(0x10), 0x20000);
    d.writel(r(0x18), 5);
    d.writel(r(0x1c), 1);
    expect(d.readl(r(0x20))).toBe(1);
    d.clockStep(1000);
    expect(d.readl(r(0x20))).toBe(2);
    expect([...d.memread(0x20000, 5)]).toEqual([1, 2, 3, 4, 5]);
    expect(d.irqLevel(16 + 1)).toBe(1);
    d.writel(r(0x20), 2);
    expect(d.irqLevel(16 + 1)).toBe(0);
  });

  it('shows a refused DMA to the guest instead of failing silently', async () => {
    const { d, dev, r } = await setup();
    dev.setBusMaster(false);
    d.writel(r(0x18), 16);
    d.writel(r(0x1c), 1);
    d.clockStep(1000);
    expect(d.readl(r(0x20))).toBe(4);
    expect(d.readl(r(0x24))).toBe(4);
  });
});
