/**
 * The kernel's DMAContext: one bus master's view of guest memory.
 *
 * A device's every DMA passes here: the bus-master gate (`blocked`), then the IOMMU bound to
 * the requester (if any) through this context's IOTLB, then the guest-physical address space,
 * where the usual flat-view dispatch (and the device guard, for peer-to-peer MMIO) applies.
 * The binding is indirect: the registry points `iommu` at whatever model is bound now, so the
 * handle a device holds stays valid across IOMMU swaps.
 *
 * A transfer stops at the first failing page or region and reports how far it got.
 */
import type {
  DMAContext,
  DmaAccess,
  DmaError,
  DmaMapping,
  DmaResult,
  DmaSgEntry,
  DmaSgResult,
  Endianness,
  GuestPhysAddr,
  IommuEntry,
  IommuFault,
  IommuRequest,
  Iova,
  MemTxAttrs,
  MemTxError,
} from '@emuhost/sdk';
import type { DeviceGuard } from '../guard.js';
import type { KernelHooks } from '../hooks.js';
import type { AddressSpace } from '../memory/address-space.js';
import { RANGE_RAM } from '../memory/flat-view.js';
import type { BounceBudget } from './bounce.js';
import type { IommuInstance } from './iommu-instance.js';
import { Iotlb } from './iotlb.js';
import { LiveMapping, type MappingOwner } from './mapping.js';
import { TRACE_BUILD } from './trace-build.js';

/** Who a context belongs to. */
export interface DmaRequester {
  /** The device's id. */
  readonly device: string;
  /** The bus (or platform) it masters: the unit IOMMUs are bound to. */
  readonly bus: string;
  /** PCI requester ID (bus << 8 | devfn) or the platform's stream ID. */
  readonly requesterId: number;
  /** The device's guard, so that DMA into its own registers is seen as re-entry. */
  readonly guard?: DeviceGuard;
}

type Blocked = null | 'bus-master-disabled' | 'revoked' | 'device-fault';

const permits = (perm: IommuEntry['perm'], access: DmaAccess) =>
  perm === 'read-write' || perm === access;

export class DmaContextImpl implements DMAContext, MappingOwner {
  readonly attrs: MemTxAttrs;
  /** Why DMA is refused right now, or null (derived from the three flags below). */
  blocked: Blocked = null;
  private master = true;
  private suspended = false;
  private revoked = false;
  /**
   * Whether the device asked to bypass the IOMMU (`DmaRegistry.setBypass`); the registry
   * then resolves this context to no IOMMU, whatever its bindings say.
   */
  bypass = false;
  /** The IOMMU translating this requester now, or null (identity). Set by the registry. */
  iommu: IommuInstance | null = null;
  readonly iotlb: Iotlb;
  readonly mappings = new Set<LiveMapping>();
  /** Whether the DMA trace hook has taps; the registry sets it on every context when tapped. */
  tracing = false;
  /** The entry used last: most DMA is sequential within a page. */
  private last: IommuEntry | null = null;
  private readonly request: IommuRequest;
  private readonly probeRequest: IommuRequest;
  private readonly scratch = new Uint8Array(8);
  private readonly scratchView = new DataView(this.scratch.buffer);

  constructor(
    readonly requester: DmaRequester,
    private readonly memory: AddressSpace<GuestPhysAddr>,
    private readonly bounce: BounceBudget,
    private readonly hooks: KernelHooks,
    iotlbCapacity?: number,
  ) {
    this.attrs = Object.freeze({ requesterId: requester.requesterId });
    this.request = Object.freeze({
      requesterId: requester.requesterId,
      device: requester.device,
      probe: false,
    });
    this.probeRequest = Object.freeze({ ...this.request, probe: true });
    this.iotlb = new Iotlb(iotlbCapacity);
  }

  // ---- bulk ----------------------------------------------------------------------------

