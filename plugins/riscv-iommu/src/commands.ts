/**
 * The command queue (specification 3.1): 16-byte commands read from `cqh` up to `cqt`, run
 * to completion when the guest moves the tail (the model has no concurrency, so `busy` never
 * shows and every IOFENCE.C finds everything before it done).
 *
 * - IOTINVAL.VMA / .GVMA: drop cached translations, by address (AV) and by PSCID (PSCV) or
 *   GSCID (GV). The kernel keeps one IOTLB per requester, so the model picks the requesters
 *   whose cached device context carries those ids; every requester with translations in
 *   the kernel's IOTLB has its context in the cache (`index.ts` fills it on every walk).
 *   A GVMA by guest-physical address drops everything of a two-stage requester: the
 *   kernel's entries are keyed by IOVA, and which IOVAs went through that GPA is not kept.
 * - IODIR.INVAL_DDT: drop cached device contexts (one with DV, else all). The kernel's
 *   IOTLB entries of those devices were derived from them, so they go too: a device moved
 *   from an identity to a paging domain must not keep its identity translations.
 * - IODIR.INVAL_PDT: accepted (DV must be set) and has nothing to drop: no process
 *   directory is implemented.
 * - IOFENCE.C: with AV, a 4-byte write of DATA at ADDR; with WSI, `fence_w_ip` and the
 *   command-queue interrupt (only when `fctl.WSI` is set: illegal otherwise). PR/PW need
 *   nothing: every DMA before the fence has completed.
 *
 * Anything else (ATS commands: ATS is not advertised; unknown opcodes; reserved bits set)
 * is illegal: `cmd_ill` is set, the queue stops at that command, and the command-queue
 * interrupt is raised. A command that cannot be read sets `cqmf` the same way.
 */
import { iova } from '@emuhost/sdk';
import { raise } from './interrupts.js';
import {
  CAUSE,
  CQCSR_CMD_ILL,
  CQCSR_FENCE_W_IP,
  FCTL_WSI,
  ppnAddress,
  QCSR_MF,
  QCSR_ON,
  QCSR_TO_OF,
  queueEntries,
} from './registers.js';
import { type RiscvIommu, readWord } from './riscv-iommu.js';

const PAGE = 4096;
const w0: [number, number] = [0, 0];
const w1: [number, number] = [0, 0];

/** Runs every command between head and tail, unless the queue is off or stopped on an error. */
export function processCommands(m: RiscvIommu): void {
  const q = m.r.cq;
  const n = queueEntries(q.base);
  const base = ppnAddress(q.base);
  while ((q.csr & QCSR_ON) !== 0 && (q.csr & (QCSR_MF | QCSR_TO_OF | CQCSR_CMD_ILL)) === 0) {
    if (q.head % n === q.tail % n) return;
    const at = base + (q.head % n) * 16;
    if (!readWord(m, at, w0) || !readWord(m, at + 8, w1)) {
      q.csr |= QCSR_MF;
      raise(m, CAUSE.CQ);
      return;
    }
    if (!execute(m, w0[0], w0[1], w1[0], w1[1])) {
      q.csr |= CQCSR_CMD_ILL;
      raise(m, CAUSE.CQ);
      return;
    }
    // A fence whose completion write failed stays at the head, as a command not done.
    if ((q.csr & QCSR_MF) !== 0) return;
    q.head = (q.head + 1) % n;
  }
}

/** Runs one command; false when it is illegal. */
function execute(m: RiscvIommu, lo0: number, hi0: number, lo1: number, hi1: number): boolean {
  const opcode = lo0 & 0x7f;
  const func = (lo0 >>> 7) & 7;
  switch (opcode) {
    case 1:
      return func <= 1 && iotinval(m, func === 1, lo0, hi0, lo1, hi1);
    case 2:
      return func === 0 && iofence(m, lo0, hi0, lo1, hi1);
    case 3:
      return func <= 1 && iodir(m, func === 1, lo0, hi0, lo1, hi1);
    default:
      return false;
  }
}

