/**
 * A hart's saved state: every architectural register and CSR, and the counters, as plain data
 * (for snapshots and hot reload). 64-bit values are kept as int32 word lists, as the hart
 * holds them; counters as decimal strings.
 */
import type { Hart } from './hart.js';

export const STATE_VERSION = 1;

export interface HartState {
  readonly x: number[];
  readonly f: number[];
  readonly pc: number;
  readonly priv: number;
  readonly fflags: number;
  readonly frm: number;
  readonly mstatus: number;
  readonly medeleg: number;
  readonly mideleg: number;
  readonly mie: number;
  readonly swMip: number;
  readonly hwMip: number;
  readonly mcounteren: number;
  readonly scounteren: number;
  readonly mcountinhibit: number;
  readonly r64: number[];
  readonly pmpCfg: number[];
  readonly pmpAddrLo: number[];
  readonly pmpAddrHi: number[];
  readonly cycle: string;
  readonly instret: string;
  readonly waiting: boolean;
  /**
   * The LR reservation (guest-physical address or -1, size, the value read as two words): a
   * snapshot taken between an LR and its SC resumes with the SC succeeding as it would have.
   * Absent in state saved before it was kept (no reservation then).
   */
  readonly reservation?: readonly [number, number, number, number];
  /** An interrupt may be takeable at the next block boundary (absent: assume so). */
  readonly irqDirty?: boolean;
}

/** Why `s` is not a hart's state, or undefined when it is (checked before anything changes). */
export function checkState(s: unknown): string | undefined {
  if (typeof s !== 'object' || s === null) return 'not an object';
  const o = s as Record<string, unknown>;
  const ints = (k: string, n: number) =>
    Array.isArray(o[k]) &&
    (o[k] as unknown[]).length >= n &&
    (o[k] as unknown[]).every(Number.isInteger);
  if (!ints('x', 64) || !ints('f', 64)) return 'x and f must be 64 integers each';
  for (const k of ['pc', 'priv', 'mstatus', 'mie', 'swMip', 'hwMip'])
    if (!Number.isFinite(o[k])) return `${k} must be a number`;
  if (!ints('r64', 2) || !ints('pmpCfg', 0) || !ints('pmpAddrLo', 0) || !ints('pmpAddrHi', 0))
    return 'r64 and the PMP lists must be integers';
  if (typeof o.cycle !== 'string' || typeof o.instret !== 'string')
    return 'counters must be strings';
  return undefined;
}

export function saveState(h: Hart): HartState {
  return {
    x: Array.from(h.x.subarray(0, 64)),
    f: Array.from(h.fw),
    pc: h.pc,
    priv: h.priv,
    fflags: h.fr.fflags,
    frm: h.frm,
    mstatus: h.mstatus,
    medeleg: h.medeleg,
    mideleg: h.mideleg,
    mie: h.mie,
    swMip: h.swMip,
    hwMip: h.hwMip,
    mcounteren: h.mcounteren,
    scounteren: h.scounteren,
    mcountinhibit: h.mcountinhibit,
    r64: Array.from(h.r64),
    pmpCfg: Array.from(h.pmp.cfg),
    pmpAddrLo: Array.from(h.pmp.addrLo),
    pmpAddrHi: Array.from(h.pmp.addrHi),
    cycle: h.cycleCount().toString(),
    instret: h.instretCount().toString(),
    waiting: h.waiting,
    reservation: [h.reservation, h.resSize, h.resLo, h.resHi],
    irqDirty: h.irqDirty,
  };
}

export function restoreState(h: Hart, s: HartState): void {
  h.x.set(s.x.slice(0, 64));
  h.fw.set(s.f.slice(0, 64));
  h.pc = s.pc;
  h.fr.fflags = s.fflags;
  h.frm = s.frm;
  h.medeleg = s.medeleg;
  h.mideleg = s.mideleg;
  h.mie = s.mie;
  h.swMip = s.swMip;
  h.hwMip = s.hwMip;
  h.mcounteren = s.mcounteren;
  h.scounteren = s.scounteren;
  h.r64.set(s.r64.slice(0, h.r64.length));
  h.setSatp(h.r64[20]!, h.r64[21]!);
  // Addresses before configurations: a locked entry would refuse its address afterwards.
  h.pmp.reset();
  for (let i = 0; i < 16; i++) h.pmp.writeAddr(i, s.pmpAddrLo[i] ?? 0, s.pmpAddrHi[i] ?? 0);
  for (let n = 0; n < 16; n += 2) {
    const c = (i: number) => s.pmpCfg[n * 4 + i] ?? 0;
    h.pmp.writeCfg(
      n,
      c(0) | (c(1) << 8) | (c(2) << 16) | (c(3) << 24),
      c(4) | (c(5) << 8) | (c(6) << 16) | (c(7) << 24),
    );
  }
  h.setPriv(s.priv);
  h.setMstatus(s.mstatus);
  h.setCountInhibit(0);
  h.setCycleCount(BigInt(s.cycle));
  h.setInstretCount(BigInt(s.instret) + 1n);
  h.setCountInhibit(s.mcountinhibit);
  h.waiting = s.waiting;
  const r = s.reservation;
  h.reservation = r?.[0] ?? -1;
  h.resSize = r?.[1] ?? 0;
  h.resLo = r?.[2] ?? 0;
  h.resHi = r?.[3] ?? 0;
  h.irqDirty = s.irqDirty ?? true;
}
