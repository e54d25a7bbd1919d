/**
 * An address space: a root region as one kind of initiator sees it (the CPU's memory, x86
 * port I/O, or the view behind an IOMMU), with the accessors everything else uses.
 *
 * Every accessor returns a result and never throws for what the guest did: unassigned
 * addresses are `decode-error`, refused sizes `access-error`. Bulk accesses cross region
 * boundaries freely; each part is done, and the first failure is the result (QEMU ORs them).
 * Reads of a failed part leave zeroes (all-ones for a quarantined device).
 *
 * The per-access path is direct: a most-recently-used range per direction, else a binary
 * search of the flat view. The flat views are replaced (never edited) on re-render.
 */
import type { AccessSize, Endianness, MemTxAttrs, MemTxError, MemTxResult } from '@emuhost/sdk';
import { type FlatRange, type FlatView, RANGE_ROM } from './flat-view.js';
import { bulkPieceSize, errorFillByte, mmioRead, mmioWrite } from './mmio.js';
import type { MemoryRegion } from './region.js';
import { hasDirectionalDecode, renderFlatView } from './render.js';
import { ViewCache } from './view-cache.js';

/** The attributes of an access made by the CPU side (qtest, the driver API). */
export const CPU_ATTRS: MemTxAttrs = Object.freeze({ unspecified: true });

export class AddressSpace<A extends number = number> {
  private rview!: FlatView;
  private wview!: FlatView;
  private lastR!: FlatRange;
  private lastW!: FlatRange;
  /** Bumped on every re-render; holders of derived state compare it. */
  version = 0;
  private readonly views = new ViewCache();

  constructor(
    readonly name: string,
    readonly root: MemoryRegion,
    private readonly sentinel: FlatRange,
  ) {
    this.render();
  }

  /** Re-renders the flat views from the tree; called by the memory system after changes. */
  render(): void {
    this.rview = renderFlatView(this.root, 'read');
    this.wview = hasDirectionalDecode(this.root) ? renderFlatView(this.root, 'write') : this.rview;
    this.lastR = this.sentinel;
    this.lastW = this.sentinel;
    this.version++;
  }

  /** The flat view for one direction, for `info mtree` style views. */
  flatView(dir: 'read' | 'write' = 'read'): FlatView {
    return dir === 'read' ? this.rview : this.wview;
  }

  /** The range that answers `addr` in this direction, or null. */
  findRange(addr: A, isWrite: boolean): FlatRange | null {
    return (isWrite ? this.wview : this.rview).find(addr);
  }

  /**
   * Whether every byte of [addr, addr + len) is mapped for this direction (nothing is
   * accessed); unassigned memory (a bus's master-abort background) is not.
   */
  covers(addr: A, len: number, isWrite: boolean): boolean {
    const view = isWrite ? this.wview : this.rview;
    for (let a: number = addr; a < addr + len; ) {
      const r = validAddr(a) ? view.find(a) : null;
      if (r === null || r.unassigned) return false;
      a = r.end;
    }
    return true;
  }

  // ---- bulk ----------------------------------------------------------------------------

  /** Copies `into.length` bytes at `addr` into `into` (QEMU's address_space_read). */
  read(addr: A, into: Uint8Array, attrs: MemTxAttrs = CPU_ATTRS): MemTxResult {
    const len = into.length;
    const r = this.lastR;
    const b = r.buffer;
    if (r.start <= addr && addr + len <= r.end && b !== null) {
      into.set(this.views.view(b, r.byteOffset + (addr - r.start), len));
      return 'ok';
    }
    return len === 0 ? 'ok' : this.readSlow(addr, into, attrs);
  }

