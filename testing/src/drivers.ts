/**
 * `@emuhost/testing/drivers`: the guest-side drivers alone (the libqos-style `Driver`, edu's
 * identity, the VT-d, RISC-V IOMMU and virtio guests), without the conformance kits and so without a test runner: what a
 * program that drives a machine imports (the CLI's `emuhost run` demo does).
 */
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
  RISCV_IOMMU_BASE,
  RISCV_IOMMU_REGS,
  type RiscvFaultRecord,
  RiscvIommuGuest,
  type RiscvIommuGuestOptions,
  type RiscvPerm,
} from './riscv-iommu.js';
export {
  GuestQueue,
  type RawDesc,
  VIRTIO_F,
  VIRTIO_STATUS,
  type VirtioBuffer,
  VirtioGuest,
  virtioMmioGuest,
  virtioPciGuest,
} from './virtio.js';
export {
  BASE as VTD_BASE,
  type GuestOptions as VtdGuestOptions,
  type Perm as VtdPerm,
  R as VTD_REGS,
  VtdGuest,
  waitDescriptor as vtdWaitDescriptor,
} from './vtd.js';
