/**
 * The generated device tree against QEMU 10's (the reference guest's tree, compiled by dtc:
 * fdt/fixtures): the nodes a stock kernel probes are there with the same properties, and
 * nothing is advertised the machine does not have.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildTree } from './device-tree.js';
import {
  findNode,
  getProp,
  parseDtb,
  readCells,
  readStringList,
  toDtb,
  toDts,
} from './fdt/index.js';

const HART = {
  'riscv,isa': 'rv64imafdc_zicntr_zicsr_zifencei',
  'riscv,isa-base': 'rv64i',
  'riscv,isa-extensions': 'i,m,a,f,d,c,zicntr,zicsr,zifencei',
  'mmu-type': 'riscv,sv39',
};
const MiB = 1 << 20;

/** QEMU 10's tree for the reference configuration (iommu-sys, PLIC, minimal CPU). */
function fixture() {
  const file = join(import.meta.dirname, 'fdt', 'fixtures', 'virt-iommu-sys-wsi-mincpu.dtb');
  return parseDtb(new Uint8Array(readFileSync(file)));
}

describe('virt device tree', () => {
  const tree = buildTree({ ramSize: 512 * MiB, timebase: 10_000_000, harts: [HART], iommu: true });
  const dts = toDts(tree);

  it('round-trips through a blob', () => {
    expect(toDts(parseDtb(toDtb(tree)))).toBe(dts);
  });

  it('has every node of QEMU 10 virt (iommu-sys, PLIC) that the kernel probes, at the same address', () => {
    const q = fixture();
    expect(q).toBeDefined();
    for (const path of [
      '/cpus/cpu@0/interrupt-controller',
      '/memory@80000000',
      '/soc/serial@10000000',
      '/soc/rtc@101000',
      '/soc/test@100000',
      '/soc/plic@c000000',
      '/soc/clint@2000000',
      '/soc/pci@30000000',
      '/soc/iommu@3010000',
      '/soc/virtio_mmio@10001000',
      '/soc/virtio_mmio@10008000',
      '/poweroff',
      '/reboot',
      '/chosen',
    ]) {
      expect(findNode(q!.root, path), `QEMU has ${path}`).toBeDefined();
      expect(findNode(tree.root, path), `emuhost has ${path}`).toBeDefined();
    }
    for (const [path, prop] of [
      ['/soc/pci@30000000', 'interrupt-map'],
      ['/soc/pci@30000000', 'interrupt-map-mask'],
      ['/soc/pci@30000000', 'ranges'],
      ['/soc/pci@30000000', 'reg'],
      ['/soc/plic@c000000', 'reg'],
      ['/soc/plic@c000000', 'riscv,ndev'],
      ['/soc/clint@2000000', 'reg'],
      ['/soc/serial@10000000', 'reg'],
      ['/soc/serial@10000000', 'interrupts'],
      ['/memory@80000000', 'reg'],
      ['/cpus', 'timebase-frequency'],
    ] as const) {
      const ours = getProp(findNode(tree.root, path)!, prop);
      const theirs = getProp(findNode(q!.root, path)!, prop);
      expect(Array.from(ours ?? []), `${path} ${prop}`).toEqual(Array.from(theirs ?? []));
    }
  });

  it("advertises only the CPU plugin's extensions and Sv39", () => {
    const cpu = findNode(tree.root, '/cpus/cpu@0')!;
    expect(readStringList(getProp(cpu, 'riscv,isa-extensions')!)).toEqual(
      HART['riscv,isa-extensions'].split(','),
    );
    expect(dts).toContain('mmu-type = "riscv,sv39"');
  });

  it('gives the IOMMU one interrupt cell per interrupt (the PLIC takes one) and no msi-parent', () => {
    const iommu = findNode(tree.root, '/soc/iommu@3010000')!;
    expect(readCells(getProp(iommu, 'interrupts')!)).toEqual([36, 37, 38, 39]);
    expect(getProp(iommu, 'msi-parent')).toBeUndefined();
  });

  it('has no IOMMU node when the machine has none, and one CPU node per hart', () => {
    const two = buildTree({ ramSize: 256 * MiB, timebase: 10_000_000, harts: [HART, HART] });
    expect(findNode(two.root, '/soc/iommu@3010000')).toBeUndefined();
    expect(findNode(two.root, '/cpus/cpu@1')).toBeDefined();
    expect(getProp(findNode(two.root, '/soc/pci@30000000')!, 'iommu-map')).toBeUndefined();
  });
});
