/**
 * @emuhost/host: loads plugins and runs them in a machine.
 *
 * - `manifest.ts`: `emuhost.plugin.json`, validated before any plugin code runs.
 * - `sdk-server.ts`, `sdk-runtime.ts`: the SDK versions served and the choice per plugin.
 * - `build.ts`: `emuhost build`, one plugin into one bundle.
 * - `plugin-host.ts`: the load pipeline and the loaded plugins.
 * - `device-host.ts`, `iommu-host.ts`, `cpu-host.ts`, `machine-host.ts`, `facades/`: plugins
 *   in a machine,
 *   and the handles they receive; `emulator.ts` puts them together; `builtin-iommu.ts` adds
 *   the IOMMU a machine has of its own (virt's iommu-sys).
 * - `backends/`: drives, entropy sources and the other host backends devices name.
 * - `run-loop.ts`, `host-clock.ts`, `char-channel.ts`: running a machine with CPUs (slices
 *   between event-loop turns, idle sleep, shutdown, pause) and its serial ports' backends.
 * - `options.ts`, `log.ts`, `diagnostics.ts`, `hooks.ts`: the pieces around them.
 * - `fault-report.ts`, `source-map.ts`: a device fault as its plugin's author reads it, with
 *   the stack mapped to the plugin's sources.
 */

export {
  type BackendsSpec,
  BUILTIN_RNG,
  builtinEntropy,
  DEFAULT_LATENCY_NS,
  type DriveSpec,
  FileBlockBackend,
  FileEntropy,
  HostBackends,
  type HostDrive,
  type HubMember,
  MAX_FRAME,
  type NetClock,
  type NetdevEntry,
  type NetdevOptions,
  type NetdevSpec,
  NetHub,
  NetPort,
  type NetTap,
  NULL_CO,
  NullBlockBackend,
  type OpenNetdev,
  openNetdev,
  PCAP_DEFAULT_MAXLEN,
  type PcapRecord,
  PcapWriter,
  type RngSpec,
  readPcap,
  StreamLink,
} from './backends/index.js';
export { bareMachine, bareMachineDefinition } from './bare-machine.js';
export {
  type BuildResult,
  buildPlugin,
  createPluginBuilder,
  type PluginBuilder,
  stopBuildService,
} from './build.js';
export { addBuiltinIommu } from './builtin-iommu.js';
export { bundledAlias, bundledPlugins, type DeviceAlias, loadBundled } from './bundled.js';
export { CharChannel, type CharChannelOptions } from './char-channel.js';
export { type AddCpuOptions, addCpu, type CpuTraceOptions, RunningCpu } from './cpu-host.js';
export {
  type AddDeviceOptions,
  addDevice,
  type PlacementRequest,
  RunningDevice,
} from './device-host.js';
export {
  type Diagnostic,
  type DiagnosticLocation,
  formatDiagnostics,
  PluginLoadError,
} from './diagnostics.js';
export {
  type DeviceRequest,
  Emulator,
  type EmulatorOptions,
  type ShutdownRequest,
} from './emulator.js';
export {
  type DeviceStatus,
  describeFault,
  describeRunning,
  deviceStatus,
  type FaultReport,
  faultReason,
  formatFault,
  pluginFrames,
  watchFaults,
} from './fault-report.js';
export {
  createHostHooks,
  createReloadHooks,
  type HostHooks,
  type PluginFailure,
  type ReloadHooks,
} from './hooks.js';
export { HostClock } from './host-clock.js';
export { inProcessPlugin } from './in-process.js';
export { type AddIommuOptions, addIommu, RunningIommu } from './iommu-host.js';
export {
  type IommuReloadReport,
  type IommuSwapNext,
  type IommuSwapOptions,
  type IommuSwapReport,
  type NewIommu,
  reloadIommu,
  removeIommu,
  swapIommu,
} from './iommu-swap.js';
export {
  type JsonSource,
  type JsonSyntaxError,
  parseJsonSource,
  type TextPosition,
} from './json-source.js';
export type { LoadedPlugin } from './loaded-plugin.js';
export { createLogger, type LogLevel, type LogSink, stderrSink } from './log.js';
export { aliasOf, buildMachineSpec, parseAddr, readFirmware } from './machine-build.js';
export {
  type DeviceSpec,
  type IommuSpec,
  type MachineSpec,
  type PluginRef,
  readMachineFile,
  type ValidateOptions,
  validateMachineSpec,
} from './machine-file.js';
export { type BuildMachineOptions, type BuiltMachine, buildMachine } from './machine-host.js';
export { MANIFEST_FILE, parseManifest, validateManifest } from './manifest.js';
export { mmioSlotMachine } from './mmio-slot-machine.js';
export { parseNumber, resolveOptions } from './options.js';
export {
  defaultLevel,
  type LoadOptions,
  PluginHost,
  type PluginHostOptions,
} from './plugin-host.js';
export {
  asHostError,
  formatReloadReport,
  ReloadError,
  type ReloadErrorReason,
  type ReloadFailure,
  type ReloadOptions,
  type ReloadPhase,
  type ReloadReport,
  reloadDevice,
  reloadPlugin,
} from './reload.js';
export {
  type PauseReason,
  type RunExit,
  RunLoop,
  type RunLoopOptions,
  type RunState,
} from './run-loop.js';
export { currentSdkRuntime } from './sdk-runtime.js';
export { SdkServer, type ServedSdk } from './sdk-server.js';
export {
  applyRestore,
  CHUNK_SIZE,
  captureSnapshot,
  crc32,
  decodeSnapshot,
  encodeSnapshot,
  formatSnapshotList,
  PAGE_SIZE,
  planRestore,
  type RestorePlan,
  type RestoreReport,
  readSnapshotFile,
  readSnapshotMeta,
  restoreSnapshot,
  type Section,
  SNAPSHOT_FORMAT_VERSION,
  SnapshotError,
  type SnapshotErrorReason,
  type SnapshotListing,
  type SnapshotMeta,
  type SnapshotPluginEntry,
  SnapshotStore,
  writeSnapshotFile,
} from './snapshot/index.js';
export { BundleSourceMap, type SourceLocation } from './source-map.js';
export { didYouMean, nearest } from './suggest.js';
