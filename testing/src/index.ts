/**
 * @emuhost/testing: tools for testing emuhost plugins (a dev dependency of plugins).
 *
 * - `driver.ts`: a libqos-style driver API (memory, ports, PCI enumeration and BARs, clock, IRQs).
 * - `device-conformance.ts`, `iommu-conformance.ts`: the suites every plugin runs.
 * - `load.ts`: build and load a plugin directory.
 */

export {
  type DeviceCase,
  type DeviceConformanceOptions,
  deviceCases,
  deviceConformance,
} from './device-conformance.js';
export { type BarMapping, createDriver, Driver, PciDeviceRef } from './driver.js';
export {
  type IommuCase,
  type IommuConformanceOptions,
  type IommuKit,
  type IommuMapping,
  iommuCases,
  iommuConformance,
} from './iommu-conformance.js';
export { loadPluginDir, type PluginSource, resolvePlugin } from './load.js';
