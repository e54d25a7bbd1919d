/**
 * Register accesses. The block takes 4- and 8-byte aligned accesses (anything else is
 * refused by the access rules, as an `access-error`, before it gets here). Everything is
 * handled as 32-bit halves: an 8-byte access to a 64-bit register is one access to both
 * halves (its command runs once, with the whole value); an 8-byte access anywhere else is
 * two 4-byte accesses. A 4-byte write to the half of a 64-bit register that holds its
 * command bit (CCMD and IOTLB_REG: the high half; IQT: the low half) runs the command, so a
 * guest writing low then high works as with one 8-byte write. Reads have no side effects;
 * writes to read-only or unimplemented registers are ignored; unimplemented offsets read 0.
 */
import type { MmioAccessRules, MmioOps } from '@emuhost/sdk';
import {
  dropStaleCompletionEvent,
  dropStaleFaultEvent,
  ppf,
  sendPendingCompletionEvent,
  sendPendingFaultEvent,
} from './faults.js';
import { invalidateContextCache, invalidateIotlb, processQueue } from './invalidation.js';
import {
  addrField,
  CCMD_HI_CAIG_SHIFT,
  CCMD_HI_CIRG_SHIFT,
  CCMD_HI_FM_MASK,
  CCMD_HI_ICC,
  CTL_IM,
  capRegister,
  ecapRegister,
  FSTS_FRI_SHIFT,
  FSTS_IQE,
  FSTS_PFO,
  FSTS_PPF,
  GCMD_QIE,
  GCMD_SRTP,
  GCMD_TE,
  GSTS_QIES,
  GSTS_RTPS,
  GSTS_TES,
  hi32,
  ICS_IWC,
  IOTLB_HI_IAIG_SHIFT,
  IOTLB_HI_IIRG_SHIFT,
  IOTLB_HI_IVT,
  IOTLB_HI_RW_MASK,
  IVA_LO_MASK,
  join64,
  lo32,
  NUM_FRCD,
  QWORD_REGS,
  REG,
  VERSION,
} from './registers.js';
import { flushAll, type Vtd } from './vtd.js';

export const ACCESS_RULES: MmioAccessRules = {
  valid: { min: 4, max: 8 },
  impl: { min: 4, max: 8 },
  endianness: 'little',
};

export function registerOps(v: Vtd): MmioOps {
  const cap = capRegister(v.cfg);
  const ecap = ecapRegister();
  return {
    read(offset, size) {
      if (size === 8) {
        const lo = read32(v, cap, ecap, offset);
        const hi = read32(v, cap, ecap, offset + 4);
        return (BigInt(hi) << 32n) | BigInt(lo);
      }
      return read32(v, cap, ecap, offset);
    },
    write(offset, size, value) {
      if (size === 8) {
        const big = BigInt.asUintN(64, BigInt(value));
        const lo = Number(big & 0xffffffffn);
        const hi = Number(big >> 32n);
        if (QWORD_REGS.has(offset)) write64(v, offset, lo, hi);
        else {
          write32(v, offset, lo);
          write32(v, offset + 4, hi);
        }
      } else write32(v, offset, Number(value) >>> 0);
      return undefined;
    },
  };
}

function read32(v: Vtd, cap: number[], ecap: number[], offset: number): number {
  const s = v.s;
  if (offset >= REG.FRCD && offset < REG.FRCD + 16 * NUM_FRCD) {
    const r = s.frcd[(offset - REG.FRCD) >>> 4]!;
    switch (offset & 0xf) {
      case 0x0:
        return lo32(r.fi);
      case 0x4:
        return hi32(r.fi);
      case 0x8:
        return r.sid;
      default:
        return (r.fr | (r.read ? 1 << 30 : 0) | (r.f ? 1 << 31 : 0)) >>> 0;
    }
  }
  switch (offset) {
    case REG.VER:
      return VERSION;
    case REG.CAP:
      return cap[0]!;
    case REG.CAP + 4:
      return cap[1]!;
    case REG.ECAP:
      return ecap[0]!;
    case REG.ECAP + 4:
      return ecap[1]!;
    case REG.GSTS:
      return s.gsts >>> 0;
    case REG.RTADDR:
      return s.rtaddrLo;
    case REG.RTADDR + 4:
      return s.rtaddrHi;
    case REG.CCMD:
      return s.ccmdLo & 0xffff; // SID is write-only
    case REG.CCMD + 4:
      return (s.ccmdHi & ~CCMD_HI_FM_MASK) >>> 0; // FM is write-only
    case REG.FSTS:
      return (s.fsts & (FSTS_PFO | FSTS_IQE)) | (ppf(v) ? FSTS_PPF | (s.fri << FSTS_FRI_SHIFT) : 0);
    case REG.FECTL:
      return s.fectl >>> 0;
    case REG.FEDATA:
      return s.fedata;
    case REG.FEADDR:
      return s.feaddr;
    case REG.IQH:
      return s.iqh << 4;
    case REG.IQT:
      return s.iqt << 4;
    case REG.IQA:
      return s.iqaLo;
    case REG.IQA + 4:
      return s.iqaHi;
    case REG.ICS:
      return s.ics;
    case REG.IECTL:
      return s.iectl >>> 0;
    case REG.IEDATA:
      return s.iedata;
    case REG.IEADDR:
      return s.ieaddr;
    case REG.IOTLB + 4:
      return s.iotlbHi >>> 0;
    default:
      // GCMD and IVA are write-only; FEUADDR/IEUADDR are reserved without EIM; IQH/IQT
      // high halves, IOTLB_REG's low half and everything unimplemented read as 0.
      return 0;
  }
}

