/**
 * @emuhost/core: the kernel.
 *
 * - `memory/`: regions, address spaces, flat views and MMIO dispatch (QEMU's memory API).
 * - `dma/`: the DMA service registry, DMA contexts, the IOTLB and IOMMU instances.
 * - `pci/`: PCI buses, functions (config space, BARs, INTx, MSI), configuration mechanism #1.
 * - `platform/`: the platform bus for non-PCI devices.
 * - `irq/`: interrupt lines, interrupt controllers, the MSI sink.
 * - `clock/`: the virtual clock and its timers.
 * - `cpu/`: CPUs: their scheduling against the clock, their memory, the page watches that
 *   keep what they decoded coherent with DMA.
 * - `device/`: device scopes (what a device holds, released on detach).
 * - `machine.ts`: one kernel instance and its devices' lifecycle.
 * - `guard.ts`: the per-device re-entrancy and fault guard every call into a device passes.
 * - `hooks.ts`: every kernel hook, in one object.
 */

export { type ClockState, Timer, VirtualClock } from './clock/virtual-clock.js';
export { KernelCpuMemory } from './cpu/cpu-memory.js';
export {
  CpuScheduler,
  type RunOutcome,
  type ScheduledCpu,
  type SchedulerOptions,
  type SchedulerState,
  type TurnState,
} from './cpu/cpu-scheduler.js';
export { WatchHub, type WatchingCpu } from './cpu/watch-hub.js';
export { DeviceScope } from './device/device-scope.js';
export type { KernelServices } from './device/services.js';
export type { DmaContextImpl, DmaRequester } from './dma/dma-context.js';
export type { IommuInstance } from './dma/iommu-instance.js';
export type { IotlbStats } from './dma/iotlb.js';
export {
  type DmaContextInfo,
  DmaRegistry,
  type DmaRegistryOptions,
  type IommuBindingTarget,
  type RebindSummary,
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
export { InterruptController, type IrqObserver } from './irq/interrupt-controller.js';
export { IrqLine, type IrqSink, type IrqTrigger } from './irq/irq-line.js';
export { type MsiMessage, type MsiObserver, MsiSink } from './irq/msi-sink.js';
export {
  type AttachedDevice,
  createMachine,
  type DeviceInstance,
  Machine,
  type MachineOptions,
} from './machine.js';
export { AddressSpace, CPU_ATTRS } from './memory/address-space.js';
export { FlatRange, FlatView } from './memory/flat-view.js';
export {
  createMemorySystem,
  type MemorySystem,
  type MemorySystemOptions,
  type MmioRegionOptions,
} from './memory/memory-system.js';
export { formatMtree } from './memory/mtree.js';
export { PageWatch, WATCH_PAGE_SIZE } from './memory/page-watch.js';
export type { DecodeDirection, MemoryRegion, RegionKind } from './memory/region.js';
export { BAR_UNMAPPED, PciBar } from './pci/bar.js';
export { attachConfigMechanism1, type ConfigMechanism } from './pci/config-mechanism.js';
export { PCI_CFG, PCI_COMMAND, PCI_STATUS, PciConfigSpace } from './pci/config-space.js';
export { createEcam, ECAM_BUS_SIZE } from './pci/ecam.js';
export { MsiCapability, type MsiSpec } from './pci/msi.js';
export { MSIX_MAX_VECTORS, MsixCapability, msixBarLayout } from './pci/msix.js';
export { formatDevfn, PciBus, type PciBusOptions, swizzle } from './pci/pci-bus.js';
export {
  type PciConfigHooks,
  PciFunction,
  type PciFunctionSpec,
  type PciFunctionState,
} from './pci/pci-function.js';
export { PlatformBus } from './platform/platform-bus.js';
