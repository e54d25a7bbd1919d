/**
 * Traps: taking an exception or interrupt (delegation, the cause and epc registers, the status
 * stack, the vector), choosing which pending interrupt to take, and the return instructions.
 * Privileged spec 3.1.6-3.1.9, 3.3.2, 4.1.
 *
 * Everything that raises an exception from generated code ends in `throw TRAP`: the trap is
 * already taken (pc at the handler), and the run loop only has to count.
 */

import { R64 } from '../csr/regs64.js';
import type { Hart } from '../hart.js';
import { causeName, EXC, IRQ_PRIORITY, MIP_SEIP, PRV_M, PRV_S, PRV_U } from './causes.js';
import { MPP_SHIFT, MSTATUS } from './mstatus.js';

/** Builtins bound once: a global lookup in a `node:vm` context goes through its interceptors. */
const { floor } = Math;

/** What generated code and helpers throw once a trap is taken. */
export const TRAP: unique symbol = Symbol('riscv trap');

const TWO32 = 4294967296;

/** A JS number (exact integer) as int32 halves into `r64` pair `i`. */
function setPairNumber(h: Hart, i: number, v: number): void {
  h.r64[2 * i] = v | 0;
  h.r64[2 * i + 1] = floor(v / TWO32) | 0;
}

/** The pc a trap vector gives: BASE (+ 4 x cause for interrupts in vectored mode). */
function vector(h: Hart, tvec: number, cause: number, interrupt: boolean): number {
  const l = h.r64[2 * tvec]!;
  const hi = h.r64[2 * tvec + 1]!;
  let base = hi * TWO32 + ((l & ~3) >>> 0);
  if (interrupt && (l & 3) === 1) base += 4 * cause;
  return base;
}

/**
 * Takes a trap: `cause` (an exception code or interrupt number), the trap value and the epc
 * as halves. Delegated to S when the current privilege is at most S and medeleg/mideleg says
 * so; otherwise to M.
 */
export function takeTrap(
  h: Hart,
  cause: number,
  interrupt: boolean,
  tvalLo: number,
  tvalHi: number,
  epcLo: number,
  epcHi: number,
): void {
  const deleg = interrupt ? h.mideleg : h.medeleg;
  const from = h.priv;
  const r = h.r64;
  let ms = h.mstatus;
  const causeHi = interrupt ? 0x80000000 | 0 : 0;
  if (from <= PRV_S && ((deleg >>> cause) & 1) !== 0) {
    r[2 * R64.SCAUSE] = cause;
    r[2 * R64.SCAUSE + 1] = causeHi;
    r[2 * R64.SEPC] = epcLo & ~1;
    r[2 * R64.SEPC + 1] = epcHi;
    r[2 * R64.STVAL] = tvalLo;
    r[2 * R64.STVAL + 1] = tvalHi;
    ms = ms & MSTATUS.SIE ? ms | MSTATUS.SPIE : ms & ~MSTATUS.SPIE;
    ms = (ms & ~(MSTATUS.SIE | MSTATUS.SPP)) | (from === PRV_S ? MSTATUS.SPP : 0);
    h.setPriv(PRV_S);
    h.pc = vector(h, R64.STVEC, cause, interrupt);
  } else {
    r[2 * R64.MCAUSE] = cause;
    r[2 * R64.MCAUSE + 1] = causeHi;
    r[2 * R64.MEPC] = epcLo & ~1;
    r[2 * R64.MEPC + 1] = epcHi;
    r[2 * R64.MTVAL] = tvalLo;
    r[2 * R64.MTVAL + 1] = tvalHi;
    ms = ms & MSTATUS.MIE ? ms | MSTATUS.MPIE : ms & ~MSTATUS.MPIE;
    ms = (ms & ~(MSTATUS.MIE | MSTATUS.MPP)) | (from << MPP_SHIFT);
    h.setPriv(PRV_M);
    h.pc = vector(h, R64.MTVEC, cause, interrupt);
  }
  h.setMstatus(ms);
  h.reservation = -1;
  h.traps++;
  if (!interrupt) h.noteException(cause, epcLo, epcHi, tvalLo, tvalHi, from);
  const t = h.trace;
  if (t?.kinds.has('int'))
    t.line(
      'int',
      `${interrupt ? 'interrupt' : 'exception'} ${causeName(cause, interrupt)} (cause ${cause}) ` +
        `epc 0x${hex64(epcLo & ~1, epcHi)} tval 0x${hex64(tvalLo, tvalHi)} ` +
        `priv ${'USHM'[from]} -> ${'USHM'[h.priv]} pc 0x${hex64(h.pc | 0, floor(h.pc / TWO32))}`,
    );
}

function hex64(lo: number, hi: number): string {
  return `${(hi >>> 0).toString(16).padStart(8, '0')}${(lo >>> 0).toString(16).padStart(8, '0')}`;
}

