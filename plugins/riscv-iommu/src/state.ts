/**
 * Saved state: the registers (ddtp, the command, fault and page-request queues, interrupt
 * configuration) and the device-context cache as plain data (64-bit registers as hex strings,
 * so the state survives JSON as well as structured cloning), and back. A state that does not
 * have this shape is refused (undefined), never half-applied.
 *
 * Versions: v1 (0.1.0) had no `sv48`. v2 (0.2.0) records whether Sv48 was advertised, so a
 * reload never changes the capabilities a running driver probed (the new instance's `sv48`
 * option is overridden, with a warning). A v1 state migrates with `sv48: null`: the option
 * decides, as it did.
 *
 * The IOTLB is the kernel's, not in this state: a reload flushes every bound requester's
 * IOTLB and translates live mappings again through the new instance (host's `reloadIommu`),
 * and the context cache travels here, so what the guest did not invalidate stays cached in
 * the model as before.
 */

import { initialRegs, MSI_ENTRIES, type QueueState, type RegState, VECTORS } from './registers.js';
import type { DeviceContext } from './riscv-iommu.js';

interface SavedQueue {
  base: string;
  head: number;
  tail: number;
  csr: number;
}

export const STATE_VERSION = 2;

export interface SavedState {
  /** Whether Sv48/Sv48x4 were advertised (null: as the options say; a migrated v1 state). */
  sv48: boolean | null;
  fctl: number;
  ddtp: string;
  cq: SavedQueue;
  fq: SavedQueue;
  pq: SavedQueue;
  ipsr: number;
  icvec: string;
  msi: { addr: string; data: number; ctrl: number }[];
  msiPending: boolean[];
  contexts: (DeviceContext & { did: number })[];
  /** The last faults reported, for `info iommu` (not guest-visible). */
  recent: string[];
}

const hex = (v: bigint) => `0x${v.toString(16)}`;
const saveQueue = (q: QueueState): SavedQueue => ({ ...q, base: hex(q.base) });

export function saveState(
  r: RegState,
  contexts: ReadonlyMap<number, DeviceContext>,
  recent: readonly string[],
  sv48: boolean,
): SavedState {
  return {
    sv48,
    fctl: r.fctl,
    ddtp: hex(r.ddtp),
    cq: saveQueue(r.cq),
    fq: saveQueue(r.fq),
    pq: saveQueue(r.pq),
    ipsr: r.ipsr,
    icvec: hex(r.icvec),
    msi: r.msi.map((e) => ({ addr: hex(e.addr), data: e.data, ctrl: e.ctrl })),
    msiPending: [...r.msiPending],
    contexts: [...contexts].map(([did, dc]) => ({ did, ...dc })),
    recent: [...recent],
  };
}

const isU32 = (x: unknown): x is number =>
  Number.isInteger(x) && (x as number) >= 0 && (x as number) < 2 ** 32;

function big(x: unknown): bigint | undefined {
  if (typeof x !== 'string' || !/^0x[0-9a-f]+$/.test(x)) return undefined;
  return BigInt(x);
}

function restoreQueue(x: unknown): QueueState | undefined {
  const q = (x ?? {}) as Record<string, unknown>;
  const base = big(q.base);
  if (base === undefined || !isU32(q.head) || !isU32(q.tail) || !isU32(q.csr)) return undefined;
  return { base, head: q.head, tail: q.tail, csr: q.csr };
}

function restoreContext(x: unknown): [number, DeviceContext] | undefined {
  const c = (x ?? {}) as Record<string, unknown>;
  const { did, dtf, fscMode, root, pscid, gscid, gMode, gRoot } = c;
  if (
    !isU32(did) ||
    typeof dtf !== 'boolean' ||
    (fscMode !== 0 && fscMode !== 8 && fscMode !== 9) ||
    !Number.isSafeInteger(root) ||
    !isU32(pscid) ||
    !isU32(gscid) ||
    (gMode !== 0 && gMode !== 8 && gMode !== 9) ||
    !Number.isSafeInteger(gRoot)
  )
    return undefined;
  return [did, { dtf, fscMode, root: root as number, pscid, gscid, gMode, gRoot: gRoot as number }];
}

/** A v1 state as v2; undefined for a version this code does not know (the IOMMU resets). */
export function migrateState(from: number, data: unknown): unknown {
  if (from !== 1 || typeof data !== 'object' || data === null) return undefined;
  return { ...data, sv48: null };
}

/** The registers and context cache from saved data, or undefined when it is not one. */
export function restoreState(data: unknown):
  | {
      regs: RegState;
      contexts: Map<number, DeviceContext>;
      recent: string[];
      sv48: boolean | null;
    }
  | undefined {
  const s = (data ?? {}) as Record<string, unknown>;
  if (s.sv48 !== null && typeof s.sv48 !== 'boolean') return undefined;
  const ddtp = big(s.ddtp);
  const icvec = big(s.icvec);
  const cq = restoreQueue(s.cq);
  const fq = restoreQueue(s.fq);
  const pq = restoreQueue(s.pq);
  if (ddtp === undefined || icvec === undefined || !cq || !fq || !pq) return undefined;
  if (!isU32(s.fctl) || !isU32(s.ipsr)) return undefined;
  if (!Array.isArray(s.msi) || s.msi.length !== MSI_ENTRIES) return undefined;
  if (!Array.isArray(s.msiPending) || s.msiPending.length !== VECTORS) return undefined;
  if (!Array.isArray(s.contexts)) return undefined;
  const regs = initialRegs();
  for (const [i, e] of (s.msi as unknown[]).entries()) {
    const x = (e ?? {}) as Record<string, unknown>;
    const addr = big(x.addr);
    if (addr === undefined || !isU32(x.data) || !isU32(x.ctrl)) return undefined;
    regs.msi[i] = { addr, data: x.data, ctrl: x.ctrl };
  }
  const contexts = new Map<number, DeviceContext>();
  for (const c of s.contexts as unknown[]) {
    const e = restoreContext(c);
    if (e === undefined) return undefined;
    contexts.set(e[0], e[1]);
  }
  Object.assign(regs, {
    fctl: s.fctl,
    ddtp,
    cq,
    fq,
    pq,
    ipsr: s.ipsr,
    icvec,
    msiPending: (s.msiPending as unknown[]).map((p) => p === true),
  });
  const recent = Array.isArray(s.recent) ? (s.recent as unknown[]).map(String) : [];
  return { regs, contexts, recent, sv48: s.sv48 };
}