  /** Copies `data` into guest memory at `addr` (QEMU's address_space_write). */
  write(addr: A, data: Uint8Array, attrs: MemTxAttrs = CPU_ATTRS): MemTxResult {
    const len = data.length;
    const r = this.lastW;
    if (r.start <= addr && addr + len <= r.end && r.bytes !== null) {
      if (r.kind !== RANGE_ROM) {
        r.bytes.set(data, addr - r.start);
        if (r.watch!.count !== 0) r.watch!.written(r.regionOffset + (addr - r.start), len);
      }
      return 'ok';
    }
    return len === 0 ? 'ok' : this.writeSlow(addr, data, attrs);
  }

  /** Sets `len` bytes at `addr` to `byte` (QEMU's address_space_set). */
  fill(addr: A, byte: number, len: number, attrs: MemTxAttrs = CPU_ATTRS): MemTxResult {
    const r = this.lastW;
    if (r.start <= addr && addr + len <= r.end && r.bytes !== null) {
      if (r.kind !== RANGE_ROM) {
        r.bytes.fill(byte, addr - r.start, addr - r.start + len);
        if (r.watch!.count !== 0) r.watch!.written(r.regionOffset + (addr - r.start), len);
      }
      return 'ok';
    }
    return len <= 0 ? 'ok' : this.fillSlow(addr, byte & 0xff, len, attrs);
  }

  // ---- typed ---------------------------------------------------------------------------

  /**
   * Loads a 1, 2 or 4-byte value (QEMU's address_space_ldub/lduw/ldl). An MMIO target gets
   * one access of `size` bytes; a load that straddles ranges is assembled from a bulk read.
   */
  load(
    addr: A,
    size: 1 | 2 | 4,
    endian: Endianness = 'little',
    attrs = CPU_ATTRS,
  ): number | MemTxError {
    let r = this.lastR;
    if (!(r.start <= addr && addr + size <= r.end)) {
      const f = this.rview.find(addr);
      if (f === null || addr + size > f.end) return this.loadSlow(addr, size, endian, attrs);
      r = this.lastR = f;
    }
    const off = addr - r.start;
    const v = r.view;
    if (v !== null) {
      return size === 4
        ? v.getUint32(off, endian === 'little')
        : size === 1
          ? v.getUint8(off)
          : v.getUint16(off, endian === 'little');
    }
    return this.loadMmio(r, r.regionOffset + off, size, endian, attrs);
  }

  /**
   * An MMIO load. The common case (an aligned access the device implements as is, its device
   * not engaged) is written out here rather than through `mmioRead`, because this is the
   * per-access path of every register read; everything else takes `mmioRead`.
   */
  private loadMmio(
    r: FlatRange,
    ro: number,
    size: 1 | 2 | 4,
    endian: Endianness,
    attrs: MemTxAttrs,
  ) {
    const g = r.guard;
    let x: number | bigint | MemTxError;
    if (
      (r.fastSizes & size) !== 0 &&
      (ro & (size - 1)) === 0 &&
      g !== null &&
      !g.engaged &&
      !g.quarantined &&
      g.armed === null
    ) {
      g.engaged = true;
      try {
        x = r.ops!.read(ro, size, attrs);
      } catch (e) {
        g.fault('mmio-read', e, { region: r.region.name, offset: ro });
        return 'device-fault';
      } finally {
        g.engaged = false;
        if (g.journal.length !== 0) g.journal.clear();
      }
      if (typeof x === 'string') return (x as string) === 'ok' ? 'access-error' : x;
      const n = typeof x === 'number' ? x : Number(BigInt.asUintN(32, x));
      const v = size === 4 ? n >>> 0 : n & (size === 1 ? 0xff : 0xffff);
      return r.rules!.endianness === endian ? v : bswap(v, size);
    }
    x = mmioRead(r, ro, size, attrs);
    if (typeof x === 'string') return x;
    return r.rules!.endianness === endian ? (x as number) : bswap(x as number, size);
  }

