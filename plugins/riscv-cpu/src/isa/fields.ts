/**
 * Instruction fields: extractors for the operand fields of a 32-bit RISC-V instruction word.
 *
 * Every function takes the word as a JS number (either the unsigned value from a `Uint32Array`
 * or the signed value of an `Int32Array`: only the low 32 bits are read) and returns a plain
 * small integer. Immediates are sign-extended as the ISA defines them and returned as signed
 * JS numbers; `immU` is already shifted into place (bits 31:12, low 12 bits zero, sign taken
 * from bit 31), so `lui` writes exactly `immU(insn)` sign-extended to 64 bits. Branch and jump
 * offsets are byte offsets (bit 0 always zero).
 *
 * These are one or two shifts each so the execution engine can call them while pre-decoding a
 * block without allocating.
 */

/** Destination register, bits 11:7. */
export const rd = (insn: number): number => (insn >>> 7) & 31;
/** First source register, bits 19:15 (also the CSR-immediate `uimm` of csrr*i). */
export const rs1 = (insn: number): number => (insn >>> 15) & 31;
/** Second source register, bits 24:20. */
export const rs2 = (insn: number): number => (insn >>> 20) & 31;
/** Third source register of the fused multiply-adds (R4 format), bits 31:27. */
export const rs3 = (insn: number): number => (insn >>> 27) & 31;
/** Rounding mode, bits 14:12 (the funct3 position); 7 means dynamic (use `frm`). */
export const rm = (insn: number): number => (insn >>> 12) & 7;
/** funct3, bits 14:12 (same bits as `rm`, named for integer instructions). */
export const funct3 = (insn: number): number => (insn >>> 12) & 7;
/** funct7, bits 31:25. */
export const funct7 = (insn: number): number => (insn >>> 25) & 127;
/** Major opcode, bits 6:0. */
export const opcode = (insn: number): number => insn & 127;
/** CSR number (12 bits, unsigned), bits 31:20. */
export const csr = (insn: number): number => (insn >>> 20) & 0xfff;

/** I-type immediate, bits 31:20, sign-extended (-2048..2047). */
export const immI = (insn: number): number => insn >> 20;
/** S-type immediate: bits 31:25 and 11:7, sign-extended (-2048..2047). */
export const immS = (insn: number): number => ((insn >> 25) << 5) | ((insn >>> 7) & 31);
/** B-type branch offset in bytes: imm[12|10:5] at 31:25, imm[4:1|11] at 11:7, sign-extended. */
export const immB = (insn: number): number =>
  ((insn >> 31) << 12) |
  (((insn >>> 7) & 1) << 11) |
  (((insn >>> 25) & 0x3f) << 5) |
  (((insn >>> 8) & 0xf) << 1);
/** U-type immediate in place: bits 31:12 with the low 12 bits zero, as a signed 32-bit value. */
export const immU = (insn: number): number => insn & ~0xfff;
/** J-type jump offset in bytes: imm[20|10:1|11|19:12] at 31:12, sign-extended. */
export const immJ = (insn: number): number =>
  ((insn >> 31) << 20) |
  (insn & 0xff000) |
  (((insn >>> 20) & 1) << 11) |
  (((insn >>> 21) & 0x3ff) << 1);

/** RV64 shift amount of slli/srli/srai, bits 25:20 (0..63). */
export const shamt6 = (insn: number): number => (insn >>> 20) & 63;
/** Shift amount of the 32-bit shifts slliw/srliw/sraiw, bits 24:20 (0..31). */
export const shamt5 = (insn: number): number => (insn >>> 20) & 31;

/** AMO / LR / SC acquire bit, bit 26. */
export const aq = (insn: number): number => (insn >>> 26) & 1;
/** AMO / LR / SC release bit, bit 25. */
export const rl = (insn: number): number => (insn >>> 25) & 1;

/**
 * FENCE predecessor set, bits 27:24, as the ISA lays it out: 8 = I (device input),
 * 4 = O (device output), 2 = R (memory reads), 1 = W (memory writes).
 */
export const pred = (insn: number): number => (insn >>> 24) & 15;
/** FENCE successor set, bits 23:20 (same bit meanings as `pred`). */
export const succ = (insn: number): number => (insn >>> 20) & 15;
/** FENCE mode, bits 31:28: 0 normal, 8 with pred = succ = RW is FENCE.TSO. */
export const fm = (insn: number): number => (insn >>> 28) & 15;