/** Raises an exception at the instruction at `pc` (a number): takes the trap and throws. */
export function raise(h: Hart, cause: number, tvalLo: number, tvalHi: number, pc: number): never {
  takeTrap(h, cause, false, tvalLo, tvalHi, pc | 0, floor(pc / TWO32));
  throw TRAP;
}

/** The illegal-instruction exception, with the instruction bits as mtval (QEMU does too). */
export function illegal(h: Hart, pc: number, raw: number): never {
  return raise(h, EXC.ILLEGAL_INSN, raw, 0, pc);
}

export function ecall(h: Hart, pc: number): never {
  const cause = h.priv === PRV_M ? EXC.ECALL_M : h.priv === PRV_S ? EXC.ECALL_S : EXC.ECALL_U;
  return raise(h, cause, 0, 0, pc);
}

export function ebreak(h: Hart, pc: number): never {
  return raise(h, EXC.BREAKPOINT, pc | 0, floor(pc / TWO32), pc);
}

/**
 * A jump to an address a double cannot hold: no memory is there in any mode, so the fetch
 * at the target faults (page fault when translating, access fault when bare), with the
 * exact target as epc and tval. The jump itself retired.
 */
export function badJump(h: Hart, lo: number, hi: number): never {
  const translated = h.priv !== PRV_M && h.mmu.mode !== 0;
  takeTrap(h, translated ? EXC.INSN_PAGE_FAULT : EXC.INSN_ACCESS, false, lo, hi, lo, hi);
  throw TRAP;
}

/** The pc an xRET returns to, from an epc pair (a jump to it, faulting where unrepresentable). */
function returnTo(h: Hart, pair: number): void {
  const lo = h.r64[2 * pair]! & ~1;
  const hi = h.r64[2 * pair + 1]!;
  if (hi >= -0x200000 && hi < 0x200000) h.pc = hi * TWO32 + (lo >>> 0);
  else badJump(h, lo, hi);
}

export function mret(h: Hart, pc: number, raw: number): void {
  if (h.priv !== PRV_M) illegal(h, pc, raw);
  let ms = h.mstatus;
  const to = (ms & MSTATUS.MPP) >>> MPP_SHIFT;
  ms = ms & MSTATUS.MPIE ? ms | MSTATUS.MIE : ms & ~MSTATUS.MIE;
  ms = (ms | MSTATUS.MPIE) & ~MSTATUS.MPP;
  if (to !== PRV_M) ms &= ~MSTATUS.MPRV;
  h.setPriv(to);
  h.setMstatus(ms);
  h.reservation = -1;
  returnTo(h, R64.MEPC);
}

export function sret(h: Hart, pc: number, raw: number): void {
  if (h.priv === PRV_U || (h.priv === PRV_S && h.mstatus & MSTATUS.TSR)) illegal(h, pc, raw);
  let ms = h.mstatus;
  const to = ms & MSTATUS.SPP ? PRV_S : PRV_U;
  ms = ms & MSTATUS.SPIE ? ms | MSTATUS.SIE : ms & ~MSTATUS.SIE;
  ms = (ms | MSTATUS.SPIE) & ~MSTATUS.SPP & ~MSTATUS.MPRV;
  h.setPriv(to);
  h.setMstatus(ms);
  h.reservation = -1;
  returnTo(h, R64.SEPC);
}

/** WFI: illegal in U-mode and in S-mode with TW; otherwise waits unless an interrupt is pending. */
export function wfi(h: Hart, pc: number, raw: number): void {
  if (h.priv === PRV_U || (h.priv === PRV_S && h.mstatus & MSTATUS.TW)) illegal(h, pc, raw);
  if ((h.mipValue() & h.mie) === 0) h.waiting = true;
}

/** The pending interrupt to take now, or -1 (privileged spec 3.1.9). */
export function pendingInterrupt(h: Hart): number {
  const pending = h.mipValue() & h.mie;
  if (pending === 0) return -1;
  const mLevel = pending & ~h.mideleg;
  const mEnabled = h.priv < PRV_M || (h.mstatus & MSTATUS.MIE) !== 0;
  if (mLevel !== 0 && mEnabled) return highest(mLevel);
  const sLevel = pending & h.mideleg;
  const sEnabled = h.priv < PRV_S || (h.priv === PRV_S && (h.mstatus & MSTATUS.SIE) !== 0);
  if (sLevel !== 0 && sEnabled) return highest(sLevel);
  return -1;
}

function highest(bits: number): number {
  for (const irq of IRQ_PRIORITY) if (bits & (1 << irq)) return irq;
  return -1;
}

/** Takes the pending interrupt, if any; returns whether one was taken. */
export function takeInterrupt(h: Hart): boolean {
  const irq = pendingInterrupt(h);
  if (irq < 0) return false;
  const pc = h.pc;
  takeTrap(h, irq, true, 0, 0, pc | 0, floor(pc / TWO32));
  return true;
}

export { MIP_SEIP, setPairNumber };
