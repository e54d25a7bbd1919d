/**
 * The VT-d register block: offsets, bit fields, what CAP and ECAP advertise, and the plain
 * data the model keeps (the register file, the pointers latched from it, the fault records).
 *
 * Layout follows the Intel VT-d specification (chapter 11, "Register Descriptions") with the
 * offsets QEMU's intel-iommu uses for the implementation-defined blocks: the IOTLB registers
 * at 0xf0 (ECAP.IRO = 0xf) and the fault recording registers from 0x220 (CAP.FRO = 0x22).
 *
 * 64-bit registers are kept as two 32-bit halves (`...Lo`, `...Hi`) so that every field is a
 * plain number, 4-byte accesses to either half are natural, and the state is plain data.
 */

// ---- register offsets (bytes from the start of the block) ------------------------------

export const REG = {
  VER: 0x00,
  CAP: 0x08,
  ECAP: 0x10,
  GCMD: 0x18,
  GSTS: 0x1c,
  RTADDR: 0x20,
  CCMD: 0x28,
  FSTS: 0x34,
  FECTL: 0x38,
  FEDATA: 0x3c,
  FEADDR: 0x40,
  FEUADDR: 0x44,
  IQH: 0x80,
  IQT: 0x88,
  IQA: 0x90,
  ICS: 0x9c,
  IECTL: 0xa0,
  IEDATA: 0xa4,
  IEADDR: 0xa8,
  IEUADDR: 0xac,
  IVA: 0xf0,
  IOTLB: 0xf8,
  FRCD: 0x220,
} as const;

/** Size of the register block (one 4 KiB page, as on hardware). */
export const REG_BLOCK_SIZE = 0x1000;

/** Number of fault recording registers (CAP.NFR + 1). */
export const NUM_FRCD = 4;

/** Maximum address-mask value for page-selective invalidation (CAP.MAMV). */
export const MAMV = 18;

/** VER_REG: architecture version 1.0 (legacy-mode remapping), as QEMU reports. */
export const VERSION = 0x10;

/** 64-bit registers: an 8-byte access at these offsets is one access to one register. */
export const QWORD_REGS: ReadonlySet<number> = new Set([
  REG.CAP,
  REG.ECAP,
  REG.RTADDR,
  REG.CCMD,
  REG.IQH,
  REG.IQT,
  REG.IQA,
  REG.IVA,
  REG.IOTLB,
  ...Array.from({ length: NUM_FRCD }, (_, i) => REG.FRCD + 16 * i),
  ...Array.from({ length: NUM_FRCD }, (_, i) => REG.FRCD + 16 * i + 8),
]);

// ---- GCMD / GSTS ------------------------------------------------------------------------

export const GCMD_TE = 1 << 31;
export const GCMD_SRTP = 1 << 30;
export const GCMD_QIE = 1 << 26;
/** GSTS: translation enable status. */
export const GSTS_TES = 1 << 31;
/** GSTS: root table pointer status. */
export const GSTS_RTPS = 1 << 30;
/** GSTS: queued invalidation enable status. */
export const GSTS_QIES = 1 << 26;

// ---- CCMD (bits of the high half: register bits 63:32) ----------------------------------

export const CCMD_HI_ICC = 1 << 31;
/** CIRG, request granularity: bits 62:61. */
export const CCMD_HI_CIRG_SHIFT = 29;
/** CAIG, actual granularity: bits 60:59. */
export const CCMD_HI_CAIG_SHIFT = 27;
/** FM, function mask: bits 33:32 (write-only). */
export const CCMD_HI_FM_MASK = 0x3;

// ---- IOTLB_REG (bits of the high half) and IVA_REG --------------------------------------

export const IOTLB_HI_IVT = 1 << 31;
/** IIRG, request granularity: bits 61:60. */
export const IOTLB_HI_IIRG_SHIFT = 28;
/** IAIG, actual granularity: bits 58:57. */
export const IOTLB_HI_IAIG_SHIFT = 25;
/** DR (49), DW (48) and DID (47:32): kept as written, otherwise ignored (DRD = DWD = 0). */
export const IOTLB_HI_RW_MASK = 0x3ffff;
/** IVA_REG low half: ADDR 31:12, IH 6, AM 5:0. */
export const IVA_LO_MASK = 0xfffff07f;

