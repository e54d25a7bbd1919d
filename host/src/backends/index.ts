/**
 * The host's backends: what devices reach outside the machine through (`DeviceContext.block`,
 * `entropy`, `netdev`, `chardev`).
 *
 * - `host-backends.ts`: one machine's backends by id, who uses which, closing them.
 * - `file-block.ts`: a raw image file as a block backend.
 * - `null-block.ts`: QEMU's `null-co://` drive (stores nothing, reads zeroes).
 * - `entropy.ts`: the built-in (seeded or not) and file entropy sources.
 * - `net-hub.ts`: the hub that joins NICs and links, and a NIC's port (frames in virtual time).
 * - `stream-link.ts`: a hub member on a socket, with QEMU's `-netdev stream` framing.
 * - `netdev.ts`: `-netdev hub` and `-netdev stream` over Unix sockets.
 * - `pcap.ts`: `-object filter-dump`, a classic pcap capture of a netdev.
 */

export { BUILTIN_RNG, builtinEntropy, FileEntropy, type RngSpec } from './entropy.js';
export { type DriveSpec, FileBlockBackend } from './file-block.js';
export {
  type BackendsSpec,
  HostBackends,
  type HostDrive,
  type NetdevEntry,
} from './host-backends.js';
export {
  DEFAULT_LATENCY_NS,
  type HubMember,
  MAX_PENDING,
  type NetClock,
  NetHub,
  NetPort,
  type NetTap,
} from './net-hub.js';
export { type NetdevOptions, type NetdevSpec, type OpenNetdev, openNetdev } from './netdev.js';
export { NULL_CO, NullBlockBackend } from './null-block.js';
export { PCAP_DEFAULT_MAXLEN, type PcapRecord, PcapWriter, readPcap } from './pcap.js';
export { MAX_FRAME, StreamLink } from './stream-link.js';
