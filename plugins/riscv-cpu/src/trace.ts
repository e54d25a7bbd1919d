/**
 * Trace lines for `-d in_asm`: a block as QEMU prints it when it translates one (`IN:` and one
 * disassembled instruction per line).
 */
import { disassemble } from './disasm/index.js';
import type { Block } from './exec/block.js';
import { F_LEN, F_PCOFF, F_RAW, FIELDS } from './exec/operands.js';

const TWO32 = 4294967296;

export function hex64(v: number): string {
  const lo = v | 0;
  const hi = Math.floor(v / TWO32);
  return `${(hi >>> 0).toString(16).padStart(8, '0')}${(lo >>> 0).toString(16).padStart(8, '0')}`;
}

export function disassembleBlock(b: Block, priv: number): string {
  const lines = [`IN: [${'USHM'[priv]}]`];
  for (let j = 0; j < b.n; j++) {
    const i = j * FIELDS;
    const pc = b.pc + b.ops[i + F_PCOFF]!;
    const len = b.ops[i + F_LEN]! as 2 | 4;
    const raw = b.ops[i + F_RAW]!;
    const bits =
      len === 2
        ? (raw & 0xffff).toString(16).padStart(4, '0')
        : (raw >>> 0).toString(16).padStart(8, '0');
    lines.push(
      `0x${hex64(pc)}:  ${bits.padEnd(8)}  ${disassemble(raw, BigInt.asUintN(64, BigInt(pc)), len)}`,
    );
  }
  return lines.join('\n');
}

/** A 64-bit value given as int32 halves, as 16 hex digits. */
export function hexPair(lo: number, hi: number): string {
  return `${(hi >>> 0).toString(16).padStart(8, '0')}${(lo >>> 0).toString(16).padStart(8, '0')}`;
}