function write64(v: Vtd, offset: number, lo: number, hi: number): void {
  const s = v.s;
  switch (offset) {
    case REG.CCMD:
      s.ccmdLo = lo;
      writeCcmdHi(v, hi);
      return;
    case REG.IOTLB:
      writeIotlbHi(v, hi);
      return;
    case REG.IQT:
      write32(v, REG.IQT, lo); // bits 63:19 are reserved
      return;
    default:
      write32(v, offset, lo);
      write32(v, offset + 4, hi);
  }
}

function write32(v: Vtd, offset: number, value: number): void {
  const s = v.s;
  if (offset >= REG.FRCD && offset < REG.FRCD + 16 * NUM_FRCD) {
    if ((offset & 0xf) === 0xc && (value & (1 << 31)) !== 0) {
      // F is write-1-to-clear; every other field is read-only.
      s.frcd[(offset - REG.FRCD) >>> 4]!.f = false;
      dropStaleFaultEvent(v);
    }
    return;
  }
  switch (offset) {
    case REG.GCMD:
      writeGcmd(v, value);
      return;
    case REG.RTADDR:
      s.rtaddrLo = (value & 0xfffff000) >>> 0; // RTT/TTM (11:10) reserved: no scalable mode
      return;
    case REG.RTADDR + 4:
      s.rtaddrHi = value >>> 0;
      return;
    case REG.CCMD:
      s.ccmdLo = value >>> 0;
      return;
    case REG.CCMD + 4:
      writeCcmdHi(v, value);
      return;
    case REG.FSTS: {
      const clear = value & (FSTS_PFO | FSTS_IQE);
      s.fsts &= ~clear;
      dropStaleFaultEvent(v);
      if ((clear & FSTS_IQE) !== 0) processQueue(v);
      return;
    }
    case REG.FECTL:
      s.fectl = ((value & CTL_IM) | (s.fectl & ~CTL_IM)) >>> 0;
      sendPendingFaultEvent(v);
      return;
    case REG.FEDATA:
      s.fedata = value & 0xffff; // EIMD (31:16) reserved without EIM
      return;
    case REG.FEADDR:
      s.feaddr = (value & 0xfffffffc) >>> 0;
      return;
    case REG.IQT:
      s.iqt = (value >>> 4) & 0x7fff;
      processQueue(v);
      return;
    case REG.IQA:
      s.iqaLo = (value & 0xfffff007) >>> 0; // DW (11) reserved: 128-bit descriptors only
      return;
    case REG.IQA + 4:
      s.iqaHi = value >>> 0;
      return;
    case REG.ICS:
      if ((value & ICS_IWC) !== 0) {
        s.ics &= ~ICS_IWC;
        dropStaleCompletionEvent(v);
      }
      return;
    case REG.IECTL:
      s.iectl = ((value & CTL_IM) | (s.iectl & ~CTL_IM)) >>> 0;
      sendPendingCompletionEvent(v);
      return;
    case REG.IEDATA:
      s.iedata = value & 0xffff;
      return;
    case REG.IEADDR:
      s.ieaddr = (value & 0xfffffffc) >>> 0;
      return;
    case REG.IVA:
      s.ivaLo = (value & IVA_LO_MASK) >>> 0;
      return;
    case REG.IVA + 4:
      s.ivaHi = value >>> 0;
      return;
    case REG.IOTLB + 4:
      writeIotlbHi(v, value);
      return;
    default:
    // Read-only, reserved or unimplemented (PMEN, IRTA, ...): ignored.
  }
}