function iotinval(
  m: RiscvIommu,
  gvma: boolean,
  lo0: number,
  hi0: number,
  lo1: number,
  hi1: number,
): boolean {
  const av = (lo0 & (1 << 10)) !== 0;
  const pscid = lo0 >>> 12;
  const pscv = (hi0 & 1) !== 0;
  const gv = (hi0 & 2) !== 0;
  const gscid = (hi0 >>> 12) & 0xffff;
  // Reserved: dword0 bits 11 and 43:34 and 63:60; dword1 bits 9:0 and 63:62.
  if ((lo0 & (1 << 11)) !== 0 || (hi0 & 0xf0000ffc) !== 0) return false;
  if ((lo1 & 0x3ff) !== 0 || (hi1 & 0xc0000000) !== 0) return false;
  // GVMA names guest-physical addresses: PSCV makes no sense there.
  if (gvma && pscv) return false;
  const addr = ((hi1 & 0x3fffffff) * 2 ** 22 + (lo1 >>> 10)) * PAGE;
  // Which cached contexts the command names: VMA without GV, those with no second stage;
  // with GV, those of that GSCID. GVMA: those with a second stage, of that GSCID with GV.
  const named = (rid: number) => {
    const dc = m.contexts.get(rid);
    if (dc === undefined) return undefined;
    if (gvma) return dc.gMode !== 0 && (!gv || dc.gscid === gscid) ? dc : undefined;
    if (gv ? dc.gMode === 0 || dc.gscid !== gscid : dc.gMode !== 0) return undefined;
    return !pscv || dc.pscid === pscid ? dc : undefined;
  };
  if (!av) {
    m.ctx.host.invalidate({ requesters: (rid) => named(rid) !== undefined });
    return true;
  }
  // By address: an IOVA for VMA and for a second stage alone (the IOVA is the GPA); a GPA
  // under a first stage stands for IOVAs the kernel cannot name, so those requesters drop all.
  const byAddress = (rid: number) => {
    const dc = named(rid);
    return dc !== undefined && (!gvma || dc.fscMode === 0);
  };
  m.ctx.host.invalidate({ iova: iova(addr), len: PAGE, requesters: byAddress });
  if (gvma) m.ctx.host.invalidate({ requesters: (rid) => (named(rid)?.fscMode ?? 0) !== 0 });
  return true;
}

function iofence(m: RiscvIommu, lo0: number, hi0: number, lo1: number, hi1: number): boolean {
  const av = (lo0 & (1 << 10)) !== 0;
  const wsi = (lo0 & (1 << 11)) !== 0;
  // Reserved: dword0 bits 31:14; dword1 bits 63:62 (ADDR is dword1 << 2, 56 bits at most).
  if ((lo0 & 0xffffc000) !== 0 || (hi1 & 0xc0000000) !== 0) return false;
  if (wsi && (m.r.fctl & FCTL_WSI) === 0) return false;
  if (av) {
    const addr = (hi1 * 2 ** 32 + lo1) * 4;
    const r = Number.isSafeInteger(addr + 4)
      ? m.ctx.memory.writeU32LE(iova(addr), hi0 >>> 0)
      : undefined;
    if (r !== 'ok') {
      // The spec reports a failed IOFENCE.C write as a command-queue memory fault.
      m.r.cq.csr |= QCSR_MF;
      raise(m, CAUSE.CQ);
      return true;
    }
  }
  if (wsi) {
    m.r.cq.csr |= CQCSR_FENCE_W_IP;
    raise(m, CAUSE.CQ);
  }
  return true;
}

function iodir(
  m: RiscvIommu,
  pdt: boolean,
  lo0: number,
  hi0: number,
  lo1: number,
  hi1: number,
): boolean {
  const dv = (hi0 & 2) !== 0;
  const did = hi0 >>> 8;
  // Reserved: dword0 bits 11:10, bit 32 and 39:34; dword1 entirely. PID only for INVAL_PDT.
  if ((lo0 & 0xc00) !== 0 || (hi0 & 0xfd) !== 0 || lo1 !== 0 || hi1 !== 0) return false;
  if (pdt) return dv;
  if (lo0 >>> 12 !== 0) return false;
  if (dv) {
    m.contexts.delete(did);
    m.ctx.host.invalidate({ requesters: (rid) => rid === did });
  } else {
    m.contexts.clear();
    m.ctx.host.invalidate({});
  }
  return true;
}