  read(addr: Iova, into: Uint8Array): DmaResult {
    // The identity path is written out here, small enough for V8 to inline into callers.
    if (this.blocked === null && this.iommu === null) {
      const r = this.memory.read(addr as number as GuestPhysAddr, into, this.attrs);
      if (TRACE_BUILD && this.tracing) this.emit('read', addr, addr, into.length, r);
      return r === 'ok' ? 'ok' : this.error(r, addr, 0);
    }
    // So is the common translated case: one page, found in the IOTLB.
    const e = this.blocked === null ? this.cachedEntry(addr, into.length, 'read') : undefined;
    if (e !== undefined) {
      const gpa = (e.translated + (addr - e.iova)) as GuestPhysAddr;
      const r = this.memory.read(gpa, into, this.attrs);
      if (TRACE_BUILD && this.tracing) this.emit('read', addr, gpa, into.length, r);
      return r === 'ok' ? 'ok' : this.error(r, addr, 0);
    }
    return this.rw(addr, into, false);
  }

  write(addr: Iova, data: Uint8Array): DmaResult {
    if (this.blocked === null && this.iommu === null) {
      if (this.requester.guard?.engaged) this.journal(addr, data.length);
      const r = this.memory.write(addr as number as GuestPhysAddr, data, this.attrs);
      if (TRACE_BUILD && this.tracing) this.emit('write', addr, addr, data.length, r);
      return r === 'ok' ? 'ok' : this.error(r, addr, 0);
    }
    const e = this.blocked === null ? this.cachedEntry(addr, data.length, 'write') : undefined;
    if (e !== undefined) {
      const gpa = (e.translated + (addr - e.iova)) as GuestPhysAddr;
      if (this.requester.guard?.engaged) this.journal(gpa, data.length);
      const r = this.memory.write(gpa, data, this.attrs);
      if (TRACE_BUILD && this.tracing) this.emit('write', addr, gpa, data.length, r);
      return r === 'ok' ? 'ok' : this.error(r, addr, 0);
    }
    return this.rw(addr, data, true);
  }

  fill(addr: Iova, byte: number, len: number): DmaResult {
    if (this.blocked !== null) return this.error(this.blocked, addr, 0);
    if (this.iommu === null) {
      this.journal(addr, len);
      const r = this.memory.fill(addr as number as GuestPhysAddr, byte, len, this.attrs);
      if (TRACE_BUILD && this.tracing) this.emit('write', addr, addr, len, r);
      return r === 'ok' ? 'ok' : this.error(r, addr, 0);
    }
    if (!validRange(addr, len)) return this.error('decode-error', addr, 0);
    for (let done = 0; done < len; ) {
      const a = addr + done;
      const e = this.entryFor(a, 'write', false);
      if (e.kind === 'fault') return this.fault(e, a, 'write', done);
      const n = Math.min(len - done, e.iova + e.pageSize - a);
      const gpa = e.translated + (a - e.iova);
      this.journal(gpa, n);
      const r = this.memory.fill(gpa as GuestPhysAddr, byte, n, this.attrs);
      if (TRACE_BUILD && this.tracing) this.emit('write', a, gpa, n, r);
      if (r !== 'ok') return this.error(r, a, done);
      done += n;
    }
    return 'ok';
  }

  canAccess(addr: Iova, len: number, access: DmaAccess): boolean {
    if (this.blocked !== null || !validRange(addr, len)) return false;
    if (this.iommu === null)
      return this.memory.covers(addr as number as GuestPhysAddr, len, access === 'write');
    for (let done = 0; done < len; ) {
      const a = addr + done;
      const e = this.entryFor(a, access, true);
      if (e.kind === 'fault') return false;
      const n = Math.min(len - done, e.iova + e.pageSize - a);
      if (
        !this.memory.covers((e.translated + (a - e.iova)) as GuestPhysAddr, n, access === 'write')
      ) {
        return false;
      }
      done += n;
    }
    return true;
  }

