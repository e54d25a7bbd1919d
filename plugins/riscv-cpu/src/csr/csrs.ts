/**
 * The CSR file: one row per CSR with its predicate, read and write (QEMU's `csr_ops` table),
 * and the CSR instructions' common path. Privileged spec ch. 2 (the address encodes the
 * lowest privilege, bits 9:8, and read-only, bits 11:10 = 3).
 *
 * Values are int32 halves: a read leaves its result in `h.csrLo`/`h.csrHi`, a write takes the
 * new value as halves. WARL fields keep only legal values.
 */

import { CSR_RC, CSR_RS, CSR_RW } from '../exec/sem-system.js';
import type { Hart } from '../hart.js';
import { SATP_BARE, SATP_SV39 } from '../mmu/mmu.js';
import {
  MIP_MEIP,
  MIP_MSIP,
  MIP_MTIP,
  MIP_SEIP,
  MIP_SSIP,
  MIP_STIP,
  PRV_M,
  PRV_S,
  PRV_U,
  S_INTERRUPTS,
} from '../priv/causes.js';
import {
  MSTATUS,
  MSTATUS_WMASK,
  mstatusHigh,
  SSTATUS_MASK,
  SSTATUS_WMASK,
} from '../priv/mstatus.js';
import { illegal } from '../priv/trap.js';
import { R64 } from './regs64.js';

interface CsrRow {
  readonly name: string;
  /** Extra access condition beyond privilege and read-only-ness (counter enables, TVM, FS). */
  readonly allowed?: (h: Hart, write: boolean) => boolean;
  readonly read: (h: Hart) => void;
  /**
   * The value a read-modify-write (csrrs/csrrc) starts from, when it is not what `read` gives:
   * mip's SEIP reads as the software bit OR the external signal, but a set or clear works on
   * the software bit alone (privileged spec 3.1.9). Leaves it in `h.csrLo`/`h.csrHi`.
   */
  readonly readForWrite?: (h: Hart) => void;
  /** Absent: writes are ignored (a read-only-zero or WARL-fixed CSR that is writable). */
  readonly write?: (h: Hart, lo: number, hi: number) => void;
}

const rows: (CsrRow | undefined)[] = new Array(4096);

function def(num: number, row: CsrRow): void {
  rows[num] = row;
}

const ret = (h: Hart, lo: number, hi: number) => {
  h.csrLo = lo | 0;
  h.csrHi = hi | 0;
};

/** A plain 64-bit register kept in `h.r64` pair `i`, with an optional legal-value filter. */
function pair(
  num: number,
  name: string,
  i: number,
  opts: Partial<CsrRow> & { mask?: (h: Hart, lo: number, hi: number) => void } = {},
): void {
  def(num, {
    name,
    ...(opts.allowed !== undefined && { allowed: opts.allowed }),
    read: (h) => ret(h, h.r64[2 * i]!, h.r64[2 * i + 1]!),
    write:
      opts.mask ??
      ((h, lo, hi) => {
        h.r64[2 * i] = lo;
        h.r64[2 * i + 1] = hi;
      }),
  });
}

const zero = (num: number, name: string) =>
  def(num, { name, read: (h) => ret(h, 0, 0), write: () => {} });

// ---- floating point --------------------------------------------------------------------
const fpOn = (h: Hart) => !h.fsOff;
def(0x001, {
  name: 'fflags',
  allowed: fpOn,
  read: (h) => ret(h, h.fr.fflags, 0),
  write: (h, lo) => {
    h.fr.fflags = lo & 0x1f;
    h.markFsDirty();
  },
});
def(0x002, {
  name: 'frm',
  allowed: fpOn,
  read: (h) => ret(h, h.frm, 0),
  write: (h, lo) => {
    h.frm = lo & 7;
    h.markFsDirty();
  },
});
def(0x003, {
  name: 'fcsr',
  allowed: fpOn,
  read: (h) => ret(h, (h.frm << 5) | h.fr.fflags, 0),
  write: (h, lo) => {
    h.fr.fflags = lo & 0x1f;
    h.frm = (lo >>> 5) & 7;
    h.markFsDirty();
  },
});