  /** Loads an 8-byte value (QEMU's address_space_ldq). */
  load64(addr: A, endian: Endianness = 'little', attrs = CPU_ATTRS): bigint | MemTxError {
    let r = this.lastR;
    if (!(r.start <= addr && addr + 8 <= r.end)) {
      const f = this.rview.find(addr);
      if (f === null || addr + 8 > f.end) {
        // A fresh buffer, not a shared one: the pieces may be MMIO of devices whose callbacks
        // make accesses of their own to this address space.
        const b = new Uint8Array(8);
        const res = this.readSlow(addr, b, attrs);
        return res === 'ok' ? new DataView(b.buffer).getBigUint64(0, endian === 'little') : res;
      }
      r = this.lastR = f;
    }
    const off = addr - r.start;
    if (r.view !== null) return r.view.getBigUint64(off, endian === 'little');
    const x = mmioRead(r, r.regionOffset + off, 8, attrs);
    if (typeof x === 'string') return x;
    return r.rules!.endianness === endian ? (x as bigint) : bswap64(x as bigint);
  }

  /** Stores a 1, 2 or 4-byte value (QEMU's address_space_stb/stw/stl). */
  store(
    addr: A,
    size: 1 | 2 | 4,
    value: number,
    endian: Endianness = 'little',
    attrs = CPU_ATTRS,
  ): MemTxResult {
    let r = this.lastW;
    if (!(r.start <= addr && addr + size <= r.end)) {
      const f = this.wview.find(addr);
      if (f === null || addr + size > f.end)
        return this.storeSlow(addr, size, value, endian, attrs);
      r = this.lastW = f;
    }
    const off = addr - r.start;
    const v = r.view;
    if (v !== null) {
      if (r.kind === RANGE_ROM) return 'ok';
      if (size === 4) v.setUint32(off, value, endian === 'little');
      else if (size === 1) v.setUint8(off, value);
      else v.setUint16(off, value, endian === 'little');
      if (r.watch!.count !== 0) r.watch!.written(r.regionOffset + off, size);
      return 'ok';
    }
    const n = truncate(value, size);
    return mmioWrite(
      r,
      r.regionOffset + off,
      size,
      r.rules!.endianness === endian ? n : bswap(n, size),
      attrs,
    );
  }

