/**
 * The host's backends: what devices reach outside the machine through (`DeviceContext.block`,
 * `entropy`, `netdev`, `chardev`).
 *
 * - `host-backends.ts`: one machine's backends by id, who uses which, closing them.
 * - `file-block.ts`: a raw image file as a block backend.
 * - `null-block.ts`: QEMU's `null-co://` drive (stores nothing, reads zeroes).
 * - `entropy.ts`: the built-in (seeded or not) and file entropy sources.
 */

export { BUILTIN_RNG, builtinEntropy, FileEntropy, type RngSpec } from './entropy.js';
export { type DriveSpec, FileBlockBackend } from './file-block.js';
export { type BackendsSpec, HostBackends, type HostDrive } from './host-backends.js';
export { NULL_CO, NullBlockBackend } from './null-block.js';
