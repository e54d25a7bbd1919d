/**
 * MMIO dispatch: one access of 1, 2, 4 or 8 bytes from a flat range into a device's
 * callbacks, following QEMU's memory core exactly, because QEMU's own tests (endianness-test)
 * check how accesses are split and combined.
 *
 * 1. `valid` decides whether the guest may make the access at all (memory_region_access_valid);
 *    a refused access is an `access-error` and the device is never called.
 * 2. The device guard refuses a re-entrant access and contains a callback that throws.
 * 3. `impl` decides the size of each callback (access_with_adjusted_size): a wider access is
 *    split into pieces combined in the region's byte order, a narrower one is widened.
 *
 * Values here are in the device's byte order: number for 1..4 bytes, bigint for 8.
 */
import type { AccessSize, MemTxAttrs, MemTxError, MemTxResult } from '@emuhost/sdk';
import type { FlatRange } from './flat-view.js';
import type { ResolvedRules } from './region.js';

/** Whether the guest may make this access (QEMU's memory_region_access_valid). */
export function accessValid(
  rules: ResolvedRules,
  offset: number,
  size: AccessSize,
  isWrite: boolean,
): boolean {
  if (rules.accepts !== undefined && !rules.accepts(offset, size, isWrite)) return false;
  // `&` sees the low 32 bits of the offset exactly, which is all alignment needs.
  if (!rules.validUnaligned && (offset & (size - 1)) !== 0) return false;
  if (rules.validMax === 0) return true;
  return size <= rules.validMax && size >= rules.validMin;
}

/**
 * The size of the next piece of a bulk access of `len` bytes at `offset`
 * (QEMU's memory_access_size): at most `valid.max` (4 when unset), at most the offset's
 * alignment unless the callbacks take unaligned accesses, rounded down to a power of two.
 */
export function bulkPieceSize(rules: ResolvedRules, len: number, offset: number): AccessSize {
  let max = rules.validMax === 0 ? 4 : rules.validMax;
  if (!rules.implUnaligned) {
    const low = offset & 7;
    const align = low === 0 ? 8 : low & -low;
    if (align < max) max = align;
  }
  const l = Math.min(len, max);
  return (l >= 8 ? 8 : l >= 4 ? 4 : l >= 2 ? 2 : 1) as AccessSize;
}

/** Reads `size` bytes at `offset` of an MMIO range. */
export function mmioRead(
  r: FlatRange,
  offset: number,
  size: AccessSize,
  attrs: MemTxAttrs,
): number | bigint | MemTxError {
  // The common case (valid, implemented as is, aligned) skips the rule checks entirely.
  const fast = (r.fastSizes & size) !== 0 && (offset & (size - 1)) === 0;
  if (!fast && !accessValid(r.rules!, offset, size, false)) return 'access-error';
  const g = r.guard;
  if (g === null) {
    return fast
      ? normalize(r.ops!.read(offset, size, attrs), size)
      : readAdjusted(r, offset, size, attrs);
  }
  if (g.quarantined) return 'device-fault';
  const was = g.engaged;
  if (was && !r.reentrant) {
    g.blocked('mmio-read', { region: r.region.name, offset });
    return 'reentrancy-blocked';
  }
  g.engaged = true;
  try {
    if (g.armed !== null) g.trip('mmio-read');
    return fast
      ? normalize(r.ops!.read(offset, size, attrs), size)
      : readAdjusted(r, offset, size, attrs);
  } catch (e) {
    g.fault('mmio-read', e, { region: r.region.name, offset });
    return 'device-fault';
  } finally {
    g.engaged = was;
    if (!was && g.journal.length !== 0) g.journal.clear();
  }
}

