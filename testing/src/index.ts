/**
 * @emuhost/testing: tools for testing emuhost plugins (a dev dependency of plugins).
 *
 * - `driver.ts`: a libqos-style driver API (memory, ports, PCI enumeration and BARs, clock, IRQs).
 * - `device-conformance.ts`, `iommu-conformance.ts`: the suites every plugin runs.
 * - `load.ts`: build and load a plugin directory.
 * - `edu.ts`: a guest driver for QEMU's edu device, the DMA requester IOMMU tests program.
 * - `vtd.ts`: a guest driver for the VT-d IOMMU plugin (tables in guest RAM, invalidations).
 * - `riscv-iommu.ts`: a guest driver for the RISC-V IOMMU plugin (directory, page tables, queues).
 */

export {
  type DeviceCase,
  type DeviceConformanceOptions,
  deviceCases,
  deviceConformance,
} from './device-conformance.js';
export { type BarMapping, createDriver, Driver, PciDeviceRef } from './driver.js';
export {
  EDU_BUF_SIZE,
  EDU_DEVICE,
  EDU_DMA,
  EDU_OPTIONS,
  EDU_VENDOR,
  type EduDevice,
  eduDevices,
  findEdu,
} from './edu.js';
export {
  type IommuCase,
  type IommuConformanceOptions,
  type IommuKit,
  type IommuMapping,
  iommuCases,
  iommuConformance,
} from './iommu-conformance.js';
export { loadPluginDir, type PluginSource, resolvePlugin } from './load.js';
export {
  RISCV_IOMMU_BASE,
  RISCV_IOMMU_REGS,
  type RiscvFaultRecord,
  RiscvIommuGuest,
  type RiscvIommuGuestOptions,
  type RiscvPerm,
} from './riscv-iommu.js';
export {
  BASE as VTD_BASE,
  type GuestOptions as VtdGuestOptions,
  type Perm as VtdPerm,
  R as VTD_REGS,
  VtdGuest,
  waitDescriptor as vtdWaitDescriptor,
} from './vtd.js';