  map(
    addr: Iova,
    len: number,
    access: DmaAccess,
    onInvalidate?: (m: DmaMapping) => void,
  ): DmaMapping | DmaError {
    if (this.blocked !== null) return this.error(this.blocked, addr, 0);
    if (!validRange(addr, len) || len === 0) return this.error('decode-error', addr, 0);
    // Translate the first page, then extend over pages that continue it contiguously.
    let gpa: number;
    let span: number;
    if (this.iommu === null) {
      gpa = addr;
      span = len;
    } else {
      const e = this.entryFor(addr, access, false);
      if (e.kind === 'fault') return this.fault(e, addr, access, 0);
      gpa = e.translated + (addr - e.iova);
      span = Math.min(len, e.iova + e.pageSize - addr);
      while (span < len) {
        const next = this.entryFor(addr + span, access, true);
        if (next.kind === 'fault' || next.translated !== gpa + span) break;
        span = Math.min(len, next.iova + next.pageSize - addr);
      }
    }
    const notify = this.guarded(onInvalidate);
    const isWrite = access === 'write';
    const r = this.memory.findRange(gpa as GuestPhysAddr, isWrite);
    if (r === null) return this.error('decode-error', addr, 0);
    const n = Math.min(span, r.end - gpa);
    let m: LiveMapping;
    // RAM maps directly; ROM only for reading (its writes are ignored, so a view would lie).
    if (r.bytes !== null && (r.kind === RANGE_RAM || !isWrite)) {
      const off = gpa - r.start;
      m = this.newMapping(r.bytes.subarray(off, off + n), addr, access, len, true, gpa, notify);
      // A direct write view bypasses every writer's notice: tell CPUs watching these pages
      // now (and again at release, for what they decoded meanwhile).
      if (isWrite && r.watch!.count !== 0) r.watch!.written(r.regionOffset + off, n);
    } else {
      const got = this.bounce.take(n);
      if (got === 0) return this.error('bounce-exhausted', addr, 0);
      const buf = new Uint8Array(got);
      if (!isWrite) {
        const res = this.memory.read(gpa as GuestPhysAddr, buf, this.attrs);
        if (res !== 'ok') {
          this.bounce.give(got);
          return this.error(res, addr, 0);
        }
      }
      m = this.newMapping(buf, addr, access, len, false, gpa, notify);
    }
    if (TRACE_BUILD && this.tracing) this.emit('map', addr, gpa, m.bytes.length, 'ok');
    return m;
  }

  /**
   * Hands the live mappings a previous holder left (see `disownMappings`) to a new one.
   * Returns the valid ones; invalid orphans are released here, since nobody could use them.
   */
  adoptMappings(onInvalidate?: (m: DmaMapping) => void): LiveMapping[] {
    const notify = this.guarded(onInvalidate);
    const out: LiveMapping[] = [];
    for (const m of [...this.mappings]) {
      if (!m.orphan) continue;
      if (m.valid) {
        m.adopt(notify);
        out.push(m);
      } else {
        m.release(0);
      }
    }
    return out;
  }

  /** @internal Ends a mapping: writes a bounce buffer back, returns its budget. */
  finishMapping(m: LiveMapping, written: number): DmaResult {
    this.mappings.delete(m);
    if (m.direct) {
      if (m.access === 'write' && written > 0) this.noteDirectWrite(m, written);
      return m.valid ? 'ok' : this.error('revoked', m.addr, 0);
    }
    this.bounce.give(m.bytes.length);
    if (!m.valid) return this.error('revoked', m.addr, 0);
    if (m.access !== 'write' || written <= 0) return 'ok';
    const n = Math.min(written, m.bytes.length);
    this.journal(m.translated, n);
    const r = this.memory.write(m.translated, m.bytes.subarray(0, n), this.attrs);
    return r === 'ok' ? 'ok' : this.error(r, m.addr, 0);
  }

  // ---- typed ---------------------------------------------------------------------------

  readU8(addr: Iova) {
    return this.load(addr, 1, 'little');
  }
  readU16LE(addr: Iova) {
    return this.load(addr, 2, 'little');
  }
  readU16BE(addr: Iova) {
    return this.load(addr, 2, 'big');
  }
  readU32LE(addr: Iova) {
    return this.load(addr, 4, 'little');
  }
  readU32BE(addr: Iova) {
    return this.load(addr, 4, 'big');
  }
  readU64LE(addr: Iova) {
    return this.load64(addr, 'little');
  }
  readU64BE(addr: Iova) {
    return this.load64(addr, 'big');
  }
  writeU8(addr: Iova, v: number) {
    return this.store(addr, 1, v, 'little');
  }
  writeU16LE(addr: Iova, v: number) {
    return this.store(addr, 2, v, 'little');
  }
  writeU16BE(addr: Iova, v: number) {
    return this.store(addr, 2, v, 'big');
  }
  writeU32LE(addr: Iova, v: number) {
    return this.store(addr, 4, v, 'little');
  }
  writeU32BE(addr: Iova, v: number) {
    return this.store(addr, 4, v, 'big');
  }
  writeU64LE(addr: Iova, v: bigint) {
    return this.store64(addr, v, 'little');
  }
  writeU64BE(addr: Iova, v: bigint) {
    return this.store64(addr, v, 'big');
  }