// ---- counters (Zicntr) -----------------------------------------------------------------
/** Whether S/U may read counter `bit` (0 cycle, 1 time, 2 instret): mcounteren, then scounteren. */
function counterAllowed(bit: number) {
  return (h: Hart) => {
    if (h.priv === PRV_M) return true;
    if (!((h.mcounteren >>> bit) & 1)) return false;
    return h.priv === PRV_S || ((h.scounteren >>> bit) & 1) !== 0;
  };
}
const retBig = (h: Hart, v: bigint) => {
  const u = BigInt.asUintN(64, v);
  ret(h, Number(u & 0xffffffffn), Number(u >> 32n));
};
const big = (lo: number, hi: number) => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
def(0xc00, { name: 'cycle', allowed: counterAllowed(0), read: (h) => retBig(h, h.cycleCount()) });
def(0xc01, { name: 'time', allowed: counterAllowed(1), read: (h) => retBig(h, h.timeCount()) });
def(0xc02, {
  name: 'instret',
  allowed: counterAllowed(2),
  read: (h) => retBig(h, h.instretCount()),
});
def(0xb00, {
  name: 'mcycle',
  read: (h) => retBig(h, h.cycleCount()),
  write: (h, lo, hi) => h.setCycleCount(big(lo, hi)),
});
def(0xb02, {
  name: 'minstret',
  read: (h) => retBig(h, h.instretCount()),
  write: (h, lo, hi) => h.setInstretCount(big(lo, hi)),
});
// mhpmcounter3..31 and mhpmevent3..31 exist as read-only zero (no Zihpm).
for (let n = 3; n < 32; n++) {
  zero(0xb00 + n, `mhpmcounter${n}`);
  zero(0x320 + n, `mhpmevent${n}`);
}
def(0x320, {
  name: 'mcountinhibit',
  read: (h) => ret(h, h.mcountinhibit, 0),
  write: (h, lo) => h.setCountInhibit(lo & 0b101),
});
def(0x306, {
  name: 'mcounteren',
  read: (h) => ret(h, h.mcounteren, 0),
  write: (h, lo) => {
    h.mcounteren = lo & 7;
  },
});
def(0x106, {
  name: 'scounteren',
  read: (h) => ret(h, h.scounteren, 0),
  write: (h, lo) => {
    h.scounteren = lo & 7;
  },
});

// ---- machine information ---------------------------------------------------------------
zero(0xf11, 'mvendorid');
zero(0xf12, 'marchid');
zero(0xf13, 'mimpid');
def(0xf14, { name: 'mhartid', read: (h) => ret(h, h.hartId, 0) });
zero(0xf15, 'mconfigptr');

