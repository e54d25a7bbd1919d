/**
 * QEMU's RISC-V virt memory map (hw/riscv/virt.c `virt_memmap`) and interrupt numbers: where
 * each device of the machine sits, in guest-physical addresses, and which PLIC source it
 * raises.
 */
export const MEMMAP = {
  mrom: { base: 0x1000, size: 0xf000 },
  test: { base: 0x100000, size: 0x1000 },
  rtc: { base: 0x101000, size: 0x1000 },
  clint: { base: 0x2000000, size: 0x10000 },
  pciePio: { base: 0x3000000, size: 0x10000 },
  iommuSys: { base: 0x3010000, size: 0x1000 },
  plic: { base: 0xc000000, size: 0x600000 },
  uart0: { base: 0x10000000, size: 0x100 },
  virtio: { base: 0x10001000, size: 0x1000 },
  pcieEcam: { base: 0x30000000, size: 0x10000000 },
  pcieMmio: { base: 0x40000000, size: 0x40000000 },
  pcieMmioHigh: { base: 0x4_0000_0000, size: 0x4_0000_0000 },
  dram: { base: 0x80000000 },
} as const;

/** PLIC sources. */
export const IRQS = {
  /** virtio-mmio slot n (0-based) raises source 1 + n. */
  virtio: 1,
  uart0: 10,
  rtc: 11,
  /** PCIe INTA..INTD after the swizzle: sources 32..35. */
  pcie: 32,
  /** The RISC-V IOMMU's four wired interrupts: 36..39. */
  iommu: 36,
} as const;

export const VIRTIO_SLOTS = 8;
/** Sources the PLIC has (`riscv,ndev`). */
export const PLIC_SOURCES = 95;
/** The CLINT's timebase (`timebase-frequency`), Hz. */
export const TIMEBASE = 10_000_000;
