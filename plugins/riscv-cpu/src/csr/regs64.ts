/**
 * The hart's 64-bit CSRs kept as int32 halves (like the integer registers), so that CSR
 * instructions move them to and from registers without conversion: pair `i` is at
 * `[2*i, 2*i+1]` of `Hart.r64`.
 */
export const R64 = {
  MTVEC: 0,
  STVEC: 1,
  MEPC: 2,
  SEPC: 3,
  MTVAL: 4,
  STVAL: 5,
  MSCRATCH: 6,
  SSCRATCH: 7,
  MCAUSE: 8,
  SCAUSE: 9,
  SATP: 10,
  MENVCFG: 11,
  SENVCFG: 12,
  TDATA1: 13,
  TDATA2: 14,
} as const;

export const R64_COUNT = 15;
