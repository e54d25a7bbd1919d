/**
 * The slow paths of data accesses: a TLB miss (translate, check PMP, fill), MMIO (through
 * `CpuMemory` after bringing the clock to the access's instant), accesses that cross a page
 * (both pages translated before either is touched, then byte by byte), and the atomics.
 *
 * Values travel as int32 halves: a load returns its low word (sign- or zero-extended within
 * 32 bits by `signed`) and leaves the high word of an 8-byte load in `h.ldHi`.
 * Misaligned accesses to RAM are done (Zicclsm); to MMIO they raise the misaligned exception,
 * which firmware may emulate. AMOs and LR/SC must be aligned.
 */
import type { GuestPhysAddr } from '@emuhost/sdk';
import type { Hart } from '../hart.js';
import { ACC_READ, ACC_WRITE, FAIL_ACCESS } from '../mmu/mmu.js';
import { PMP_R, PMP_W } from '../mmu/pmp.js';
import { EXC, PRV_M } from '../priv/causes.js';
import { MPP_SHIFT, MSTATUS } from '../priv/mstatus.js';
import { raise } from '../priv/trap.js';

/** The effective privilege of data accesses (MPRV makes M-mode use MPP's). */
export function dataPriv(h: Hart): number {
  return h.priv === PRV_M && h.mstatus & MSTATUS.MPRV ? (h.mstatus >>> MPP_SHIFT) & 3 : h.priv;
}

/**
 * Translates the data address (lo, hi) for `access`, fills the TLB where it may, and returns
 * the guest-physical address; raises the page or access fault otherwise.
 */
function physical(
  h: Hart,
  lo: number,
  hi: number,
  access: 0 | 1,
  size: number,
  pc: number,
): number {
  const priv = dataPriv(h);
  const mmu = h.mmu;
  const page = mmu.translate(lo, hi, access, priv);
  if (page < 0) {
    const cause =
      page === FAIL_ACCESS
        ? access === ACC_WRITE
          ? EXC.STORE_ACCESS
          : EXC.LOAD_ACCESS
        : access === ACC_WRITE
          ? EXC.STORE_PAGE_FAULT
          : EXC.LOAD_PAGE_FAULT;
    raise(h, cause, lo, hi, pc);
  }
  const phys = page + (lo & 4095);
  if (!h.pmp.check(phys, size, priv, access === ACC_WRITE ? PMP_W : PMP_R))
    raise(h, access === ACC_WRITE ? EXC.STORE_ACCESS : EXC.LOAD_ACCESS, lo, hi, pc);
  const regime = priv === PRV_M ? 2 : priv;
  mmu.fill(regime, lo, hi, page, access, priv, mmu.lastSuperpage);
  return phys;
}

/** (lo, hi) + n as halves into `h.tmp`. */
function addrPlus(h: Hart, lo: number, hi: number, n: number): void {
  const l = (lo + n) | 0;
  h.tmp[0] = l;
  h.tmp[1] = (hi + (l >>> 0 < lo >>> 0 ? 1 : 0)) | 0;
}

export function load(
  h: Hart,
  lo: number,
  hi: number,
  size: 1 | 2 | 4 | 8,
  signed: number,
  pc: number,
): number {
  const off = lo & 4095;
  if (off + size > 4096) return loadCrossing(h, lo, hi, size, signed, pc);
  const phys = physical(h, lo, hi, ACC_READ, size, pc);
  const w = h.mmu.window(phys - off, ACC_READ);
  if (w !== undefined) {
    const v = w.view;
    const o = w.off + off;
    switch (size) {
      case 1:
        return signed ? v.getInt8(o) : v.getUint8(o);
      case 2:
        return signed ? v.getInt16(o, true) : v.getUint16(o, true);
      case 4:
        return v.getInt32(o, true);
      default:
        h.ldHi = v.getInt32(o + 4, true);
        return v.getInt32(o, true);
    }
  }
  if (lo & (size - 1)) raise(h, EXC.LOAD_MISALIGNED, lo, hi, pc);
  h.deviceAccess();
  const r = h.memory.load(phys as GuestPhysAddr, size);
  if (typeof r === 'string') raise(h, EXC.LOAD_ACCESS, lo, hi, pc);
  if (size === 8) {
    const b = r as bigint;
    h.ldHi = Number(b >> 32n) | 0;
    return Number(b & 0xffffffffn) | 0;
  }
  const n = r as number;
  if (!signed) return size === 4 ? n | 0 : n;
  return size === 1 ? (n << 24) >> 24 : size === 2 ? (n << 16) >> 16 : n | 0;
}