  // ---- scatter-gather ------------------------------------------------------------------

  readSg(sg: readonly DmaSgEntry[], into: Uint8Array): DmaSgResult {
    return this.sg(sg, into, false);
  }

  writeSg(sg: readonly DmaSgEntry[], data: Uint8Array): DmaSgResult {
    return this.sg(sg, data, true);
  }

  // ---- kernel side ---------------------------------------------------------------------

  /** Drops cached translations over a range and invalidates live mappings overlapping it. */
  invalidate(iova: number, len: number): { entries: number; mappings: number } {
    if (len <= 0) return { entries: 0, mappings: 0 };
    this.last = null;
    const entries = this.iotlb.invalidate(iova, len);
    let mappings = 0;
    const end = iova + len;
    for (const m of this.mappings) {
      if (m.valid && m.addr < end && iova < m.end) {
        m.invalidate();
        mappings++;
      }
    }
    return { entries, mappings };
  }

  /**
   * The instance holding this context's mappings is going away (hot reload, restart): they
   * stay mapped, without a holder, until the next instance adopts them.
   */
  disownMappings(): void {
    for (const m of this.mappings) m.disown();
  }

  /** Releases (writing nothing) the mappings nobody adopted. Returns how many. */
  releaseOrphans(): number {
    let n = 0;
    for (const m of [...this.mappings]) {
      if (m.orphan) {
        m.release(0);
        n++;
      }
    }
    return n;
  }

  /** Drops every cached translation (mappings are left to the caller). */
  flushIotlb(): number {
    this.last = null;
    return this.iotlb.flush();
  }

  /**
   * Points the context at another IOMMU (or none), keeping the live mappings whose IOVA
   * range still lands on the same guest-physical bytes under the new translation, and
   * invalidating the rest. Returns how many were invalidated.
   */
  rebind(iommu: IommuInstance | null): number {
    const old = this.iommu;
    const req = { requesterId: this.requester.requesterId, device: this.requester.device };
    old?.model.detach?.(req);
    this.iommu = iommu;
    iommu?.model.attach?.(req);
    return this.retranslate();
  }

  /**
   * Flushes the IOTLB and re-translates every live mapping through the current translation,
   * invalidating the ones that no longer land on the same bytes. Returns how many.
   */
  retranslate(): number {
    this.flushIotlb();
    let revoked = 0;
    for (const m of this.mappings) {
      if (m.valid && !this.stillLandsAt(m)) {
        m.invalidate();
        revoked++;
      }
    }
    return revoked;
  }

  /** Refuses all further DMA (device unplugged or quarantined); invalidates live mappings. */
  revoke(): void {
    this.revoked = true;
    this.updateBlocked();
    for (const m of this.mappings) {
      m.invalidate();
      // Nobody will release these now: end them here, so bounce budget is not lost.
      m.release(0);
    }
    this.flushIotlb();
  }

  /** PCI COMMAND.MASTER: with it clear the context refuses DMA. */
  setBusMaster(enabled: boolean): void {
    this.master = enabled;
    this.updateBlocked();
  }

  /**
   * The device was quarantined: DMA is refused (`device-fault`) and live mappings are
   * invalidated and released, until `resume` (the device restarted).
   */
  suspend(): void {
    this.suspended = true;
    this.updateBlocked();
    for (const m of this.mappings) {
      m.invalidate();
      m.release(0);
    }
  }

  resume(): void {
    this.suspended = false;
    this.updateBlocked();
  }

  private updateBlocked(): void {
    this.blocked = this.revoked
      ? 'revoked'
      : this.suspended
        ? 'device-fault'
        : this.master
          ? null
          : 'bus-master-disabled';
  }