// ---- machine trap setup and handling ---------------------------------------------------
def(0x300, {
  name: 'mstatus',
  read: (h) => ret(h, h.mstatus, mstatusHigh(h.mstatus, true)),
  write: (h, lo) => {
    let v = (h.mstatus & ~MSTATUS_WMASK) | (lo & MSTATUS_WMASK);
    // MPP is WARL: 2 (reserved) keeps the old value.
    if ((v & MSTATUS.MPP) === 2 << 11) v = (v & ~MSTATUS.MPP) | (h.mstatus & MSTATUS.MPP);
    h.setMstatus(v);
  },
});
def(0x301, { name: 'misa', read: (h) => ret(h, h.misa, 0x80000000 | 0), write: () => {} });
def(0x302, {
  name: 'medeleg',
  read: (h) => ret(h, h.medeleg, 0),
  // Every exception but ECALL from M (and the reserved codes 10 and 14) can be delegated.
  write: (h, lo) => {
    h.medeleg = lo & 0xb3ff;
  },
});
def(0x303, {
  name: 'mideleg',
  read: (h) => ret(h, h.mideleg, 0),
  write: (h, lo) => {
    h.mideleg = lo & S_INTERRUPTS;
  },
});
def(0x304, {
  name: 'mie',
  read: (h) => ret(h, h.mie, 0),
  write: (h, lo) => {
    h.mie = lo & (S_INTERRUPTS | MIP_MSIP | MIP_MTIP | MIP_MEIP);
  },
});
const tvec = (i: number) => (h: Hart, lo: number, hi: number) => {
  // MODE 2 and 3 are reserved: keep the BASE, make the mode direct.
  h.r64[2 * i] = (lo & 3) >= 2 ? lo & ~3 : lo;
  h.r64[2 * i + 1] = hi;
};
pair(0x305, 'mtvec', R64.MTVEC, { mask: tvec(R64.MTVEC) });
pair(0x340, 'mscratch', R64.MSCRATCH);
const epc = (i: number) => (h: Hart, lo: number, hi: number) => {
  h.r64[2 * i] = lo & ~1;
  h.r64[2 * i + 1] = hi;
};
pair(0x341, 'mepc', R64.MEPC, { mask: epc(R64.MEPC) });
pair(0x342, 'mcause', R64.MCAUSE);
pair(0x343, 'mtval', R64.MTVAL);
def(0x344, {
  name: 'mip',
  read: (h) => ret(h, h.mipValue(), 0),
  readForWrite: (h) => ret(h, (h.mipValue() & ~MIP_SEIP) | (h.swMip & MIP_SEIP), 0),
  // M-mode writes SSIP, STIP and the software SEIP; MSIP, MTIP, MEIP are the inputs'.
  write: (h, lo) => h.setSoftwarePending(lo & (MIP_SSIP | MIP_STIP | MIP_SEIP)),
});
pair(0x30a, 'menvcfg', R64.MENVCFG, {
  // Only FIOM (bit 0) exists without the optional extensions.
  mask: (h, lo) => {
    h.r64[2 * R64.MENVCFG] = lo & 1;
    h.r64[2 * R64.MENVCFG + 1] = 0;
  },
});

// ---- supervisor ------------------------------------------------------------------------
def(0x100, {
  name: 'sstatus',
  read: (h) => ret(h, h.mstatus & SSTATUS_MASK, mstatusHigh(h.mstatus, false)),
  write: (h, lo) => h.setMstatus((h.mstatus & ~SSTATUS_WMASK) | (lo & SSTATUS_WMASK)),
});
def(0x104, {
  name: 'sie',
  read: (h) => ret(h, h.mie & h.mideleg, 0),
  write: (h, lo) => {
    h.mie = (h.mie & ~h.mideleg) | (lo & h.mideleg);
  },
});
pair(0x105, 'stvec', R64.STVEC, { mask: tvec(R64.STVEC) });
pair(0x140, 'sscratch', R64.SSCRATCH);
pair(0x141, 'sepc', R64.SEPC, { mask: epc(R64.SEPC) });
pair(0x142, 'scause', R64.SCAUSE);
pair(0x143, 'stval', R64.STVAL);
def(0x144, {
  name: 'sip',
  read: (h) => ret(h, h.mipValue() & h.mideleg, 0),
  // Only SSIP is writable from S (when delegated).
  write: (h, lo) =>
    h.setSoftwarePending((h.swMip & ~(h.mideleg & MIP_SSIP)) | (lo & h.mideleg & MIP_SSIP)),
});
pair(0x10a, 'senvcfg', R64.SENVCFG, {
  mask: (h, lo) => {
    h.r64[2 * R64.SENVCFG] = lo & 1;
    h.r64[2 * R64.SENVCFG + 1] = 0;
  },
});
def(0x180, {
  name: 'satp',
  allowed: (h) => !(h.priv === PRV_S && h.mstatus & MSTATUS.TVM),
  read: (h) => ret(h, h.r64[2 * R64.SATP]!, h.r64[2 * R64.SATP + 1]!),
  write: (h, lo, hi) => {
    const mode = hi >>> 28;
    // An unsupported MODE leaves satp as it was (the whole write has no effect).
    if (mode !== SATP_BARE && mode !== SATP_SV39) return;
    // No ASIDs are implemented: ASID reads as 0. PPN is 44 bits.
    h.setSatp(lo, mode === SATP_BARE ? 0 : hi & (0xf0000000 | 0x00000fff));
  },
});

