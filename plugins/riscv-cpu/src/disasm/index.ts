/**
 * The RV64GC disassembler (GNU objdump `-M no-aliases` style).
 *
 * - `disasm.ts`: `disassemble(insn, pc, length)`.
 * - `registers.ts`: ABI register names and rounding-mode names.
 * - `csr-names.ts`: CSR names by number.
 */

export * from './csr-names.js';
export * from './disasm.js';
export * from './registers.js';