/** Writes `size` bytes at `offset` of an MMIO range. `value` is in device byte order. */
export function mmioWrite(
  r: FlatRange,
  offset: number,
  size: AccessSize,
  value: number | bigint,
  attrs: MemTxAttrs,
): MemTxResult {
  const fast = (r.fastSizes & size) !== 0 && (offset & (size - 1)) === 0;
  if (!fast && !accessValid(r.rules!, offset, size, true)) return 'access-error';
  const g = r.guard;
  if (g === null) {
    return fast
      ? (r.ops!.write(offset, size, value, attrs) ?? 'ok')
      : writeAdjusted(r, offset, size, value, attrs);
  }
  if (g.quarantined) return 'device-fault';
  const was = g.engaged;
  if (was && !r.reentrant) {
    g.blocked('mmio-write', { region: r.region.name, offset });
    return 'reentrancy-blocked';
  }
  g.engaged = true;
  try {
    if (g.armed !== null) g.trip('mmio-write');
    return fast
      ? (r.ops!.write(offset, size, value, attrs) ?? 'ok')
      : writeAdjusted(r, offset, size, value, attrs);
  } catch (e) {
    g.fault('mmio-write', e, { region: r.region.name, offset });
    return 'device-fault';
  } finally {
    g.engaged = was;
    if (!was && g.journal.length !== 0) g.journal.clear();
  }
}

function readAdjusted(
  r: FlatRange,
  offset: number,
  size: AccessSize,
  attrs: MemTxAttrs,
): number | bigint | MemTxError {
  const rules = r.rules!;
  if (size >= rules.implMin && size <= rules.implMax) {
    return normalize(r.ops!.read(offset, size, attrs), size);
  }
  const piece = Math.max(Math.min(size, rules.implMax), rules.implMin) as AccessSize;
  const mask = (1n << BigInt(piece * 8)) - 1n;
  const big = rules.endianness === 'big';
  let value = 0n;
  let result: MemTxResult = 'ok';
  for (let i = 0; i < size; i += piece) {
    const v = normalize(r.ops!.read(offset + i, piece, attrs), piece);
    if (typeof v === 'string') {
      if (result === 'ok') result = v;
      continue;
    }
    const t = BigInt(v) & mask;
    // Negative shifts happen when widening a big-endian access: keep the high bytes.
    const shift = big ? (size - piece - i) * 8 : i * 8;
    value |= shift >= 0 ? t << BigInt(shift) : t >> BigInt(-shift);
  }
  if (result !== 'ok') return result;
  return size === 8 ? BigInt.asUintN(64, value) : Number(BigInt.asUintN(size * 8, value));
}

function writeAdjusted(
  r: FlatRange,
  offset: number,
  size: AccessSize,
  value: number | bigint,
  attrs: MemTxAttrs,
): MemTxResult {
  const rules = r.rules!;
  if (size >= rules.implMin && size <= rules.implMax) {
    return r.ops!.write(offset, size, value, attrs) ?? 'ok';
  }
  const piece = Math.max(Math.min(size, rules.implMax), rules.implMin) as AccessSize;
  const mask = (1n << BigInt(piece * 8)) - 1n;
  const big = rules.endianness === 'big';
  const v = typeof value === 'bigint' ? value : BigInt(value);
  let result: MemTxResult = 'ok';
  for (let i = 0; i < size; i += piece) {
    const shift = big ? (size - piece - i) * 8 : i * 8;
    const t = (shift >= 0 ? v >> BigInt(shift) : v << BigInt(-shift)) & mask;
    const r1 = r.ops!.write(offset + i, piece, piece === 8 ? t : Number(t), attrs) ?? 'ok';
    if (r1 !== 'ok' && result === 'ok') result = r1;
  }
  return result;
}

/** Brings what a callback returned to the access size's kind: number for <= 4, bigint for 8. */
function normalize(
  v: number | bigint | MemTxError,
  size: AccessSize,
): number | bigint | MemTxError {
  if (typeof v === 'number') {
    if (size === 4) return v >>> 0;
    if (size === 8) return Number.isFinite(v) ? BigInt.asUintN(64, BigInt(Math.trunc(v))) : 0n;
    return v & (size === 1 ? 0xff : 0xffff);
  }
  if (typeof v === 'bigint') {
    return size === 8 ? BigInt.asUintN(64, v) : Number(BigInt.asUintN(size * 8, v));
  }
  // A result string: the device refused. (`'ok'` or anything else is a device bug.)
  return typeof v === 'string' && (v as string) !== 'ok' ? v : 'access-error';
}

/** What a failed read leaves in the guest's buffer: all-ones for an absent (faulted) device. */
export function errorFillByte(e: MemTxError): number {
  return e === 'device-fault' ? 0xff : 0;
}
