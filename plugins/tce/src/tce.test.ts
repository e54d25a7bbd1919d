/**
 * TCE: the SDK's IOMMU conformance suite, then device DMA through the window as a guest
 * would set it up (the table in guest RAM, entries through the H_PUT_TCE register block),
 * with QEMU's edu as the requester: RAM→buffer transfers are DMA reads, buffer→RAM ones DMA
 * writes, and edu's DMA status register says how each ended.
 */
import { fileURLToPath } from 'node:url';
import { bareMachine, Emulator } from '@emuhost/host';
import { createDriver, type IommuKit, iommuConformance, loadPluginDir } from '@emuhost/testing';
import { describe, expect, it } from 'vitest';
import { DMA, EDU_OPTIONS, findEdu, loadEdu } from './test-support/edu.js';

const dir = fileURLToPath(new URL('..', import.meta.url));
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
  /** Where the rig puts the TCE table: 32 MiB (the conformance kit allocates from 16 MiB). */
  const TABLE = 0x2000000;

  async function rig(options: Record<string, number> = {}) {
    const emu = new Emulator({ machine: bareMachine(), ramSize: 64 << 20, log: () => {} });
    const mmu = emu.addIommu(await loadPluginDir(dir), { id: 'tce0', options });
    emu.addDevice(await loadEdu(), { options: EDU_OPTIONS });
    emu.machine.dma.bind({ bus: 'pci.0' }, 'tce0');
    const d = createDriver(emu);
    const kit = { emulator: emu, driver: d, iommu: mmu, alloc: () => TABLE };
    setup(kit);
    return { emu, d, kit, edu: findEdu(d) };
  }

  it('translates device DMA through entries set with H_PUT_TCE, across non-contiguous pages', async () => {
    const { d, kit, edu } = await rig();
    expect(putTce(kit, 0x10000, 0x300000n | 1n)).toBe(0);
    expect(putTce(kit, 0x20000, 0x500000n | 2n)).toBe(0);
    expect(putTce(kit, 0x21000, 0x400000n | 2n)).toBe(0);
    d.memwrite(
      0x300000,
      Uint8Array.from({ length: 0x100 }, (_, i) => i),
    );
    expect(edu.copy(0x10000, 0x20f80, 0x100)).toBe(DMA.OK);
    expect([...d.memread(0x500f80, 0x80)]).toEqual([...Array(0x80).keys()]);
    expect([...d.memread(0x400000, 0x80)]).toEqual([...Array(0x80).keys()].map((x) => x + 0x80));
  });

  it('refuses writes to a read-only page, reads of a write-only one, and pages not present or outside the window', async () => {
    const { d, kit, edu } = await rig();
    putTce(kit, 0x10000, 0x300000n | 1n);
    putTce(kit, 0x20000, 0x500000n | 2n);
    d.memwrite(0x300000, Uint8Array.of(1, 2, 3, 4));
    // Read-only: RAM→EDU works, EDU→RAM is refused and leaves RAM as it was.
    expect(edu.toBuffer(0x10000, 4)).toBe(DMA.OK);
    expect(edu.fromBuffer(0x10000, 4, 0x100)).toBe(DMA.IOMMU_FAULT);
    expect([...d.memread(0x300000, 4)]).toEqual([1, 2, 3, 4]);
    // Write-only: the other way round.
    expect(edu.fromBuffer(0x20000, 4)).toBe(DMA.OK);
    expect([...d.memread(0x500000, 4)]).toEqual([1, 2, 3, 4]);
    expect(edu.toBuffer(0x20000, 4)).toBe(DMA.IOMMU_FAULT);
    // Outside the window, and inside it with no entry.
    expect(edu.copy(WINDOW + 0x1000, 0x20000, 4)).toBe(DMA.IOMMU_FAULT);
    expect(edu.copy(0x30000, 0x20000, 4)).toBe(DMA.IOMMU_FAULT);
    expect(edu.copy(0x10000, WINDOW + 0x1000, 4)).toBe(DMA.IOMMU_FAULT);
  });

  it('keeps an entry changed behind H_PUT_TCE stale until that page is put again; a zero TCE unmaps', async () => {
    const { d, kit, edu } = await rig();
    putTce(kit, 0x10000, 0x300000n | 1n);
    putTce(kit, 0x20000, 0x500000n | 2n);
    d.memwrite(0x300000, Uint8Array.of(3));
    d.memwrite(0x600000, Uint8Array.of(6));
    const seen = () => {
      expect(edu.copy(0x10000, 0x20000, 1)).toBe(DMA.OK);
      return d.memread(0x500000, 1)[0];
    };
    expect(seen()).toBe(3);
    // The entry for 0x10000 (big-endian in the table) rewritten without the hypercall.
    const entry = TABLE + (0x10000 / 4096) * 8;
    d.memwrite(entry, Uint8Array.of(0, 0, 0, 0, 0, 0x60, 0, 1));
    expect(seen()).toBe(3);
    // A PUT invalidates only its own page.
    expect(putTce(kit, 0x11000, 0x700000n | 1n)).toBe(0);
    expect(seen()).toBe(3);
    expect(putTce(kit, 0x10000, 0x600000n | 1n)).toBe(0);
    expect(seen()).toBe(6);
    expect(putTce(kit, 0x10000, 0n)).toBe(0);
    expect(edu.copy(0x10000, 0x20000, 1)).toBe(DMA.IOMMU_FAULT);
  });

  it('answers H_PARAMETER for an IOBA outside the window or unaligned, and reserved bits', async () => {
    const { kit } = await rig();
    expect(putTce(kit, WINDOW, 1n)).toBe(1);
    expect(putTce(kit, 0x10010, 1n)).toBe(1);
    expect(putTce(kit, 0x10000, 0x300010n | 1n)).toBe(1);
  });

  it('takes a window and page size as options (64 KiB pages, a window above 4 GiB)', async () => {
    // edu's DMA addresses are 64-bit, so the window can start at 4 GiB.
    const base = 0x1_0000_0000;
    const { d, kit, edu } = await rig({
      page_shift: 16,
      window_base: base,
      window_size: 0x10000000,
    });
    expect(d.readl(BASE + 0x30)).toBe(16);
    expect(d.readl(BASE + 0x24)).toBe(1); // WINDOW_HI
    expect(putTce(kit, base, 0x800000n | 3n)).toBe(0);
    expect(putTce(kit, base + 0x10000, 0x900000n | 3n)).toBe(0);
    const src = Uint8Array.from({ length: 0x20 }, (_, i) => i + 1);
    d.memwrite(0x80fff0, src.subarray(0, 0x10));
    d.memwrite(0x900000, src.subarray(0x10));
    // From the last 16 bytes of one 64 KiB page into the next, to offset 0x10f0 of the first.
    expect(edu.copy(base + 0xfff0, base + 0x10f0, 0x20)).toBe(DMA.OK);
    expect([...d.memread(0x8010f0, 0x20)]).toEqual([...src]);
    expect(edu.copy(base + 0x20000, base, 4)).toBe(DMA.IOMMU_FAULT);
    await expect(rig({ page_shift: 16, window_base: 0x1000 })).rejects.toThrow(
      /not made of 2\^16-byte pages/,
    );
  });
});
