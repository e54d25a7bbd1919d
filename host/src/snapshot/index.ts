export {
  type CaptureOptions,
  CHUNK_SIZE,
  captureSnapshot,
  PAGE_SIZE,
  type SnapshotMeta,
  type SnapshotPluginEntry,
} from './capture.js';
export { crc32 } from './crc32.js';
export { SnapshotError, type SnapshotErrorReason } from './errors.js';
export {
  decodeSnapshot,
  encodeSnapshot,
  type Section,
  SNAPSHOT_FORMAT_VERSION,
} from './file-format.js';
export {
  applyRestore,
  planRestore,
  type RestorePlan,
  type RestoreReport,
  readSnapshotMeta,
  restoreSnapshot,
} from './restore.js';
export {
  formatSnapshotList,
  readSnapshotFile,
  type SnapshotListing,
  SnapshotStore,
  writeSnapshotFile,
} from './store.js';
