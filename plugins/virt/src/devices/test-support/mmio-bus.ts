/**
 * Test support: a guest's accesses to one device region, refused or passed on as the SDK
 * documents `MmioAccessRules.valid` (size range, alignment, `accepts`); a refused access is
 * an `access-error` that never reaches the callbacks. None of these devices needs the
 * kernel's splitting or widening: each implements every size it accepts.
 */
import type { AccessSize, MemTxError, MmioAccessRules, MmioOps } from '@emuhost/sdk';

export interface Mapped {
  readonly size: number;
  readonly ops: MmioOps;
  readonly rules: MmioAccessRules;
}

const ATTRS = { unspecified: true } as const;

function refused(d: Mapped, offset: number, size: AccessSize, isWrite: boolean): boolean {
  const v = d.rules.valid ?? {};
  if (size < (v.min ?? 1) || size > (v.max ?? 4)) return true;
  if (!v.unaligned && offset % size !== 0) return true;
  if (offset < 0 || offset + size > d.size) return true;
  return v.accepts !== undefined && !v.accepts(offset, size, isWrite);
}

/** A read as the guest sees it: the value (bigint for 8 bytes) or why it failed. */
export function read(
  d: Mapped,
  offset: number,
  size: AccessSize = 4,
): number | bigint | MemTxError {
  if (refused(d, offset, size, false)) return 'access-error';
  const v = d.ops.read(offset, size, ATTRS);
  if (typeof v === 'string') return v;
  if (size === 8) return BigInt.asUintN(64, BigInt(v));
  return Number(BigInt.asUintN(size * 8, BigInt(v)));
}

/** A read that must succeed, as a number (for accesses of at most 4 bytes). */
export function rd(d: Mapped, offset: number, size: 1 | 2 | 4 = 4): number {
  const v = read(d, offset, size);
  if (typeof v === 'string') throw new Error(`read at 0x${offset.toString(16)} failed: ${v}`);
  return Number(v);
}

/** An 8-byte read that must succeed. */
export function rd64(d: Mapped, offset: number): bigint {
  const v = read(d, offset, 8);
  if (typeof v === 'string') throw new Error(`read at 0x${offset.toString(16)} failed: ${v}`);
  return BigInt(v);
}

/** A write as the guest makes it: 'ok' or why it failed. */
export function write(
  d: Mapped,
  offset: number,
  value: number | bigint,
  size: AccessSize = 4,
): 'ok' | MemTxError {
  if (refused(d, offset, size, true)) return 'access-error';
  const big = BigInt.asUintN(size * 8, BigInt(value));
  const v = size === 8 ? big : Number(big);
  return d.ops.write(offset, size, v, ATTRS) ?? 'ok';
}

/** A write that must succeed. */
export function wr(d: Mapped, offset: number, value: number | bigint, size: AccessSize = 4): void {
  const r = write(d, offset, value, size);
  if (r !== 'ok') throw new Error(`write at 0x${offset.toString(16)} failed: ${r}`);
}
