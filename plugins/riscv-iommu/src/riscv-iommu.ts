/**
 * The one object the model's modules share: the IOMMU context, the registers, the
 * device-context cache, the interrupt wires, and 8-byte reads of guest memory through the
 * IOMMU's own untranslated context (a read that fails is a result, never an exception).
 *
 * The device-context cache holds every device context used since it was last invalidated:
 * as on hardware, a guest that edits a valid context without IODIR.INVAL_DDT keeps seeing the
 * old one. It is saved with the registers, so that a reload of the code changes nothing the
 * guest or the kernel's IOTLB can see.
 */
import { type IommuContext, iova } from '@emuhost/sdk';
import type { RegState } from './registers.js';

/** A valid device context as the walks use it (base format, 32 bytes). */
export interface DeviceContext {
  /** tc.DTF: faults after the context was found are not reported. */
  readonly dtf: boolean;
  /** iosatp.MODE: 0 (Bare), 8 (Sv39) or 9 (Sv48). */
  readonly fscMode: number;
  /** The first-stage root table's guest-physical address. */
  readonly root: number;
  /** ta.PSCID: the process soft-context id translations are tagged with. */
  readonly pscid: number;
  /** iohgatp.GSCID. */
  readonly gscid: number;
  /** iohgatp.MODE: 0 (Bare), 8 (Sv39x4) or 9 (Sv48x4). */
  readonly gMode: number;
  /** The second-stage root table's address (16 KiB aligned). */
  readonly gRoot: number;
}

export interface RiscvIommu {
  readonly ctx: IommuContext;
  /** Whether Sv48 and Sv48x4 are implemented and advertised (the `sv48` option). */
  readonly sv48: boolean;
  r: RegState;
  /** device_id → its cached device context. */
  readonly contexts: Map<number, DeviceContext>;
  /** The four wired interrupt outputs (vectors 0..3), as last driven. */
  readonly wires: ((level: 0 | 1) => void)[];
  readonly wireLevels: (0 | 1)[];
  /**
   * `ddtp`'s mode and directory address as numbers, for the translation path (which would
   * otherwise take them apart from a bigint on every IOTLB miss). `syncDdtp` keeps them.
   */
  ddtMode: number;
  ddtRoot: number;
  /** The last faults reported, as `info iommu` lines (kept across reloads with the state). */
  readonly recent: string[];
}

/** Refreshes `ddtMode` and `ddtRoot` from the `ddtp` register. */
export function syncDdtp(m: RiscvIommu): void {
  m.ddtMode = Number(m.r.ddtp & 0xfn);
  m.ddtRoot = Number((m.r.ddtp >> 10n) & ((1n << 44n) - 1n)) * 4096;
}

const scratch = new Uint8Array(8);
const view = new DataView(scratch.buffer);

/**
 * Reads the 8-byte little-endian word at `addr` as [low, high] 32-bit halves into `out`;
 * false when the read fails (nothing there, or an address past 2^53).
 */
export function readWord(m: RiscvIommu, addr: number, out: [number, number]): boolean {
  if (!(addr >= 0 && addr + 8 <= Number.MAX_SAFE_INTEGER)) return false;
  if (m.ctx.memory.read(iova(addr), scratch) !== 'ok') return false;
  out[0] = view.getUint32(0, true);
  out[1] = view.getUint32(4, true);
  return true;
}

/** Writes `bytes` at `addr` through the IOMMU's own context; false when it fails. */
export function writeBytes(m: RiscvIommu, addr: number, bytes: Uint8Array): boolean {
  if (!(addr >= 0 && addr + bytes.length <= Number.MAX_SAFE_INTEGER)) return false;
  return m.ctx.memory.write(iova(addr), bytes) === 'ok';
}