  // ---- internals -----------------------------------------------------------------------

  /**
   * The refused or translated path of read and write (the identity path never gets here);
   * typed accesses that straddle IOMMU pages use it too.
   */
  private rw(addr: Iova, buf: Uint8Array, isWrite: boolean): DmaResult {
    if (this.blocked !== null) return this.error(this.blocked, addr, 0);
    const len = buf.length;
    if (!validRange(addr, len)) return this.error('decode-error', addr, 0);
    const access: DmaAccess = isWrite ? 'write' : 'read';
    for (let done = 0; done < len; ) {
      const a = addr + done;
      const e = this.entryFor(a, access, false);
      if (e.kind === 'fault') return this.fault(e, a, access, done);
      const n = Math.min(len - done, e.iova + e.pageSize - a);
      const part = n === len ? buf : buf.subarray(done, done + n);
      const gpa = (e.translated + (a - e.iova)) as GuestPhysAddr;
      if (isWrite) this.journal(gpa, n);
      const r = isWrite
        ? this.memory.write(gpa, part, this.attrs)
        : this.memory.read(gpa, part, this.attrs);
      if (TRACE_BUILD && this.tracing) this.emit(access, a, gpa, n, r);
      if (r !== 'ok') return this.error(r, a, done);
      done += n;
    }
    return 'ok';
  }

  private load(addr: Iova, size: 1 | 2 | 4, endian: Endianness): number | DmaError {
    if (this.blocked !== null) return this.error(this.blocked, addr, 0);
    let gpa: number = addr;
    if (this.iommu !== null) {
      const e = this.entryFor(addr, 'read', false);
      if (e.kind === 'fault') return this.fault(e, addr, 'read', 0);
      if (addr + size > e.iova + e.pageSize) return this.loadSplit(addr, size, endian);
      gpa = e.translated + (addr - e.iova);
    }
    const v = this.memory.load(gpa as GuestPhysAddr, size, endian, this.attrs);
    if (TRACE_BUILD && this.tracing)
      this.emit('read', addr, gpa, size, typeof v === 'number' ? 'ok' : v);
    return typeof v === 'number' ? v : this.error(v, addr, 0);
  }

  private load64(addr: Iova, endian: Endianness): bigint | DmaError {
    if (this.blocked !== null) return this.error(this.blocked, addr, 0);
    let gpa: number = addr;
    if (this.iommu !== null) {
      const e = this.entryFor(addr, 'read', false);
      if (e.kind === 'fault') return this.fault(e, addr, 'read', 0);
      if (addr + 8 > e.iova + e.pageSize) {
        const r = this.rw(addr, this.scratch, false);
        return r === 'ok' ? this.scratchView.getBigUint64(0, endian === 'little') : r;
      }
      gpa = e.translated + (addr - e.iova);
    }
    const v = this.memory.load64(gpa as GuestPhysAddr, endian, this.attrs);
    if (TRACE_BUILD && this.tracing)
      this.emit('read', addr, gpa, 8, typeof v === 'bigint' ? 'ok' : v);
    return typeof v === 'bigint' ? v : this.error(v, addr, 0);
  }

  /** A typed load that straddles two IOMMU pages: assembled from a translated bulk read. */
  private loadSplit(addr: Iova, size: 1 | 2 | 4, endian: Endianness): number | DmaError {
    const r = this.rw(addr, this.scratch.subarray(0, size), false);
    if (r !== 'ok') return r;
    const le = endian === 'little';
    const d = this.scratchView;
    return size === 4 ? d.getUint32(0, le) : size === 2 ? d.getUint16(0, le) : d.getUint8(0);
  }

