/**
 * @emuhost/core: the kernel.
 *
 * - `memory/`: regions, address spaces, flat views and MMIO dispatch (QEMU's memory API).
 * - `dma/`: the DMA service registry, DMA contexts, the IOTLB and IOMMU instances.
 * - `guard.ts`: the per-device re-entrancy and fault guard every call into a device passes.
 * - `hooks.ts`: every kernel hook, in one object.
 */

export type { DmaContextImpl, DmaRequester } from './dma/dma-context.js';
export type { IommuInstance } from './dma/iommu-instance.js';
export type { IotlbStats } from './dma/iotlb.js';
export {
  type DmaContextInfo,
  DmaRegistry,
  type DmaRegistryOptions,
  type IommuBindingTarget,
} from './dma/registry.js';
export { DeviceGuard } from './guard.js';
export {
  createKernelHooks,
  type DeviceFaultEvent,
  type DmaTraceEvent,
  type GuardSite,
  type IommuFaultEvent,
  type IommuInvalidateEvent,
  type IommuRebindEvent,
  type KernelHooks,
  type ReentrancyEvent,
  type RegionOffset,
} from './hooks.js';
export { AddressSpace, CPU_ATTRS } from './memory/address-space.js';
export { FlatRange, FlatView } from './memory/flat-view.js';
export {
  createMemorySystem,
  type MemorySystem,
  type MemorySystemOptions,
  type MmioRegionOptions,
} from './memory/memory-system.js';
export { formatMtree } from './memory/mtree.js';
export type { DecodeDirection, MemoryRegion, RegionKind } from './memory/region.js';
