/**
 * Register accesses (specification chapter 6). The block takes 4- and 8-byte aligned
 * accesses (others are refused by the access rules before they get here). An 8-byte access
 * to a 64-bit register is one access; anywhere else it is two 4-byte ones; a 4-byte write to
 * half of a 64-bit register writes that half (the register's effect then applies with the
 * other half as it was). Reads have no side effects; writes to read-only registers and to
 * what is not implemented (performance monitoring, the debug interface) are ignored, and
 * those offsets read 0.
 *
 * WARL fields keep a legal value: a `ddtp` mode the model does not know (5..15) leaves
 * `ddtp` unchanged, which is how Linux discovers the modes; queue bases take any LOG2SZ;
 * each `icvec` field keeps its low two bits (four vectors).
 */
import type { MmioAccessRules, MmioOps } from '@emuhost/sdk';
import { processCommands } from './commands.js';
import { clearIpsr, msiUnmasked, updateWires } from './interrupts.js';
import {
  CQCSR_RW1C,
  capabilities,
  DDTP_MODE_MASK,
  FCTL_WSI,
  FQCSR_RW1C,
  MODE,
  MSI_ENTRIES,
  PPN_FIELD,
  QB_WRITABLE,
  QCSR_EN,
  QCSR_IE,
  QCSR_ON,
  type QueueState,
  QWORD_REGS,
  queueEntries,
  REG,
} from './registers.js';
import { type RiscvIommu, syncDdtp } from './riscv-iommu.js';

export const ACCESS_RULES: MmioAccessRules = {
  valid: { min: 4, max: 8 },
  impl: { min: 4, max: 8 },
  endianness: 'little',
};

const LO = 0xffff_ffffn;

/** Drops every cached device context and every translation the kernel cached from them. */
export function flushAll(m: RiscvIommu): void {
  m.contexts.clear();
  m.ctx.host.invalidate({});
}

function read64(m: RiscvIommu, off: number): bigint {
  const r = m.r;
  switch (off) {
    case REG.CAPABILITIES:
      return capabilities(m.sv48);
    case REG.DDTP:
      return r.ddtp;
    case REG.CQB:
      return r.cq.base;
    case REG.FQB:
      return r.fq.base;
    case REG.PQB:
      return r.pq.base;
    case REG.ICVEC:
      return r.icvec;
  }
  const msi = msiSlot(off);
  if (msi !== undefined && msi.field === 0) return r.msi[msi.index]!.addr;
  return BigInt(read32(m, off)) | (BigInt(read32(m, off + 4)) << 32n);
}

function read32(m: RiscvIommu, off: number): number {
  const q = QWORD_REGS.has(off & ~7) || msiSlot(off & ~7)?.field === 0;
  if (q) return Number((read64(m, off & ~7) >> BigInt((off & 4) * 8)) & LO);
  const r = m.r;
  switch (off) {
    case REG.FCTL:
      return r.fctl;
    case REG.CQH:
      return r.cq.head;
    case REG.CQT:
      return r.cq.tail;
    case REG.FQH:
      return r.fq.head;
    case REG.FQT:
      return r.fq.tail;
    case REG.PQH:
      return r.pq.head;
    case REG.PQT:
      return r.pq.tail;
    case REG.CQCSR:
      return r.cq.csr;
    case REG.FQCSR:
      return r.fq.csr;
    case REG.PQCSR:
      return r.pq.csr;
    case REG.IPSR:
      return r.ipsr;
  }
  const msi = msiSlot(off);
  if (msi?.field === 8) return r.msi[msi.index]!.data;
  if (msi?.field === 12) return r.msi[msi.index]!.ctrl;
  return 0;
}

/** Which MSI table entry and field (0: address, 8: data, 12: control) an offset names. */
function msiSlot(off: number): { index: number; field: number } | undefined {
  if (off < REG.MSI_CFG_TBL || off >= REG.MSI_CFG_TBL + MSI_ENTRIES * 16) return undefined;
  const rel = off - REG.MSI_CFG_TBL;
  return { index: rel >> 4, field: rel & 15 };
}