// ---- fault status and event control -----------------------------------------------------

export const FSTS_PFO = 1 << 0;
export const FSTS_PPF = 1 << 1;
export const FSTS_IQE = 1 << 4;
export const FSTS_FRI_SHIFT = 8;
/** IM in FECTL and IECTL. */
export const CTL_IM = 1 << 31;
/** IP in FECTL and IECTL. */
export const CTL_IP = 1 << 30;
export const ICS_IWC = 1 << 0;

// ---- capabilities -----------------------------------------------------------------------

export interface VtdConfig {
  /** Guest address width in bits: 39 (3-level tables) or 48 (3- and 4-level tables). */
  readonly awBits: 39 | 48;
  /** Host address width used to check address fields (bits); equal to `awBits`. */
  readonly haw: number;
  /** CAP.CM: caching mode reported. */
  readonly cachingMode: boolean;
}

/** CAP.SAGAW bit for an AW field value (1: 39-bit 3-level, 2: 48-bit 4-level). */
export const sagawBits = (awBits: 39 | 48): number => (awBits === 48 ? 0b00110 : 0b00010);

/**
 * CAP_REG as [low, high] halves. Advertised: ND = 6 (16-bit domain ids), CM (option),
 * SAGAW, MGAW, FRO, SLLPS = 2 MiB + 1 GiB, PSI, NFR, MAMV. Not advertised: AFL, RWBF,
 * PLMR/PHMR, ZLR, DWD/DRD, first-level paging, posted interrupts, ESRTPS/ESIRTPS.
 */
export function capRegister(cfg: VtdConfig): [number, number] {
  const nd = 6;
  const cm = cfg.cachingMode ? 1 << 7 : 0;
  const sagaw = sagawBits(cfg.awBits) << 8;
  const mgaw = (cfg.awBits - 1) << 16;
  const fro = REG.FRCD / 16; // bits 33:24, in 16-byte units
  const lo = (nd | cm | sagaw | mgaw | ((fro & 0xff) << 24)) >>> 0;
  const sllps = 0b0011 << 2; // bits 37:34: 2 MiB and 1 GiB second-level pages
  const psi = 1 << 7; // bit 39
  const nfr = (NUM_FRCD - 1) << 8; // bits 47:40
  const mamv = MAMV << 16; // bits 53:48
  const hi = ((fro >>> 8) | sllps | psi | nfr | mamv) >>> 0;
  return [lo, hi];
}

/**
 * ECAP_REG as [low, high] halves. Advertised: C (the model's table reads are coherent with
 * the CPU's writes), QI, PT, IRO = 0xf. Not advertised: DT, IR, EIM, SC, nested, PASID,
 * scalable mode and everything else.
 */
export function ecapRegister(): [number, number] {
  const c = 1 << 0;
  const qi = 1 << 1;
  const pt = 1 << 6;
  const iro = (REG.IVA / 16) << 8; // bits 17:8
  return [(c | qi | pt | iro) >>> 0, 0];
}

// ---- state ------------------------------------------------------------------------------

/** One fault recording register, decoded. */
export interface FaultRecord {
  /** F: a fault is recorded here (RW1C). */
  f: boolean;
  /** FI: the page address of the faulting request. */
  fi: number;
  /** SID: the requester id. */
  sid: number;
  /** FR: the fault reason code. */
  fr: number;
  /** T: the request was a read (true) or a write (false). */
  read: boolean;
}

/** Everything the model saves: the register file, latched pointers and fault records. */
export interface VtdState {
  /** GSTS: TES, RTPS, QIES. */
  gsts: number;
  rtaddrLo: number;
  rtaddrHi: number;
  /** The root table address latched by the last SRTP. */
  root: number;
  /** CCMD low half: DID (15:0, RW), SID (31:16, write-only). */
  ccmdLo: number;
  /** CCMD high half: FM (write-only), CAIG, CIRG, ICC. */
  ccmdHi: number;
  /** FSTS: PFO and IQE (PPF is computed from the records). */
  fsts: number;
  /** FSTS.FRI, latched when PPF was set. */
  fri: number;
  fectl: number;
  fedata: number;
  feaddr: number;
  /** IQA as written: IQA (63:12) and QS (2:0). */
  iqaLo: number;
  iqaHi: number;
  /** Queue base and size in descriptors, latched when QI was enabled. */
  iqBase: number;
  iqEntries: number;
  /** IQH and IQT as descriptor indices (the registers show them << 4). */
  iqh: number;
  iqt: number;
  ics: number;
  iectl: number;
  iedata: number;
  ieaddr: number;
  /** IVA as written (write-only register). */
  ivaLo: number;
  ivaHi: number;
  /** IOTLB_REG high half: DID, DW, DR, IAIG, IIRG, IVT (the low half is reserved). */
  iotlbHi: number;
  frcd: FaultRecord[];
  /** Where the next fault is recorded (an index into `frcd`). */
  nextFrcd: number;
}