// ---- debug triggers: none, but the CSRs read as "no trigger" (rv64mi-p-breakpoint) -----
def(0x7a0, { name: 'tselect', read: (h) => ret(h, 0, 0), write: () => {} });
def(0x7a1, { name: 'tdata1', read: (h) => ret(h, 0, 0), write: () => {} });
def(0x7a2, {
  name: 'tdata2',
  read: (h) => ret(h, h.r64[2 * R64.TDATA2]!, h.r64[2 * R64.TDATA2 + 1]!),
  write: (h, lo, hi) => {
    h.r64[2 * R64.TDATA2] = lo;
    h.r64[2 * R64.TDATA2 + 1] = hi;
  },
});
zero(0x7a3, 'tdata3');

// ---- PMP -------------------------------------------------------------------------------
for (let n = 0; n < 16; n += 2)
  def(0x3a0 + n, {
    name: `pmpcfg${n}`,
    read: (h) => {
      const [lo, hi] = h.pmp.readCfg(n);
      ret(h, lo, hi);
    },
    write: (h, lo, hi) => {
      h.pmp.writeCfg(n, lo, hi);
      h.mmu.flushAll();
      h.code.flushFetch();
    },
  });
for (let n = 0; n < 64; n++)
  def(0x3b0 + n, {
    name: `pmpaddr${n}`,
    read: (h) => {
      const [lo, hi] = h.pmp.readAddr(n);
      ret(h, lo, hi);
    },
    write: (h, lo, hi) => {
      h.pmp.writeAddr(n, lo, hi);
      h.mmu.flushAll();
      h.code.flushFetch();
    },
  });

/** The name of CSR `num`, for the disassembler and traces; undefined when not implemented. */
export function csrName(num: number): string | undefined {
  return rows[num]?.name;
}

/**
 * A CSR instruction: `op` (CSR_RW/RS/RC) on CSR `num`, result to register `rd` (32 = x0),
 * source (lo, hi), `writes` whether it writes at all. Illegal when the CSR does not exist, the
 * privilege is too low, a read-only CSR would be written, or the row's condition refuses.
 * Every write ends the block (`h.exit`): what the CSR controls may affect the next instruction.
 */
export function csrInstruction(
  h: Hart,
  op: number,
  num: number,
  rd: number,
  srcLo: number,
  srcHi: number,
  writes: boolean,
  pc: number,
  raw: number,
): void {
  const row = rows[num];
  if (
    row === undefined ||
    h.priv < ((num >>> 8) & 3) ||
    (writes && num >>> 10 === 3) ||
    (row.allowed !== undefined && !row.allowed(h, writes))
  )
    illegal(h, pc, raw);
  // csrrw with rd = x0 does not read (no read side effects).
  let oldLo = 0;
  let oldHi = 0;
  if (!(op === CSR_RW && rd === 32)) {
    row.read(h);
    oldLo = h.csrLo;
    oldHi = h.csrHi;
  }
  if (writes) {
    let lo = srcLo;
    let hi = srcHi;
    let baseLo = oldLo;
    let baseHi = oldHi;
    if (op !== CSR_RW && row.readForWrite !== undefined) {
      row.readForWrite(h);
      baseLo = h.csrLo;
      baseHi = h.csrHi;
    }
    if (op === CSR_RS) {
      lo = baseLo | srcLo;
      hi = baseHi | srcHi;
    } else if (op === CSR_RC) {
      lo = baseLo & ~srcLo;
      hi = baseHi & ~srcHi;
    }
    row.write?.(h, lo | 0, hi | 0);
    h.exit = true;
    h.irqDirty = true;
  }
  h.x[rd * 2] = oldLo;
  h.x[rd * 2 + 1] = oldHi;
}

export { PRV_U };
