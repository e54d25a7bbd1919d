/**
 * The RISC-V IOMMU's register file (specification 1.0, chapter 6): offsets, field masks, what
 * `capabilities` advertises, and the register state as plain data (what hot reload and
 * snapshots carry). 64-bit registers are `bigint`; everything the walks use on the hot path
 * is mirrored into numbers by `riscv-iommu.ts`.
 */

/** Register offsets in the 4 KiB block. */
export const REG = {
  CAPABILITIES: 0x00,
  FCTL: 0x08,
  DDTP: 0x10,
  CQB: 0x18,
  CQH: 0x20,
  CQT: 0x24,
  FQB: 0x28,
  FQH: 0x30,
  FQT: 0x34,
  PQB: 0x38,
  PQH: 0x40,
  PQT: 0x44,
  CQCSR: 0x48,
  FQCSR: 0x4c,
  PQCSR: 0x50,
  IPSR: 0x54,
  ICVEC: 0x2f8,
  MSI_CFG_TBL: 0x300,
} as const;

export const REG_BLOCK_SIZE = 0x1000;

/** Registers 8 bytes wide: an 8-byte access to one of them is one access. */
export const QWORD_REGS: ReadonlySet<number> = new Set([
  REG.CAPABILITIES,
  REG.DDTP,
  REG.CQB,
  REG.FQB,
  REG.PQB,
  REG.ICVEC,
]);

// capabilities fields.
export const CAP_VERSION_1_0 = 0x10n;
export const CAP_SV39 = 1n << 9n;
export const CAP_SV48 = 1n << 10n;
export const CAP_SV39X4 = 1n << 17n;
export const CAP_SV48X4 = 1n << 18n;
export const CAP_AMO_HWAD = 1n << 24n;
export const CAP_ATS = 1n << 25n;
export const CAP_END = 1n << 27n;
export const CAP_IGS_SHIFT = 28n;
/** IGS = 2: both MSI and wired-signalled interrupts. */
export const IGS_BOTH = 2n;
export const CAP_PAS_SHIFT = 32n;
/** Physical address size the IOMMU reports, as QEMU's model does (56 bits). */
export const PAS_BITS = 56n;

/**
 * What this model implements, and so all `capabilities` says: version 1.0, first-stage Sv39
 * (Svnapot 64 KiB pages too, which the spec makes mandatory), second-stage Sv39x4, and with
 * the `sv48` option Sv48 and Sv48x4 as well; wired and MSI interrupt generation, 56-bit
 * physical addresses. Not advertised, because not implemented: Sv32, Sv57, Sv32x4, Sv57x4,
 * Svpbmt, MSI page tables (MSI_FLAT, MRIF), hardware A/D updates (AMO_HWAD), ATS/PRI, T2GPA,
 * big-endian tables (END), performance monitoring, the debug translation interface, process
 * directory tables (PD8/17/20), QoS ids.
 *
 * Sv48 is an option, off by default, because Linux builds its I/O page tables in the widest
 * mode offered: without it the guest's tables are Sv39, like the virt CPU's own.
 */
export function capabilities(sv48: boolean): bigint {
  return (
    CAP_VERSION_1_0 |
    CAP_SV39 |
    CAP_SV39X4 |
    (sv48 ? CAP_SV48 | CAP_SV48X4 : 0n) |
    (IGS_BOTH << CAP_IGS_SHIFT) |
    (PAS_BITS << CAP_PAS_SHIFT)
  );
}

// fctl.
export const FCTL_BE = 1;
export const FCTL_WSI = 2;
export const FCTL_GXL = 4;

// ddtp.
export const DDTP_MODE_MASK = 0xfn;
export const DDTP_BUSY = 1n << 4n;
/** PPN[53:10]: a 44-bit page number. */
export const PPN_FIELD = ((1n << 44n) - 1n) << 10n;
export const MODE = { OFF: 0, BARE: 1, LVL1: 2, LVL2: 3, LVL3: 4 } as const;

/** Queue base registers: LOG2SZ-1 in [4:0], PPN in [53:10]. */
export const QB_LOG2SZ_MASK = 0x1fn;
export const QB_WRITABLE = PPN_FIELD | QB_LOG2SZ_MASK;

// The three queue CSRs share their layout.
export const QCSR_EN = 1 << 0;
export const QCSR_IE = 1 << 1;
/** cqmf / fqmf / pqmf: a memory fault reading or writing the queue. RW1C. */
export const QCSR_MF = 1 << 8;
/** cmd_to (command queue) or fqof / pqof (overflow). RW1C. */
export const QCSR_TO_OF = 1 << 9;
/** Command queue only: an illegal or unsupported command. RW1C. */
export const CQCSR_CMD_ILL = 1 << 10;
/** Command queue only: an IOFENCE.C with WSI completed. RW1C. */
export const CQCSR_FENCE_W_IP = 1 << 11;
export const QCSR_ON = 1 << 16;
export const QCSR_BUSY = 1 << 17;
/** The error bits of each queue, which software clears by writing 1. */
export const CQCSR_RW1C = QCSR_MF | QCSR_TO_OF | CQCSR_CMD_ILL | CQCSR_FENCE_W_IP;
export const FQCSR_RW1C = QCSR_MF | QCSR_TO_OF;

// ipsr bits, also the interrupt causes ICVEC maps.
export const CAUSE = { CQ: 0, FQ: 1, PM: 2, PQ: 3 } as const;
export const IPSR_MASK = 0xf;

/** Interrupt vectors: four wires (and four MSI table entries). */
export const VECTORS = 4;
export const MSI_ENTRIES = 16;

export interface QueueState {
  /** The base register (LOG2SZ-1 and PPN). */
  base: bigint;
  head: number;
  tail: number;
  csr: number;
}

export interface MsiEntry {
  addr: bigint;
  data: number;
  ctrl: number;
}

export interface RegState {
  fctl: number;
  ddtp: bigint;
  cq: QueueState;
  fq: QueueState;
  pq: QueueState;
  ipsr: number;
  icvec: bigint;
  msi: MsiEntry[];
  /** Per vector: an MSI that was due while the vector was masked. */
  msiPending: boolean[];
}

const queue = (): QueueState => ({ base: 0n, head: 0, tail: 0, csr: 0 });

/** Reset values: Off mode (all DMA blocked), queues off, wired interrupts not selected. */
export function initialRegs(): RegState {
  return {
    fctl: 0,
    ddtp: BigInt(MODE.OFF),
    cq: queue(),
    fq: queue(),
    pq: queue(),
    ipsr: 0,
    icvec: 0n,
    msi: Array.from({ length: MSI_ENTRIES }, () => ({ addr: 0n, data: 0, ctrl: 1 })),
    msiPending: Array.from({ length: VECTORS }, () => false),
  };
}

/** Entries in a queue whose base register is `base`: 2^(LOG2SZ-1 + 1). */
export const queueEntries = (base: bigint): number => 2 ** (Number(base & QB_LOG2SZ_MASK) + 1);

/** The guest-physical address a PPN field (bits 53:10 of `reg`) names. */
export const ppnAddress = (reg: bigint): number => Number((reg & PPN_FIELD) >> 10n) * 4096;

/** ICVEC's vector for a cause (4 bits each). */
export const vectorOf = (icvec: bigint, cause: number): number =>
  Number((icvec >> BigInt(cause * 4)) & 0xfn);