/**
 * GCMD: one command per write, as software is told to issue them (the value is the
 * persistent status bits plus the one being changed). TE and QIE take the written level;
 * SRTP is one-shot. Commands for features not implemented (fault log, write-buffer flush,
 * interrupt remapping) are ignored and never show in GSTS.
 */
function writeGcmd(v: Vtd, value: number): void {
  const s = v.s;
  if ((value & GCMD_SRTP) !== 0) {
    s.root = addrField(s.rtaddrLo, s.rtaddrHi, v.cfg.haw);
    s.gsts |= GSTS_RTPS;
    // Hardware may drop its caches here (it is then what the spec calls ESRTPS, though
    // CAP does not claim it): software still invalidates as the spec asks.
    flushAll(v);
  }
  const te = (value & GCMD_TE) !== 0;
  if (te !== ((s.gsts & GSTS_TES) !== 0)) {
    s.gsts = te ? s.gsts | GSTS_TES : s.gsts & ~GSTS_TES;
    // Identity translations cached while disabled (and translations while enabled) go.
    flushAll(v);
  }
  const qie = (value & GCMD_QIE) !== 0;
  if (qie !== ((s.gsts & GSTS_QIES) !== 0)) {
    if (qie) {
      s.iqBase = addrField(s.iqaLo, s.iqaHi, v.cfg.haw);
      s.iqEntries = 2 ** ((s.iqaLo & 7) + 8);
      s.gsts |= GSTS_QIES;
      processQueue(v);
    } else {
      s.gsts &= ~GSTS_QIES;
      s.iqh = 0; // IQH reads 0 while queued invalidation is disabled
    }
  }
  s.gsts >>>= 0;
}

/** CCMD's high half: a write with ICC set runs the context-cache invalidation. */
function writeCcmdHi(v: Vtd, value: number): void {
  const s = v.s;
  const keep = CCMD_HI_ICC | (3 << CCMD_HI_CIRG_SHIFT) | CCMD_HI_FM_MASK;
  s.ccmdHi = ((value & keep) | (s.ccmdHi & (3 << CCMD_HI_CAIG_SHIFT))) >>> 0;
  if ((value & CCMD_HI_ICC) === 0) return;
  let caig = 0;
  if ((s.gsts & GSTS_QIES) !== 0) {
    v.ctx.log.warn('CCMD invalidation while queued invalidation is enabled: ignored');
  } else {
    const cirg = (value >>> CCMD_HI_CIRG_SHIFT) & 3;
    caig = invalidateContextCache(
      v,
      cirg,
      s.ccmdLo & 0xffff,
      s.ccmdLo >>> 16,
      value & CCMD_HI_FM_MASK,
    );
  }
  s.ccmdHi =
    ((s.ccmdHi & ~CCMD_HI_ICC & ~(3 << CCMD_HI_CAIG_SHIFT)) | (caig << CCMD_HI_CAIG_SHIFT)) >>> 0;
}

/** IOTLB_REG's high half: a write with IVT set runs the IOTLB invalidation. */
function writeIotlbHi(v: Vtd, value: number): void {
  const s = v.s;
  const keep = IOTLB_HI_IVT | (3 << IOTLB_HI_IIRG_SHIFT) | IOTLB_HI_RW_MASK;
  s.iotlbHi = ((value & keep) | (s.iotlbHi & (3 << IOTLB_HI_IAIG_SHIFT))) >>> 0;
  if ((value & IOTLB_HI_IVT) === 0) return;
  let iaig = 0;
  if ((s.gsts & GSTS_QIES) !== 0) {
    v.ctx.log.warn('IOTLB_REG invalidation while queued invalidation is enabled: ignored');
  } else {
    const iirg = (value >>> IOTLB_HI_IIRG_SHIFT) & 3;
    const addr = join64(s.ivaLo & 0xfffff000, s.ivaHi);
    iaig = invalidateIotlb(v, iirg, value & 0xffff, addr, s.ivaLo & 0x3f);
  }
  s.iotlbHi =
    ((s.iotlbHi & ~IOTLB_HI_IVT & ~(3 << IOTLB_HI_IAIG_SHIFT)) | (iaig << IOTLB_HI_IAIG_SHIFT)) >>>
    0;
}
