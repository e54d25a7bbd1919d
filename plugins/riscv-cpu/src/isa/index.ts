/**
 * The RV64GC instruction set as data: what the CPU's pre-decoder and the disassembler build on.
 *
 * - `opcodes.ts`: `OPCODES`, one row per 32-bit instruction (after riscv-opcodes).
 * - `fields.ts`: operand field extractors (`rd`, `immI`, `shamt6`, ...).
 * - `decode.ts`: `decode(word)`, the row of a 32-bit word or undefined (illegal).
 * - `rvc.ts`: `expandCompressed(halfword)`, RVC to its 32-bit equivalent (0 when reserved).
 * - `encode.ts`: `encode(name, operands)`, a row's word from its operands.
 * - `elf.ts`: `parseElf(bytes)`, entry, program headers, sections and symbols of an ELF64 file.
 */

export * from './decode.js';
export * from './elf.js';
export * from './encode.js';
export * as fields from './fields.js';
export * from './opcodes.js';
export * from './rvc.js';
