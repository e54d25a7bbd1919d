/**
 * Trap causes (privileged spec, `mcause`/`scause` values), by name. An interrupt's cause is
 * its number with the interrupt bit set (bit 63 on RV64); here interrupts are numbered and
 * the bit is added where a cause register is written.
 */

/** Synchronous exceptions. */
export const EXC = {
  INSN_MISALIGNED: 0,
  INSN_ACCESS: 1,
  ILLEGAL_INSN: 2,
  BREAKPOINT: 3,
  LOAD_MISALIGNED: 4,
  LOAD_ACCESS: 5,
  STORE_MISALIGNED: 6,
  STORE_ACCESS: 7,
  ECALL_U: 8,
  ECALL_S: 9,
  ECALL_M: 11,
  INSN_PAGE_FAULT: 12,
  LOAD_PAGE_FAULT: 13,
  STORE_PAGE_FAULT: 15,
} as const;

/** Interrupt numbers: the bit in `mip`/`mie`, and the cause code. */
export const IRQ = {
  SSI: 1,
  MSI: 3,
  STI: 5,
  MTI: 7,
  SEI: 9,
  MEI: 11,
} as const;

/** `mip`/`mie` bit masks. */
export const MIP_SSIP = 1 << IRQ.SSI;
export const MIP_MSIP = 1 << IRQ.MSI;
export const MIP_STIP = 1 << IRQ.STI;
export const MIP_MTIP = 1 << IRQ.MTI;
export const MIP_SEIP = 1 << IRQ.SEI;
export const MIP_MEIP = 1 << IRQ.MEI;
/** The interrupts S-mode can see and delegate. */
export const S_INTERRUPTS = MIP_SSIP | MIP_STIP | MIP_SEIP;
export const ALL_INTERRUPTS = S_INTERRUPTS | MIP_MSIP | MIP_MTIP | MIP_MEIP;

/** The order in which simultaneous interrupts are taken (privileged spec 3.1.9). */
export const IRQ_PRIORITY: readonly number[] = [
  IRQ.MEI,
  IRQ.MSI,
  IRQ.MTI,
  IRQ.SEI,
  IRQ.SSI,
  IRQ.STI,
];

/** Privilege levels. */
export const PRV_U = 0;
export const PRV_S = 1;
export const PRV_M = 3;
export type Priv = typeof PRV_U | typeof PRV_S | typeof PRV_M;

const EXC_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(EXC).map(([k, v]) => [v, k.toLowerCase().replace(/_/g, '-')]),
);
const IRQ_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(IRQ).map(([k, v]) => [v, k.toLowerCase()]),
);

/** A cause as traces print it: `illegal-insn`, `irq mti`. */
export function causeName(cause: number, interrupt: boolean): string {
  return interrupt ? `irq ${IRQ_NAMES[cause] ?? cause}` : (EXC_NAMES[cause] ?? `cause ${cause}`);
}