/** Register values at power-on / reset. */
export function initialState(): VtdState {
  return {
    gsts: 0,
    rtaddrLo: 0,
    rtaddrHi: 0,
    root: 0,
    ccmdLo: 0,
    ccmdHi: 0,
    fsts: 0,
    fri: 0,
    fectl: CTL_IM >>> 0,
    fedata: 0,
    feaddr: 0,
    iqaLo: 0,
    iqaHi: 0,
    iqBase: 0,
    iqEntries: 256,
    iqh: 0,
    iqt: 0,
    ics: 0,
    iectl: CTL_IM >>> 0,
    iedata: 0,
    ieaddr: 0,
    ivaLo: 0,
    ivaHi: 0,
    iotlbHi: 0,
    frcd: Array.from({ length: NUM_FRCD }, () => ({ f: false, fi: 0, sid: 0, fr: 0, read: false })),
    nextFrcd: 0,
  };
}

/** A deep copy made of plain values only (no `structuredClone`: it is not in every realm). */
export function copyState(s: VtdState): VtdState {
  return { ...s, frcd: s.frcd.map((r) => ({ ...r })) };
}

/** Checks that saved data has the shape `saveState` produces; returns a copy, or undefined. */
export function restoreState(data: unknown): VtdState | undefined {
  if (data === null || typeof data !== 'object') return undefined;
  const d = data as Record<string, unknown>;
  const fresh = initialState();
  for (const k of Object.keys(fresh) as (keyof VtdState)[]) {
    if (k === 'frcd') continue;
    if (typeof d[k] !== 'number' || !Number.isSafeInteger(d[k])) return undefined;
  }
  const frcd = d.frcd;
  if (!Array.isArray(frcd) || frcd.length !== NUM_FRCD) return undefined;
  for (const r of frcd as unknown[]) {
    if (r === null || typeof r !== 'object') return undefined;
    const x = r as Record<string, unknown>;
    if (typeof x.f !== 'boolean' || typeof x.read !== 'boolean') return undefined;
    if (typeof x.fi !== 'number' || typeof x.sid !== 'number' || typeof x.fr !== 'number')
      return undefined;
  }
  // Only the register state's own fields: saved data carries the context cache beside them.
  const out = { ...fresh } as Record<keyof VtdState, unknown>;
  for (const k of Object.keys(fresh) as (keyof VtdState)[]) out[k] = d[k];
  return copyState(out as VtdState);
}

// ---- 64-bit helpers ---------------------------------------------------------------------

const TWO32 = 2 ** 32;

/** Joins halves into a number; the caller masks `hi` so the result stays below 2^53. */
export const join64 = (lo: number, hi: number): number => hi * TWO32 + (lo >>> 0);
export const lo32 = (n: number): number => (n % TWO32) >>> 0;
export const hi32 = (n: number): number => Math.floor(n / TWO32) >>> 0;

/** Mask of the high half's bits that lie below the host address width. */
export const hawHiMask = (haw: number): number =>
  HAW_HI_MASKS[haw] ?? (haw <= 32 ? 0 : 2 ** (haw - 32) - 1);
/** hawHiMask for every width up to 64, computed once: a variable-exponent power is slow, and a walk asks per level. */
const HAW_HI_MASKS: readonly number[] = Array.from({ length: 65 }, (_, h) =>
  h <= 32 ? 0 : 2 ** (h - 32) - 1,
);

/** An address field (bits haw-1:12) of a 64-bit value given as halves. */
export const addrField = (lo: number, hi: number, haw: number): number =>
  join64(lo & 0xfffff000, hi & hawHiMask(haw));
