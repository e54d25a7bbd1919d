import { fileURLToPath } from 'node:url';
import { bareMachine, Emulator } from '@emuhost/host';
import { createDriver, iommuConformance, loadPluginDir } from '@emuhost/testing';
import { describe, expect, it } from 'vitest';

const dir = fileURLToPath(new URL('..', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../../../host/src/__fixtures__/dma-copy', import.meta.url));

const IDENTITY = 'an identity IOMMU cannot map an IOVA to another address, which this case needs';
iommuConformance({
  plugin: dir,
  options: { window_size: 0x40000000 },
  map: () => {},
  unmap: () => {},
  skip: {
    'translates mapped pages': IDENTITY,
    'enforces permissions': IDENTITY,
    'invalidates when told': IDENTITY,
    'hot reload keeps translating': IDENTITY,
    'state round trip': IDENTITY,
  },
});

describe('passthrough', () => {
  async function rig(options: Record<string, unknown> = {}) {
    const emu = new Emulator({ machine: bareMachine(), ramSize: 64 << 20, log: () => {} });
    emu.addIommu(await loadPluginDir(dir), {
      id: 'pt0',
      options: options as Record<string, number | boolean>,
    });
    emu.addDevice(await loadPluginDir(FIXTURE));
    emu.machine.dma.bind({ bus: 'pci.0' }, 'pt0');
    const d = createDriver(emu);
    const dev = d.pciFind(0x1234, 0xbeef)!;
    const bar = dev.iomap(0).addr;
    dev.enable();
    const copy = (src: number, dst: number, len: number) => {
      d.writel(bar, src);
      d.writel(bar + 4, dst);
      d.writel(bar + 8, len);
      d.writel(bar + 12, 1);
      d.clockStep(10_000);
      return d.readl(bar + 16);
    };
    return { emu, d, copy };
  }

  it('translates every IOVA to itself, in large pages', async () => {
    const { emu, d, copy } = await rig();
    d.memwrite(0x10000, Uint8Array.of(1, 2, 3));
    expect(copy(0x10000, 0x3000000, 3)).toBe(0);
    expect([...d.memread(0x3000000, 3)]).toEqual([1, 2, 3]);
    const info = emu.machine.dma.info().find((c) => c.device === 'dma-copy0')!;
    expect(info).toMatchObject({ iommu: 'pt0', iotlb: { misses: 1 } });
  });

  it('read_only refuses DMA writes; a window refuses IOVAs outside it', async () => {
    const ro = await rig({ read_only: true });
    expect(ro.copy(0x10000, 0x20000, 4)).toBe(1);
    const win = await rig({ window_base: 0x100000, window_size: 0x100000 });
    expect(win.copy(0x100000, 0x1ff000, 4)).toBe(0);
    expect(win.copy(0x100000, 0x200000, 4)).toBe(1);
    expect(win.copy(0xff000, 0x100000, 4)).toBe(1);
  });
});