/** A load whose bytes span two pages: both translated first, then read byte by byte. */
function loadCrossing(
  h: Hart,
  lo: number,
  hi: number,
  size: number,
  signed: number,
  pc: number,
): number {
  const first = 4096 - (lo & 4095);
  physical(h, lo, hi, ACC_READ, first, pc);
  addrPlus(h, lo, hi, first);
  physical(h, h.tmp[0]!, h.tmp[1]!, ACC_READ, size - first, pc);
  let l = 0;
  let u = 0;
  for (let i = 0; i < size; i++) {
    addrPlus(h, lo, hi, i);
    const b = load(h, h.tmp[0]!, h.tmp[1]!, 1, 0, pc);
    if (i < 4) l |= b << (8 * i);
    else u |= b << (8 * (i - 4));
  }
  if (size === 8) {
    h.ldHi = u;
    return l;
  }
  if (!signed) return size === 4 ? l | 0 : l;
  return size === 2 ? (l << 16) >> 16 : l | 0;
}

export function store(
  h: Hart,
  lo: number,
  hi: number,
  size: 1 | 2 | 4 | 8,
  vlo: number,
  vhi: number,
  pc: number,
): void {
  const off = lo & 4095;
  if (off + size > 4096) {
    storeCrossing(h, lo, hi, size, vlo, vhi, pc);
    return;
  }
  const phys = physical(h, lo, hi, ACC_WRITE, size, pc);
  // A page some CPU watches (it decoded code there) takes the memory path, which tells them.
  if (!h.memory.watched(phys as GuestPhysAddr)) {
    const w = h.mmu.window(phys - off, ACC_WRITE);
    if (w !== undefined) {
      const v = w.view;
      const o = w.off + off;
      if (size === 1) v.setInt8(o, vlo);
      else if (size === 2) v.setInt16(o, vlo, true);
      else if (size === 4) v.setInt32(o, vlo, true);
      else {
        v.setInt32(o, vlo, true);
        v.setInt32(o + 4, vhi, true);
      }
      return;
    }
  }
  const mmio = h.mmu.window(phys - off, ACC_WRITE) === undefined;
  if (mmio && lo & (size - 1)) raise(h, EXC.STORE_MISALIGNED, lo, hi, pc);
  if (mmio) h.deviceAccess();
  const value = size === 8 ? (BigInt(vhi >>> 0) << 32n) | BigInt(vlo >>> 0) : truncate(vlo, size);
  const r = h.memory.store(phys as GuestPhysAddr, size, value);
  if (r !== 'ok') raise(h, EXC.STORE_ACCESS, lo, hi, pc);
  // A device may have raised an interrupt, moved memory or armed a timer: leave the block.
  if (mmio) h.exit = true;
}

function truncate(v: number, size: number): number {
  return size === 4 ? v >>> 0 : size === 2 ? v & 0xffff : v & 0xff;
}

function storeCrossing(
  h: Hart,
  lo: number,
  hi: number,
  size: number,
  vlo: number,
  vhi: number,
  pc: number,
): void {
  const first = 4096 - (lo & 4095);
  physical(h, lo, hi, ACC_WRITE, first, pc);
  addrPlus(h, lo, hi, first);
  physical(h, h.tmp[0]!, h.tmp[1]!, ACC_WRITE, size - first, pc);
  for (let i = 0; i < size; i++) {
    addrPlus(h, lo, hi, i);
    const b = i < 4 ? vlo >>> (8 * i) : vhi >>> (8 * (i - 4));
    store(h, h.tmp[0]!, h.tmp[1]!, 1, b & 0xff, 0, pc);
  }
}