  /** Stores an 8-byte value (QEMU's address_space_stq). */
  store64(addr: A, value: bigint, endian: Endianness = 'little', attrs = CPU_ATTRS): MemTxResult {
    let r = this.lastW;
    if (!(r.start <= addr && addr + 8 <= r.end)) {
      const f = this.wview.find(addr);
      if (f === null || addr + 8 > f.end) {
        const b = new Uint8Array(8);
        new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, value), endian === 'little');
        return this.writeSlow(addr, b, attrs);
      }
      r = this.lastW = f;
    }
    const off = addr - r.start;
    if (r.view !== null) {
      if (r.kind !== RANGE_ROM) {
        r.view.setBigUint64(off, BigInt.asUintN(64, value), endian === 'little');
        if (r.watch!.count !== 0) r.watch!.written(r.regionOffset + off, 8);
      }
      return 'ok';
    }
    const v = BigInt.asUintN(64, value);
    return mmioWrite(
      r,
      r.regionOffset + off,
      8,
      r.rules!.endianness === endian ? v : bswap64(v),
      attrs,
    );
  }

  /**
   * Writes `data` at `addr` whatever is mapped there, ROM included (QEMU's ROM loader: how a
   * machine places firmware, a kernel or a device tree). MMIO gets ordinary writes.
   */
  loadImage(addr: A, data: Uint8Array): MemTxResult {
    let result: MemTxResult = 'ok';
    for (let done = 0; done < data.length; ) {
      const a = addr + done;
      const r = validAddr(a) ? this.wview.find(a) : null;
      if (r === null) return 'decode-error';
      const n = Math.min(data.length - done, r.end - a);
      if (r.kind === RANGE_ROM) {
        r.bytes!.set(data.subarray(done, done + n), a - r.start);
        if (r.watch!.count !== 0) r.watch!.written(r.regionOffset + (a - r.start), n);
      } else {
        const res = this.write(a as A, data.subarray(done, done + n));
        if (res !== 'ok' && result === 'ok') result = res;
      }
      done += n;
    }
    return result;
  }

  // ---- slow paths ----------------------------------------------------------------------

  private readSlow(addr: number, into: Uint8Array, attrs: MemTxAttrs): MemTxResult {
    const len = into.length;
    let result: MemTxResult = 'ok';
    let done = 0;
    while (done < len) {
      const a = addr + done;
      const r = validAddr(a) ? this.rview.find(a) : null;
      if (r === null) {
        const n = Math.min(len - done, validAddr(a) ? this.rview.nextStart(a) - a : len - done);
        into.fill(0, done, done + n);
        if (result === 'ok') result = 'decode-error';
        done += n;
        continue;
      }
      this.lastR = r;
      const n = Math.min(len - done, r.end - a);
      if (r.bytes !== null) {
        into.set(r.bytes.subarray(a - r.start, a - r.start + n), done);
      } else {
        const res = readMmioBytes(r, r.regionOffset + (a - r.start), into, done, n, attrs);
        if (res !== 'ok' && result === 'ok') result = res;
      }
      done += n;
    }
    return result;
  }

  private writeSlow(addr: number, data: Uint8Array, attrs: MemTxAttrs): MemTxResult {
    const len = data.length;
    let result: MemTxResult = 'ok';
    let done = 0;
    while (done < len) {
      const a = addr + done;
      const r = validAddr(a) ? this.wview.find(a) : null;
      if (r === null) {
        done += Math.min(len - done, validAddr(a) ? this.wview.nextStart(a) - a : len - done);
        if (result === 'ok') result = 'decode-error';
        continue;
      }
      this.lastW = r;
      const n = Math.min(len - done, r.end - a);
      if (r.bytes !== null) {
        if (r.kind !== RANGE_ROM) {
          r.bytes.set(data.subarray(done, done + n), a - r.start);
          if (r.watch!.count !== 0) r.watch!.written(r.regionOffset + (a - r.start), n);
        }
      } else {
        const res = writeMmioBytes(r, r.regionOffset + (a - r.start), data, done, n, attrs);
        if (res !== 'ok' && result === 'ok') result = res;
      }
      done += n;
    }
    return result;
  }

  private fillSlow(addr: number, byte: number, len: number, attrs: MemTxAttrs): MemTxResult {
    let result: MemTxResult = 'ok';
    let done = 0;
    let pattern: Uint8Array | undefined;
    while (done < len) {
      const a = addr + done;
      const r = validAddr(a) ? this.wview.find(a) : null;
      if (r === null) {
        // A hole is skipped in one step, however long: a huge fill of nothing ends at once.
        done += Math.min(len - done, validAddr(a) ? this.wview.nextStart(a) - a : len - done);
        if (result === 'ok') result = 'decode-error';
        continue;
      }
      const n = Math.min(len - done, r.end - a);
      if (r.bytes !== null) {
        if (r.kind !== RANGE_ROM) {
          r.bytes.fill(byte, a - r.start, a - r.start + n);
          if (r.watch!.count !== 0) r.watch!.written(r.regionOffset + (a - r.start), n);
        }
      } else {
        // MMIO takes the pattern in bounded pieces, so a huge fill never allocates its length.
        pattern ??= new Uint8Array(4096).fill(byte);
        for (let k = 0; k < n; k += pattern.length) {
          const m = Math.min(pattern.length, n - k);
          const off = r.regionOffset + (a - r.start) + k;
          const res = writeMmioBytes(r, off, pattern, 0, m, attrs);
          if (res !== 'ok' && result === 'ok') result = res;
        }
      }
      done += n;
    }
    return result;
  }

  private loadSlow(addr: number, size: 1 | 2 | 4, endian: Endianness, attrs: MemTxAttrs) {
    const b = new Uint8Array(size); // fresh: see load64
    const res = this.readSlow(addr, b, attrs);
    if (res !== 'ok') return res;
    const le = endian === 'little';
    const v = new DataView(b.buffer);
    return size === 4 ? v.getUint32(0, le) : size === 2 ? v.getUint16(0, le) : v.getUint8(0);
  }

  private storeSlow(
    addr: number,
    size: 1 | 2 | 4,
    value: number,
    endian: Endianness,
    attrs: MemTxAttrs,
  ) {
    const b = new Uint8Array(size);
    const dv = new DataView(b.buffer);
    const le = endian === 'little';
    if (size === 4) dv.setUint32(0, value >>> 0, le);
    else if (size === 2) dv.setUint16(0, value & 0xffff, le);
    else dv.setUint8(0, value & 0xff);
    return this.writeSlow(addr, b, attrs);
  }
}

