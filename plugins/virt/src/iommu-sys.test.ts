/**
 * `-machine virt,iommu-sys=on`: the host adds the machine's RISC-V IOMMU (the riscv-iommu
 * plugin) at 0x3010000, the PCIe requesters sit behind it, its wired interrupts reach PLIC
 * sources 36..39, and the device tree says so (the node, one interrupt cell each, no
 * msi-parent, and the PCIe host's iommu-map). With iommu-sys off (or auto) nothing of this
 * exists and PCIe DMA is untranslated, as before.
 */
import { addBuiltinIommu, Emulator, loadBundled, PluginHost } from '@emuhost/host';
import { type DmaError, type GuestPhysAddr, iova } from '@emuhost/sdk';
import { describe, expect, it } from 'vitest';
import { findNode, getProp, parseDtb, readCells } from './fdt/index.js';

const host = new PluginHost();

async function virt(iommuSys: string) {
  const emu = new Emulator({
    machine: await loadBundled(host, 'virt'),
    ramSize: 256 << 20,
    cpu: { plugin: await loadBundled(host, 'rv64') },
    machineOptions: { 'iommu-sys': iommuSys },
    log: () => {},
  });
  await addBuiltinIommu(emu, host);
  emu.addDevice(await loadBundled(host, 'edu'), { id: 'edu0' });
  emu.ready();
  return emu;
}

const mem = (emu: Emulator) => emu.machine.memory;
const PLIC_PENDING = 0xc001000;

describe('virt with iommu-sys', () => {
  it('has the IOMMU at 0x3010000 translating pcie.0, wired to PLIC 36..39, in the device tree', async () => {
    const emu = await virt('on');
    expect([...emu.iommus.keys()]).toEqual(['iommu-sys']);
    const edu = emu.machine.dma.info().find((c) => c.device === 'edu0')!;
    expect(edu).toMatchObject({ bus: 'pcie.0', iommu: 'iommu-sys', requesterId: 0x08 });
    // Off at reset: the capabilities register answers, and DMA is refused.
    expect(mem(emu).load(0x3010000 as GuestPhysAddr, 4)).toBe(
      0x10 | (1 << 9) | (1 << 17) | (2 << 28),
    );
    const dma = emu.machine.dma.createContext({
      device: 'probe',
      bus: 'pcie.0',
      requesterId: 0x08,
    });
    expect((dma.readU32LE(iova(0x80000000)) as DmaError).result).toBe('iommu-fault');
    // Wired interrupts: fctl.WSI, a fault-queue interrupt on vector 1 is PLIC source 37.
    // 64-bit registers as two 4-byte writes, low half first.
    const w = (off: number, v: number | bigint, size: 4 | 8 = 4) => {
      const at = (o: number) => (0x3010000 + o) as GuestPhysAddr;
      if (size === 4) return mem(emu).store(at(off), 4, Number(v));
      mem(emu).store(at(off), 4, Number(BigInt(v) & 0xffffffffn));
      return mem(emu).store(at(off + 4), 4, Number(BigInt(v) >> 32n));
    };
    w(0x08, 2); // fctl.WSI
    w(0x2f8, 0x2310n, 8); // icvec
    w(0x28, (0x8100_0000n >> 2n) | 3n, 8); // fqb: 16 entries
    w(0x30, 0);
    w(0x4c, 3); // fqcsr: on, interrupts enabled
    dma.readU32LE(iova(0x80000000)); // cause 256, all inbound transactions disallowed
    expect(mem(emu).load((0x3010000 + 0x34) as GuestPhysAddr, 4)).toBe(1); // fqt
    const pending = Number(mem(emu).load((PLIC_PENDING + 4) as GuestPhysAddr, 4));
    expect((pending >>> (37 - 32)) & 1).toBe(1);
    w(0x54, 2); // ipsr.fip cleared: the line drops
    expect((Number(mem(emu).load((PLIC_PENDING + 4) as GuestPhysAddr, 4)) >>> 5) & 1).toBe(0);

    const tree = parseDtb(emu.model.deviceTree!());
    const node = findNode(tree.root, '/soc/iommu@3010000')!;
    expect(readCells(getProp(node, 'interrupts')!)).toEqual([36, 37, 38, 39]);
    expect(getProp(node, 'msi-parent')).toBeUndefined();
    const map = readCells(getProp(findNode(tree.root, '/soc/pci@30000000')!, 'iommu-map')!);
    expect(map).toEqual([0, readCells(getProp(node, 'phandle')!)[0], 0, 0x10000]);
  }, 120_000);

  it('has no IOMMU with iommu-sys=off or auto: no node, untranslated PCIe DMA', async () => {
    for (const v of ['off', 'auto']) {
      const emu = await virt(v);
      expect(emu.iommus.size).toBe(0);
      expect(emu.machine.dma.info().find((c) => c.device === 'edu0')?.iommu).toBeNull();
      const tree = parseDtb(emu.model.deviceTree!());
      expect(findNode(tree.root, '/soc/iommu@3010000')).toBeUndefined();
      expect(mem(emu).load(0x3010000 as GuestPhysAddr, 4)).not.toBe(0x10 | (1 << 9));
    }
  }, 120_000);

  it('refuses a value of iommu-sys it does not know', async () => {
    await expect(virt('maybe')).rejects.toThrow(/iommu-sys=maybe: on, off or auto/);
  });
});