  private store(addr: Iova, size: 1 | 2 | 4, value: number, endian: Endianness): DmaResult {
    if (this.blocked !== null) return this.error(this.blocked, addr, 0);
    let gpa: number = addr;
    if (this.iommu !== null) {
      const e = this.entryFor(addr, 'write', false);
      if (e.kind === 'fault') return this.fault(e, addr, 'write', 0);
      if (addr + size > e.iova + e.pageSize) {
        const b = new Uint8Array(size);
        const d = new DataView(b.buffer);
        const le = endian === 'little';
        if (size === 4) d.setUint32(0, value >>> 0, le);
        else if (size === 2) d.setUint16(0, value & 0xffff, le);
        else d.setUint8(0, value & 0xff);
        return this.rw(addr, b, true);
      }
      gpa = e.translated + (addr - e.iova);
    }
    this.journal(gpa, size);
    const r = this.memory.store(gpa as GuestPhysAddr, size, value, endian, this.attrs);
    if (TRACE_BUILD && this.tracing) this.emit('write', addr, gpa, size, r);
    return r === 'ok' ? 'ok' : this.error(r, addr, 0);
  }

  private store64(addr: Iova, value: bigint, endian: Endianness): DmaResult {
    if (this.blocked !== null) return this.error(this.blocked, addr, 0);
    let gpa: number = addr;
    if (this.iommu !== null) {
      const e = this.entryFor(addr, 'write', false);
      if (e.kind === 'fault') return this.fault(e, addr, 'write', 0);
      if (addr + 8 > e.iova + e.pageSize) {
        const b = new Uint8Array(8);
        new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, value), endian === 'little');
        return this.rw(addr, b, true);
      }
      gpa = e.translated + (addr - e.iova);
    }
    this.journal(gpa, 8);
    const r = this.memory.store64(gpa as GuestPhysAddr, value, endian, this.attrs);
    if (TRACE_BUILD && this.tracing) this.emit('write', addr, gpa, 8, r);
    return r === 'ok' ? 'ok' : this.error(r, addr, 0);
  }

  private sg(sg: readonly DmaSgEntry[], buf: Uint8Array, isWrite: boolean): DmaSgResult {
    let total = 0;
    for (const e of sg) total += e.len;
    let done = 0;
    let result: DmaResult = 'ok';
    for (const e of sg) {
      if (done >= buf.length) break;
      const n = Math.min(e.len, buf.length - done);
      const part = buf.subarray(done, done + n);
      const r = isWrite ? this.write(e.addr, part) : this.read(e.addr, part);
      if (r !== 'ok') {
        result = { ...r, completed: done + r.completed };
        done += r.completed;
        break;
      }
      done += n;
    }
    return { result, transferred: done, residual: total - done };
  }

  /**
   * The cached translation of the page containing `a` if it permits `access`: the last entry,
   * else the IOTLB (counted as a hit, and remembered as the last). Undefined otherwise.
   */
  private cached(a: number, access: DmaAccess): IommuEntry | undefined {
    const l = this.last;
    if (l !== null && a >= l.iova && a < l.iova + l.pageSize && permits(l.perm, access)) return l;
    const e = this.iotlb.lookup(a);
    if (e === undefined || !permits(e.perm, access)) return undefined;
    this.iotlb.hits++;
    this.last = e;
    return e;
  }

  /**
   * The cached entry that covers all of [a, a + len) and permits `access`, or undefined (a
   * miss, a page boundary, a bad address: the general path sorts those out).
   */
  private cachedEntry(a: number, len: number, access: DmaAccess): IommuEntry | undefined {
    const e = this.cached(a, access);
    return e !== undefined && a + len <= e.iova + e.pageSize && Number.isSafeInteger(a)
      ? e
      : undefined;
  }

  /**
   * The translation for the page containing `a`: the last entry, else the IOTLB, else the
   * model. A cached entry that does not permit the access is re-translated, because the
   * model may have widened it without telling (widening needs no invalidation).
   */
  private entryFor(a: number, access: DmaAccess, probe: boolean): IommuEntry | IommuFault {
    const cached = this.cached(a, access);
    if (cached !== undefined) return cached;
    const tlb = this.iotlb;
    tlb.misses++;
    const e = this.iommu!.translate(a, access, probe ? this.probeRequest : this.request);
    if (e.kind === 'fault') return e;
    tlb.insert(e);
    if (!permits(e.perm, access)) {
      // The fresh entry replaced whatever `last` cached for this page in the IOTLB; drop
      // `last` too, so the next access sees what the IOTLB holds.
      this.last = null;
      return { kind: 'fault', reason: 'permission', detail: `${e.perm} mapping, ${access} access` };
    }
    this.last = e;
    return e;
  }

  /**
   * Keeps the guest RAM a write is about to overwrite, while the device is inside one of its
   * callbacks, so that a callback that then throws leaves guest memory as it was. Only RAM is
   * journaled: a write into another device's registers cannot be undone.
   */
  private journal(gpa: number, len: number): void {
    const g = this.requester.guard;
    if (g === undefined || !g.engaged || len <= 0) return;
    for (let a = gpa; a < gpa + len; ) {
      const r = this.memory.findRange(a as GuestPhysAddr, true);
      if (r === null) return;
      const n = Math.min(gpa + len, r.end) - a;
      if (r.kind === RANGE_RAM) g.journal.save(r.bytes!, a - r.start, n);
      a += n;
    }
  }

  /** Tells CPUs watching pages of a direct write mapping that the device wrote them. */
  private noteDirectWrite(m: LiveMapping, written: number): void {
    const r = this.memory.findRange(m.translated, true);
    if (r?.watch == null || r.watch.count === 0) return;
    r.watch.written(r.regionOffset + (m.translated - r.start), Math.min(written, m.bytes.length));
  }

  private stillLandsAt(m: LiveMapping): boolean {
    if (this.iommu === null) return (m.translated as number) === (m.addr as number);
    for (let done = 0; done < m.bytes.length; ) {
      const a = m.addr + done;
      const e = this.entryFor(a, m.access, true);
      if (e.kind === 'fault' || e.translated + (a - e.iova) !== m.translated + done) return false;
      done += e.iova + e.pageSize - a;
    }
    return true;
  }

  /** A holder's notifier is device code: it runs under the device's guard. */
  private guarded(
    onInvalidate: ((m: DmaMapping) => void) | undefined,
  ): ((m: DmaMapping) => void) | undefined {
    const g = this.requester.guard;
    return onInvalidate !== undefined && g !== undefined
      ? (m: DmaMapping) =>
          void g.run(
            'dma',
            () => onInvalidate(m),
            `the notifier of mapping 0x${m.addr.toString(16)}+0x${m.bytes.length.toString(16)}`,
          )
      : onInvalidate;
  }

  private newMapping(
    bytes: Uint8Array,
    addr: Iova,
    access: DmaAccess,
    asked: number,
    direct: boolean,
    gpa: number,
    onInvalidate: ((m: DmaMapping) => void) | undefined,
  ): LiveMapping {
    const m = new LiveMapping(
      this,
      bytes,
      addr,
      access,
      asked - bytes.length,
      direct,
      gpa as GuestPhysAddr,
      onInvalidate,
    );
    this.mappings.add(m);
    return m;
  }

  private fault(f: IommuFault, a: number, access: DmaAccess, completed: number): DmaError {
    const mmu = this.iommu!;
    const ev = {
      iommu: mmu.name,
      device: this.requester.device,
      requesterId: this.requester.requesterId,
      iova: a,
      access,
      reason: f.reason,
      ...(f.detail !== undefined && { detail: f.detail }),
    };
    mmu.recordFault(ev);
    this.hooks.iommu.fault.call(ev);
    if (TRACE_BUILD && this.tracing) this.emit(access, a, -1, 0, 'iommu-fault');
    return { result: 'iommu-fault', reason: f.reason, addr: a as Iova, completed };
  }

  private error(
    result: MemTxError | 'bounce-exhausted',
    addr: number,
    completed: number,
  ): DmaError {
    return { result, addr: addr as Iova, completed };
  }

  private emit(
    access: DmaAccess | 'map',
    iova: number,
    translated: number,
    len: number,
    result: 'ok' | MemTxError | 'bounce-exhausted',
  ): void {
    this.hooks.dma.transfer.call({
      device: this.requester.device,
      requesterId: this.requester.requesterId,
      access,
      iova,
      translated,
      len,
      result,
      iommu: this.iommu?.name ?? null,
    });
  }
}

function validRange(addr: number, len: number): boolean {
  return Number.isSafeInteger(addr) && addr >= 0 && len >= 0 && addr + len <= 2 ** 53;
}