function write64(m: RiscvIommu, off: number, v: bigint): void {
  const r = m.r;
  switch (off) {
    case REG.DDTP: {
      const mode = Number(v & DDTP_MODE_MASK);
      if (mode > MODE.LVL3) return;
      const next = v & (PPN_FIELD | DDTP_MODE_MASK);
      if (next === r.ddtp) return;
      r.ddtp = next;
      syncDdtp(m);
      // A new mode or directory: nothing cached from the old one may be used again.
      flushAll(m);
      return;
    }
    case REG.CQB:
      writeBase(r.cq, v);
      return;
    case REG.FQB:
      writeBase(r.fq, v);
      return;
    case REG.PQB:
      writeBase(r.pq, v);
      return;
    case REG.ICVEC:
      r.icvec = v & 0x3333n;
      updateWires(m);
      return;
  }
  const msi = msiSlot(off);
  if (msi?.field === 0) {
    r.msi[msi.index]!.addr = v & 0x00ff_ffff_ffff_fffcn;
    return;
  }
  write32(m, off, Number(v & LO));
  write32(m, off + 4, Number((v >> 32n) & LO));
}

/** A queue's base is writable only while the queue is off. */
function writeBase(q: QueueState, v: bigint): void {
  if ((q.csr & QCSR_ON) === 0) q.base = v & QB_WRITABLE;
}

function write32(m: RiscvIommu, off: number, v: number): void {
  const half = off & ~7;
  if (QWORD_REGS.has(half) || msiSlot(half)?.field === 0) {
    const shift = BigInt((off & 4) * 8);
    const old = read64(m, half);
    write64(m, half, (old & ~(LO << shift)) | (BigInt(v >>> 0) << shift));
    return;
  }
  const r = m.r;
  switch (off) {
    case REG.FCTL: {
      // Only WSI is writable (BE and GXL are fixed at 0), and only while the IOMMU is Off
      // or Bare with its queues off: the interrupt scheme does not change under live queues.
      const mode = Number(r.ddtp & DDTP_MODE_MASK);
      const queuesOn = (r.cq.csr | r.fq.csr | r.pq.csr) & QCSR_ON;
      if (mode > MODE.BARE || queuesOn !== 0) return;
      r.fctl = v & FCTL_WSI;
      updateWires(m);
      return;
    }
    case REG.CQT:
      r.cq.tail = (v >>> 0) % queueEntries(r.cq.base);
      processCommands(m);
      return;
    case REG.FQH:
      r.fq.head = (v >>> 0) % queueEntries(r.fq.base);
      return;
    case REG.PQH:
      r.pq.head = (v >>> 0) % queueEntries(r.pq.base);
      return;
    case REG.CQCSR:
      writeCsr(r.cq, v, CQCSR_RW1C, (q) => {
        q.head = 0;
      });
      processCommands(m);
      return;
    case REG.FQCSR:
      writeCsr(r.fq, v, FQCSR_RW1C, (q) => {
        q.tail = 0;
      });
      return;
    case REG.PQCSR:
      writeCsr(r.pq, v, FQCSR_RW1C, (q) => {
        q.tail = 0;
      });
      return;
    case REG.IPSR:
      clearIpsr(m, v);
      return;
  }
  const msi = msiSlot(off);
  if (msi?.field === 8) r.msi[msi.index]!.data = v >>> 0;
  else if (msi?.field === 12) {
    r.msi[msi.index]!.ctrl = v & 1;
    if (msi.index < m.wires.length) msiUnmasked(m, msi.index);
  }
}

/**
 * A queue CSR write: error bits are write-1-to-clear, IE is plain, and EN going 1 turns the
 * queue on (its IOMMU-owned index back to 0, errors cleared) while EN going 0 turns it off.
 */
function writeCsr(q: QueueState, v: number, rw1c: number, onEnable: (q: QueueState) => void) {
  let csr = q.csr & ~(v & rw1c);
  csr = (csr & ~QCSR_IE) | (v & QCSR_IE);
  const en = (v & QCSR_EN) !== 0;
  if (en && (csr & QCSR_EN) === 0) {
    onEnable(q);
    csr = (csr & ~rw1c) | QCSR_EN | QCSR_ON;
  } else if (!en) csr &= ~(QCSR_EN | QCSR_ON);
  q.csr = csr;
}

export function registerOps(m: RiscvIommu): MmioOps {
  return {
    read(off, size) {
      return size === 8 ? read64(m, off) : read32(m, off);
    },
    write(off, size, value) {
      if (size === 8) write64(m, off, BigInt.asUintN(64, BigInt(value)));
      else write32(m, off, Number(value) >>> 0);
      return undefined;
    },
  };
}
