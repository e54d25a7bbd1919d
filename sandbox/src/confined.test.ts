import { fileURLToPath } from 'node:url';
import { bareMachine, Emulator } from '@emuhost/host';
import { createDriver, deviceCases, loadPluginDir } from '@emuhost/testing';
import { expect, it } from 'vitest';

it('a confined device does DMA, and passes the device conformance suite', async () => {
  const dir = fileURLToPath(new URL('../../host/src/__fixtures__/dma-copy', import.meta.url));
  const plugin = await loadPluginDir(dir, { level: 'confined' });
  expect(plugin.level).toBe('confined');
  const emu = new Emulator({ machine: bareMachine(), ramSize: 1 << 24, log: () => {} });
  emu.addDevice(plugin);
  const d = createDriver(emu);
  const dev = d.pciFind(0x1234, 0xbeef)!;
  const bar = dev.iomap(0);
  dev.enable();
  d.memwrite(0x1000, Uint8Array.of(9, 8, 7));
  d.writel(bar.addr, 0x1000);
  d.writel(bar.addr + 4, 0x2000);
  d.writel(bar.addr + 8, 3);
  d.writel(bar.addr + 12, 1);
  d.clockStep(10000);
  expect([...d.memread(0x2000, 3)]).toEqual([9, 8, 7]);
  for (const run of Object.values(deviceCases({ plugin: () => plugin }))) await run();
});
