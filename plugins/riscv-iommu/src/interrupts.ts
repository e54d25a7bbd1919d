/**
 * Interrupt generation (specification 5.18, 5.27, 5.28): the four causes (command queue,
 * fault queue, performance monitoring, page requests) are pending bits in `ipsr`, which
 * `icvec` maps onto four vectors. With `fctl.WSI` set, vector n is wired output n (the
 * platform IRQ `wsi<n>`), asserted as long as a cause mapped to it is pending: a level, which
 * the PLIC's level-triggered sources take as they are, and which drops when the guest clears
 * the `ipsr` bits. With WSI clear, a cause becoming pending sends the message of its vector's
 * `msi_cfg_tbl` entry (a 4-byte write of data to address through the IOMMU's own memory
 * context), or holds it while the entry is masked and sends it on unmask.
 */
import { iova } from '@emuhost/sdk';
import {
  CAUSE,
  CQCSR_CMD_ILL,
  CQCSR_FENCE_W_IP,
  FCTL_WSI,
  QCSR_IE,
  QCSR_MF,
  QCSR_TO_OF,
  VECTORS,
  vectorOf,
} from './registers.js';
import type { RiscvIommu } from './riscv-iommu.js';

/** Drives every wire to what `ipsr`, `icvec` and `fctl.WSI` say now. */
export function updateWires(m: RiscvIommu): void {
  const wsi = (m.r.fctl & FCTL_WSI) !== 0;
  for (let v = 0; v < VECTORS; v++) {
    let level: 0 | 1 = 0;
    if (wsi)
      for (let c = 0; c < 4; c++)
        if ((m.r.ipsr & (1 << c)) !== 0 && vectorOf(m.r.icvec, c) === v) level = 1;
    if (m.wireLevels[v] !== level) {
      m.wireLevels[v] = level;
      m.wires[v]?.(level);
    }
  }
}

/** Sends vector `v`'s message, or keeps it pending while the entry is masked. */
function sendMsi(m: RiscvIommu, v: number): void {
  const e = m.r.msi[v];
  if (e === undefined) return;
  if ((e.ctrl & 1) !== 0) {
    m.r.msiPending[v] = true;
    return;
  }
  m.r.msiPending[v] = false;
  const addr = Number(e.addr & 0x00ff_ffff_ffff_fffcn);
  const r = m.ctx.memory.writeU32LE(iova(addr), e.data);
  // An MSI write that fails is reported in the fault queue (cause 273) by the spec; the
  // model logs it instead of recursing into the fault path from an interrupt.
  if (r !== 'ok') m.ctx.log.warn(`MSI to 0x${addr.toString(16)} failed: ${r.result}`);
}

/** After a write to an MSI table entry's control word: a held message goes out on unmask. */
export function msiUnmasked(m: RiscvIommu, v: number): void {
  if (m.r.msiPending[v] && ((m.r.msi[v]?.ctrl ?? 1) & 1) === 0) sendMsi(m, v);
}

/**
 * Makes `cause` pending if its queue's interrupt enable is set (a cause whose enable is
 * clear sets nothing, as QEMU's model does), then signals it.
 */
export function raise(m: RiscvIommu, cause: number): void {
  const csr = cause === CAUSE.CQ ? m.r.cq.csr : cause === CAUSE.FQ ? m.r.fq.csr : m.r.pq.csr;
  if ((csr & QCSR_IE) === 0) return;
  const bit = 1 << cause;
  if ((m.r.ipsr & bit) !== 0) return;
  m.r.ipsr |= bit;
  if ((m.r.fctl & FCTL_WSI) !== 0) updateWires(m);
  else sendMsi(m, vectorOf(m.r.icvec, cause));
}

/**
 * A write of 1s to `ipsr` clears those bits, except where the condition behind one still
 * holds with its enable set (a queue error not yet acknowledged): that bit stays pending.
 */
export function clearIpsr(m: RiscvIommu, bits: number): void {
  let keep = 0;
  const cq = m.r.cq.csr;
  if ((cq & QCSR_IE) !== 0 && cq & (QCSR_MF | QCSR_TO_OF | CQCSR_CMD_ILL | CQCSR_FENCE_W_IP))
    keep |= 1 << CAUSE.CQ;
  const fq = m.r.fq.csr;
  if ((fq & QCSR_IE) !== 0 && (fq & (QCSR_MF | QCSR_TO_OF)) !== 0) keep |= 1 << CAUSE.FQ;
  m.r.ipsr &= ~(bits & 0xf & ~keep);
  updateWires(m);
}
