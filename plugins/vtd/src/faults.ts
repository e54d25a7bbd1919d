/**
 * Fault recording and the two interrupt events (VT-d spec sections 7.2-7.4 and 11.4.9-11.4.13).
 *
 * Primary fault logging: a fault goes to the fault recording register at the internal index
 * unless PFO is set (then it is dropped) or that register still holds a fault (then PFO is
 * set instead). PPF is the OR of the F bits. FRI names the register recorded when PPF went
 * from 0 to 1.
 *
 * Fault event: setting PPF, PFO or IQE is an interrupt condition unless one of those status
 * fields was already set. The event sets FECTL.IP; if FECTL.IM is clear the message is sent
 * at once (a 4-byte write of FEDATA to FEADDR through the IOMMU's own memory context, which is
 * how an MSI reaches the interrupt window) and IP clears. A masked event stays pending until
 * software clears IM (then it is sent) or clears every status field (then it is dropped).
 * The invalidation completion event (ICS.IWC, IECTL) follows the same rules.
 */
import { iova } from '@emuhost/sdk';
import { CTL_IM, CTL_IP, FSTS_IQE, FSTS_PFO, ICS_IWC } from './registers.js';
import type { Vtd } from './vtd.js';

/** Fault reason codes (spec appendix "Non-recoverable fault reason encodings"). */
export const FR = {
  /** Present field of the root entry is clear. */
  ROOT_P: 0x1,
  /** Present field of the context entry is clear. */
  CTX_P: 0x2,
  /** Invalid context entry: AW or TT not supported, or SLPTPTR's table unreadable. */
  CTX_INV: 0x3,
  /** Input address above 2^X - 1, X = min(MGAW, the context's AGAW). */
  ADDR_BEYOND_MGAW: 0x4,
  /** A write request without write permission (including not-present entries). */
  WRITE: 0x5,
  /** A read request without read permission (including not-present entries). */
  READ: 0x6,
  /** A lower-level second-level paging entry could not be read. */
  PAGING_INV: 0x7,
  /** The root entry could not be read. */
  ROOT_TABLE_INV: 0x8,
  /** The context entry could not be read. */
  CTX_TABLE_INV: 0x9,
  /** Reserved bits set in a present root entry. */
  ROOT_RSVD: 0xa,
  /** Reserved bits set in a present context entry. */
  CTX_RSVD: 0xb,
  /** Reserved bits set in a present second-level paging entry. */
  PAGING_RSVD: 0xc,
} as const;

/**
 * Qualified faults: the ones a context entry's FPD suppresses (those found in that entry or
 * in the tables it references). Root-entry and table-access faults and a malformed context
 * entry are always reported.
 */
const QUALIFIED: ReadonlySet<number> = new Set([
  FR.CTX_P,
  FR.CTX_INV,
  FR.ADDR_BEYOND_MGAW,
  FR.WRITE,
  FR.READ,
  FR.PAGING_INV,
  FR.PAGING_RSVD,
  0xd,
]);

export const isQualified = (fr: number): boolean => QUALIFIED.has(fr);

/** PPF: some fault recording register holds a fault. */
export const ppf = (v: Vtd): boolean => v.s.frcd.some((r) => r.f);

/** Whether one of the fault status fields (PFO, PPF, IQE) is set. */
export const statusPending = (v: Vtd): boolean =>
  (v.s.fsts & (FSTS_PFO | FSTS_IQE)) !== 0 || ppf(v);

/** Sends an interrupt message: a 4-byte write of `data` to `addr`, untranslated. */
function sendMessage(v: Vtd, addr: number, data: number, what: string): void {
  const r = v.ctx.memory.writeU32LE(iova(addr), data);
  if (r !== 'ok') v.ctx.log.warn(`${what} message to 0x${addr.toString(16)} failed: ${r.result}`);
}

/** A new fault-event condition, given whether a status field was set before it. */
function faultEvent(v: Vtd, wasPending: boolean): void {
  if (wasPending) return;
  v.s.fectl |= CTL_IP;
  sendPendingFaultEvent(v);
}

/** Sends the pending fault event if it is not masked. */
export function sendPendingFaultEvent(v: Vtd): void {
  const s = v.s;
  if ((s.fectl & CTL_IP) === 0 || (s.fectl & CTL_IM) !== 0) return;
  s.fectl &= ~CTL_IP;
  sendMessage(v, s.feaddr, s.fedata, 'fault event');
}

/** After software cleared status: a pending (masked) event with nothing left to report is dropped. */
export function dropStaleFaultEvent(v: Vtd): void {
  if ((v.s.fectl & CTL_IP) !== 0 && !statusPending(v)) v.s.fectl &= ~CTL_IP;
}

/** Records a primary fault for requester `sid` at `addr` (FI is its page address). */
export function recordFault(v: Vtd, sid: number, addr: number, fr: number, read: boolean): void {
  const s = v.s;
  if ((s.fsts & FSTS_PFO) !== 0) return;
  const wasPending = statusPending(v);
  const i = s.nextFrcd;
  const slot = s.frcd[i]!;
  if (slot.f) {
    s.fsts |= FSTS_PFO;
    faultEvent(v, wasPending);
    return;
  }
  const hadPpf = ppf(v);
  slot.f = true;
  slot.fi = Math.floor(addr / 4096) * 4096;
  slot.sid = sid & 0xffff;
  slot.fr = fr;
  slot.read = read;
  s.nextFrcd = (i + 1) % s.frcd.length;
  if (!hadPpf) {
    s.fri = i;
    faultEvent(v, wasPending);
  }
}

/** Sets IQE (an invalidation queue error) and raises the fault event it calls for. */
export function setIqe(v: Vtd, why: string): void {
  if ((v.s.fsts & FSTS_IQE) !== 0) return;
  v.ctx.log.warn(`invalidation queue error at IQH ${v.s.iqh}: ${why}`);
  const wasPending = statusPending(v);
  v.s.fsts |= FSTS_IQE;
  faultEvent(v, wasPending);
}

/** An invalidation wait descriptor with IF: ICS.IWC, then the completion event. */
export function completionEvent(v: Vtd): void {
  const s = v.s;
  if ((s.ics & ICS_IWC) !== 0) return;
  s.ics |= ICS_IWC;
  s.iectl |= CTL_IP;
  sendPendingCompletionEvent(v);
}

export function sendPendingCompletionEvent(v: Vtd): void {
  const s = v.s;
  if ((s.iectl & CTL_IP) === 0 || (s.iectl & CTL_IM) !== 0) return;
  s.iectl &= ~CTL_IP;
  sendMessage(v, s.ieaddr, s.iedata, 'invalidation completion');
}

/** After software cleared ICS.IWC: a masked completion event is dropped. */
export function dropStaleCompletionEvent(v: Vtd): void {
  if ((v.s.iectl & CTL_IP) !== 0 && (v.s.ics & ICS_IWC) === 0) v.s.iectl &= ~CTL_IP;
}
