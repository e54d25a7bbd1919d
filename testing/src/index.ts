/**
 * @emuhost/testing: tools for testing emuhost plugins (a dev dependency of plugins).
 *
 * - `driver.ts`: a libqos-style driver API (memory, ports, PCI enumeration and BARs, clock, IRQs).
 * - `device-conformance.ts`, `iommu-conformance.ts`: the suites every plugin runs.
 * - `load.ts`: build and load a plugin directory.
 * - `edu.ts`: a guest driver for QEMU's edu device, the DMA requester IOMMU tests program.
 * - `vtd.ts`: a guest driver for the VT-d IOMMU plugin (tables in guest RAM, invalidations).
 * - `riscv-iommu.ts`: a guest driver for the RISC-V IOMMU plugin (directory, page tables, queues).
 * - `virtio.ts`: a guest driver for virtio devices (virtio-pci and virtio-mmio, split queues).
 * - `virtio-conformance.ts`: the kit's virtio cases (queue set-up, reset, bad descriptors).
 * - `virtio-net-conformance.ts`: its virtio-net cases (configuration, frames, bad requests).
 * - `drivers.ts`: the drivers alone, as `@emuhost/testing/drivers`, for programs with no test
 *   runner.
 */

export {
  type DeviceCase,
  type DeviceConformanceOptions,
  deviceCases,
  deviceConformance,
} from './device-conformance.js';
export * from './drivers.js';
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
  type VirtioCase,
  type VirtioConformanceOptions,
  virtioCases,
  virtioConformance,
} from './virtio-conformance.js';
export {
  type VirtioNetCase,
  type VirtioNetConformanceOptions,
  virtioNetCases,
  virtioNetConformance,
} from './virtio-net-conformance.js';
