/**
 * @emuhost/core: the kernel.
 *
 * - `memory/`: regions, address spaces, flat views and MMIO dispatch (QEMU's memory API).
 * - `guard.ts`: the per-device re-entrancy and fault guard every call into a device passes.
 * - `hooks.ts`: every kernel hook, in one object.
 */

export { DeviceGuard } from './guard.js';
export {
  createKernelHooks,
  type DeviceFaultEvent,
  type GuardSite,
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