function validAddr(a: number): boolean {
  return Number.isSafeInteger(a) && a >= 0;
}

/** Reads `n` bytes of an MMIO range into `into[pos..]`, in QEMU's bulk pieces. */
function readMmioBytes(
  r: FlatRange,
  offset: number,
  into: Uint8Array,
  pos: number,
  n: number,
  attrs: MemTxAttrs,
): MemTxResult {
  const rules = r.rules!;
  const little = rules.endianness === 'little';
  let result: MemTxResult = 'ok';
  while (n > 0) {
    const l = bulkPieceSize(rules, n, offset);
    const v = mmioRead(r, offset, l, attrs);
    if (typeof v === 'string') {
      into.fill(errorFillByte(v), pos, pos + l);
      if (result === 'ok') result = v;
    } else {
      putBytes(into, pos, l, v, little);
    }
    offset += l;
    pos += l;
    n -= l;
  }
  return result;
}

function writeMmioBytes(
  r: FlatRange,
  offset: number,
  data: Uint8Array,
  pos: number,
  n: number,
  attrs: MemTxAttrs,
): MemTxResult {
  const rules = r.rules!;
  const little = rules.endianness === 'little';
  let result: MemTxResult = 'ok';
  while (n > 0) {
    const l = bulkPieceSize(rules, n, offset);
    const res = mmioWrite(r, offset, l, getBytes(data, pos, l, little), attrs);
    if (res !== 'ok' && result === 'ok') result = res;
    offset += l;
    pos += l;
    n -= l;
  }
  return result;
}

function putBytes(b: Uint8Array, pos: number, l: number, v: number | bigint, little: boolean) {
  if (l === 8) {
    const x = v as bigint;
    const lo = Number(x & 0xffffffffn);
    const hi = Number(x >> 32n);
    putBytes(b, little ? pos : pos + 4, 4, lo, little);
    putBytes(b, little ? pos + 4 : pos, 4, hi, little);
    return;
  }
  const n = v as number;
  for (let i = 0; i < l; i++) b[pos + (little ? i : l - 1 - i)] = (n >>> (8 * i)) & 0xff;
}

function getBytes(b: Uint8Array, pos: number, l: number, little: boolean): number | bigint {
  if (l === 8) {
    const lo = BigInt(getBytes(b, little ? pos : pos + 4, 4, little) as number);
    const hi = BigInt(getBytes(b, little ? pos + 4 : pos, 4, little) as number);
    return (hi << 32n) | lo;
  }
  let n = 0;
  for (let i = 0; i < l; i++) n += b[pos + (little ? i : l - 1 - i)]! * 2 ** (8 * i);
  return n;
}

function truncate(v: number, size: 1 | 2 | 4): number {
  return size === 4 ? v >>> 0 : size === 2 ? v & 0xffff : v & 0xff;
}

export function bswap(v: number, size: AccessSize): number {
  if (size === 1) return v;
  if (size === 2) return ((v & 0xff) << 8) | ((v >>> 8) & 0xff);
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}

export function bswap64(v: bigint): bigint {
  const lo = Number(v & 0xffffffffn);
  const hi = Number(v >> 32n);
  return (BigInt(bswap(lo, 4)) << 32n) | BigInt(bswap(hi, 4));
}
