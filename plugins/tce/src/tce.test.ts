import { fileURLToPath } from 'node:url';
import { bareMachine, Emulator } from '@emuhost/host';
import { createDriver, type IommuKit, iommuConformance, loadPluginDir } from '@emuhost/testing';
import { describe, expect, it } from 'vitest';

const dir = fileURLToPath(new URL('..', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../../../host/src/__fixtures__/dma-copy', import.meta.url));
const BASE = 0xfed80000;
const WINDOW = 0x40000000; // 1 GiB window from 0: 262144 entries

/** H_PUT_TCE through the register block, as a guest would make the hypercall. */
function putTce(
  kit: { driver: { writel(a: number, v: number): void; readl(a: number): number } },
  ioba: number,
  tce: bigint,
): number {
  const d = kit.driver;
  d.writel(BASE + 0x08, ioba % 2 ** 32);
  d.writel(BASE + 0x0c, Math.floor(ioba / 2 ** 32));
  d.writel(BASE + 0x10, Number(tce & 0xffffffffn));
  d.writel(BASE + 0x14, Number(tce >> 32n));
  d.writel(BASE + 0x18, 1);
  return d.readl(BASE + 0x1c);
}

const setup = (kit: IommuKit) => {
  const table = kit.alloc(((2 * WINDOW) / 4096) * 8);
  kit.driver.writel(BASE + 0x00, table);
  kit.driver.writel(BASE + 0x04, 0);
};

iommuConformance({
  plugin: dir,
  options: { window_size: 2 * WINDOW },
  setup,
  map: (kit, m) =>
    expect(
      putTce(kit, m.iova, BigInt(m.gpa) | { read: 1n, write: 2n, 'read-write': 3n }[m.perm]),
    ).toBe(0),
  unmap: (kit, m) => expect(putTce(kit, m.iova, 0n)).toBe(0),
});

describe('tce', () => {
  async function rig(options: Record<string, number> = {}) {
    const emu = new Emulator({ machine: bareMachine(), ramSize: 64 << 20, log: () => {} });
    const mmu = emu.addIommu(await loadPluginDir(dir), { id: 'tce0', options });
    emu.addDevice(await loadPluginDir(FIXTURE));
    emu.machine.dma.bind({ bus: 'pci.0' }, 'tce0');
    const d = createDriver(emu);
    // The table goes at 32 MiB (the conformance kit allocates from 16 MiB; this rig needs one table).
    const kit = { emulator: emu, driver: d, iommu: mmu, alloc: () => 0x2000000 };
    setup(kit);
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
    return { emu, d, kit, copy };
  }

  it('translates device DMA through entries set with H_PUT_TCE, across non-contiguous pages', async () => {
    const { d, kit, copy } = await rig();
    expect(putTce(kit, 0x10000, 0x300000n | 1n)).toBe(0);
    expect(putTce(kit, 0x20000, 0x500000n | 2n)).toBe(0);
    expect(putTce(kit, 0x21000, 0x400000n | 2n)).toBe(0);
    d.memwrite(
      0x300000,
      Uint8Array.from({ length: 0x100 }, (_, i) => i),
    );
    expect(copy(0x10000, 0x20f80, 0x100)).toBe(0);
    expect([...d.memread(0x500f80, 0x80)]).toEqual([...Array(0x80).keys()]);
    expect([...d.memread(0x400000, 0x80)]).toEqual([...Array(0x80).keys()].map((x) => x + 0x80));
  });

  it('refuses writes to a read-only page and pages outside the window, visibly to the device', async () => {
    const { copy, kit } = await rig();
    putTce(kit, 0x10000, 0x300000n | 1n);
    expect(copy(0x10000, 0x10000, 4)).toBe(1);
    expect(copy(WINDOW + 0x1000, 0x10000, 4)).toBe(1);
    expect(copy(0x30000, 0x10000, 4)).toBe(1);
  });

  it('answers H_PARAMETER for an IOBA outside the window or unaligned, and reserved bits', async () => {
    const { kit } = await rig();
    expect(putTce(kit, WINDOW, 1n)).toBe(1);
    expect(putTce(kit, 0x10010, 1n)).toBe(1);
    expect(putTce(kit, 0x10000, 0x300010n | 1n)).toBe(1);
  });

  it('takes a window and page size as options (64 KiB pages)', async () => {
    // (The test device's address registers are 32-bit, so the window stays below 4 GiB.)
    const { d, kit, copy } = await rig({
      page_shift: 16,
      window_base: 0x80000000,
      window_size: 0x10000000,
    });
    expect(d.readl(BASE + 0x30)).toBe(16);
    expect(putTce(kit, 0x80000000, 0x800000n | 3n)).toBe(0);
    d.memwrite(0x80fff0, Uint8Array.of(1, 2, 3, 4));
    expect(copy(0x8000fff0, 0x800000f0, 4)).toBe(0);
    expect([...d.memread(0x8000f0, 4)]).toEqual([1, 2, 3, 4]);
    await expect(rig({ page_shift: 16, window_base: 0x1000 })).rejects.toThrow(
      /not made of 2\^16-byte pages/,
    );
  });
});