/**
 * The guest-physical address of an AMO or LR/SC: aligned (else the store/AMO misaligned
 * exception), translated for writing (AMOs fault as stores), in RAM (else an access fault).
 */
function atomicAddress(
  h: Hart,
  lo: number,
  hi: number,
  size: number,
  forWrite: boolean,
  pc: number,
): number {
  if (lo & (size - 1)) raise(h, forWrite ? EXC.STORE_MISALIGNED : EXC.LOAD_MISALIGNED, lo, hi, pc);
  const phys = physical(h, lo, hi, forWrite ? ACC_WRITE : ACC_READ, size, pc);
  if (h.mmu.window(phys - (phys % 4096), ACC_READ) === undefined)
    raise(h, forWrite ? EXC.STORE_ACCESS : EXC.LOAD_ACCESS, lo, hi, pc);
  return phys;
}

/** AMO operation `op` (sem-rv64a.ts AMO_OPS) of `size` bytes; returns the old value's low word. */
export function amo(
  h: Hart,
  op: number,
  lo: number,
  hi: number,
  blo: number,
  bhi: number,
  size: 4 | 8,
  pc: number,
): number {
  atomicAddress(h, lo, hi, size, true, pc);
  const alo = load(h, lo, hi, size, 1, pc);
  const ahi = size === 8 ? h.ldHi : alo >> 31;
  let rlo: number;
  let rhi: number;
  if (size === 4) bhi = blo >> 31;
  switch (op) {
    case 0:
      rlo = blo;
      rhi = bhi;
      break;
    case 1: {
      rlo = (alo + blo) | 0;
      rhi = (ahi + bhi + (rlo >>> 0 < alo >>> 0 ? 1 : 0)) | 0;
      break;
    }
    case 2:
      rlo = alo ^ blo;
      rhi = ahi ^ bhi;
      break;
    case 3:
      rlo = alo & blo;
      rhi = ahi & bhi;
      break;
    case 4:
      rlo = alo | blo;
      rhi = ahi | bhi;
      break;
    default: {
      const signed = op === 5 || op === 6;
      const aLess = signed
        ? ahi < bhi || (ahi === bhi && alo >>> 0 < blo >>> 0)
        : ahi >>> 0 < bhi >>> 0 || (ahi === bhi && alo >>> 0 < blo >>> 0);
      const takeA = op === 5 || op === 7 ? aLess : !aLess;
      rlo = takeA ? alo : blo;
      rhi = takeA ? ahi : bhi;
    }
  }
  store(h, lo, hi, size, rlo, rhi, pc);
  h.ldHi = ahi;
  return alo;
}

/**
 * LR: loads and reserves the address, remembering the value (as QEMU does). The reservation
 * ends at a trap, an xRET and any device access by this hart; SC succeeds only if memory
 * still holds the value LR read, so a write by another hart or a device between them fails
 * it (a write of the same value does not: QEMU's choice too, which no spin lock notices).
 */
export function lr(h: Hart, lo: number, hi: number, size: 4 | 8, pc: number): number {
  const phys = atomicAddress(h, lo, hi, size, false, pc);
  const v = load(h, lo, hi, size, 1, pc);
  h.reservation = phys;
  h.resSize = size;
  h.resLo = v;
  h.resHi = size === 8 ? h.ldHi : v >> 31;
  return v;
}

/**
 * SC: stores if this hart holds a reservation for exactly this address and size, and memory
 * there still holds what LR read. Returns 0 on success, 1 on failure.
 */
export function sc(
  h: Hart,
  lo: number,
  hi: number,
  vlo: number,
  vhi: number,
  size: 4 | 8,
  pc: number,
): number {
  const phys = atomicAddress(h, lo, hi, size, true, pc);
  const held = h.reservation === phys && h.resSize === size;
  h.reservation = -1;
  if (!held) return 1;
  const clo = load(h, lo, hi, size, 1, pc);
  const chi = size === 8 ? h.ldHi : clo >> 31;
  if (clo !== h.resLo || chi !== h.resHi) return 1;
  store(h, lo, hi, size, vlo, vhi, pc);
  return 0;
}
