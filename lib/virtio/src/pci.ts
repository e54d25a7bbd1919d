/**
 * The virtio-pci transport, modern interface only (virtio 1.2, 4.1), laid out as QEMU lays
 * it out: vendor-specific capabilities point into a 64-bit prefetchable memory BAR 4 of
 * 16 KiB holding the common configuration (0x0000), the ISR (0x1000), the device
 * configuration (0x2000) and the notification area (0x3000, 4 bytes per queue), plus a
 * VIRTIO_PCI_CAP_PCI_CFG window into them through config space; MSI-X (table and PBA) in
 * BAR 1 where the machine has MSI, INTx otherwise.
 *
 * Legacy (the I/O BAR 0 interface of virtio 0.9) is not implemented: the device is what QEMU
 * makes with `disable-legacy=on` (device id 0x1040 + type, revision 1), whatever bus it is
 * on. Accesses follow QEMU's region rules: 1, 2 or 4 bytes (wider ones are split), fields
 * decoded by their exact offset.
 */
import type { DeviceContext, MsixHandle, MsixState, PciHandle } from '@emuhost/sdk';
import { NO_VECTOR } from './constants.js';
import type { VirtioCore, VirtioSignals } from './core.js';

/** virtio_pci_cap cfg_type values (4.1.4). */
export const CAP = { COMMON: 1, NOTIFY: 2, ISR: 3, DEVICE: 4, PCI_CFG: 5 } as const;
/** BAR 4's layout. */
export const BAR = 4;
export const REGION = { COMMON: 0x0000, ISR: 0x1000, DEVICE: 0x2000, NOTIFY: 0x3000 } as const;
export const BAR_SIZE = 0x4000;
/** Bytes between two queues' notification addresses (notify_off_multiplier). */
export const NOTIFY_MULTIPLIER = 4;
export const MSIX_BAR = 1;

/** struct virtio_pci_common_cfg offsets (4.1.4.3). */
export const COMMON = {
  DFSELECT: 0x00,
  DF: 0x04,
  GFSELECT: 0x08,
  GF: 0x0c,
  MSIX: 0x10,
  NUMQ: 0x12,
  STATUS: 0x14,
  CFGGENERATION: 0x15,
  Q_SELECT: 0x16,
  Q_SIZE: 0x18,
  Q_MSIX: 0x1a,
  Q_ENABLE: 0x1c,
  Q_NOFF: 0x1e,
  Q_DESCLO: 0x20,
  Q_DESCHI: 0x24,
  Q_AVAILLO: 0x28,
  Q_AVAILHI: 0x2c,
  Q_USEDLO: 0x30,
  Q_USEDHI: 0x34,
  Q_NDATA: 0x38,
  Q_RESET: 0x3a,
} as const;

export interface PciTransportState {
  readonly dfselect: number;
  readonly gfselect: number;
  readonly queueSel: number;
  readonly configVector: number;
  readonly queueVectors: readonly number[];
  /** Per queue: the desc, driver and device addresses as the guest wrote them (lo, hi). */
  readonly addrs: readonly (readonly number[])[];
  /** The MSI-X table and pending bits, when the function has MSI-X. */
  readonly msix?: MsixState;
}

export class PciTransport implements VirtioSignals {
  private dfselect = 0;
  private gfselect = 0;
  private queueSel = 0;
  private configVector = NO_VECTOR;
  private readonly queueVectors: number[];
  /** Queue addresses as written, 6 words per queue (desc lo/hi, driver lo/hi, device lo/hi). */
  private readonly addrs: number[][];
  private readonly msix: MsixHandle | undefined;
  private readonly pci: PciHandle;
  private readonly cfgCap: number;

  constructor(
    private readonly ctx: DeviceContext,
    private readonly core: VirtioCore,
    vectors: number,
    saved?: PciTransportState,
  ) {
    const pci = ctx.pci!;
    this.pci = pci;
    const n = core.queues.length;
    this.queueVectors = saved?.queueVectors.slice() ?? new Array(n).fill(NO_VECTOR);
    this.addrs =
      saved?.addrs.map((a) => a.slice()) ?? Array.from({ length: n }, () => new Array(6).fill(0));
    if (saved !== undefined) {
      this.dfselect = saved.dfselect;
      this.gfselect = saved.gfselect;
      this.queueSel = saved.queueSel;
      this.configVector = saved.configVector;
    }
    const region = ctx.mmio(
      'virtio-pci',
      BAR_SIZE,
      {
        read: (off, size) => this.read(off, size),
        write: (off, size, value) => {
          this.write(off, size, Number(value) >>> 0);
          return undefined;
        },
      },
      { valid: { min: 1, max: 4 }, impl: { min: 1, max: 4 }, endianness: 'little' },
    );
    pci.bar(BAR, { kind: 'memory', size: BAR_SIZE, is64: true, prefetchable: true }, region);
    // QEMU's order: common, ISR, device, notify, then the PCI config window (each prepended).
    this.addCap(CAP.COMMON, REGION.COMMON, 0x1000);
    this.addCap(CAP.ISR, REGION.ISR, 0x1000);
    this.addCap(CAP.DEVICE, REGION.DEVICE, 0x1000);
    this.addCap(CAP.NOTIFY, REGION.NOTIFY, NOTIFY_MULTIPLIER * 1024, NOTIFY_MULTIPLIER);
    this.cfgCap = this.addCap(CAP.PCI_CFG, 0, 0, undefined, true);
    pci.onConfigWrite((o, s) => this.cfgWindowWrite(o, s));
    pci.onConfigRead?.((o, s, v) => this.cfgWindowRead(o, s, v));
    this.msix = vectors > 0 ? pci.addMsix?.({ vectors, bar: MSIX_BAR }) : undefined;
    if (saved?.msix !== undefined) this.msix?.restore(saved.msix);
    core.signals = this;
  }

  // ---- interrupts ------------------------------------------------------------------------

  queue(q: number): void {
    this.signal(this.queueVectors[q] ?? NO_VECTOR);
  }

  config(): void {
    this.signal(this.configVector);
  }

  /** As QEMU's virtio_pci_notify: the vector with MSI-X, else INTx follows ISR bit 0. */
  private signal(vector: number): void {
    if (this.msix?.enabled) {
      if (vector !== NO_VECTOR) this.msix.notify(vector);
    } else this.ctx.irq.set((this.core.isr & 1) as 0 | 1);
  }

  /** Transport reset (with the device's): vectors unassigned, INTx low. */
  reset(): void {
    this.dfselect = 0;
    this.gfselect = 0;
    this.queueSel = 0;
    this.configVector = NO_VECTOR;
    this.queueVectors.fill(NO_VECTOR);
    for (const a of this.addrs) a.fill(0);
    this.ctx.irq.lower();
  }

  save(): PciTransportState {
    return {
      dfselect: this.dfselect,
      gfselect: this.gfselect,
      queueSel: this.queueSel,
      configVector: this.configVector,
      queueVectors: this.queueVectors.slice(),
      addrs: this.addrs.map((a) => a.slice()),
      ...(this.msix !== undefined && { msix: this.msix.save() }),
    };
  }

  // ---- BAR 4 -----------------------------------------------------------------------------

  private read(off: number, size: number): number {
    if (off < REGION.ISR) return this.commonRead(off, size);
    if (off < REGION.DEVICE) {
      // Reading the ISR acknowledges it and lowers INTx.
      const v = this.core.isr;
      this.core.isr = 0;
      if (!this.msix?.enabled) this.ctx.irq.lower();
      return v;
    }
    if (off < REGION.NOTIFY) return this.configRead(off - REGION.DEVICE, size);
    return 0;
  }

  private write(off: number, size: number, value: number): void {
    if (off < REGION.ISR) this.commonWrite(off, value);
    else if (off < REGION.DEVICE) return;
    else if (off < REGION.NOTIFY) {
      const o = off - REGION.DEVICE;
      if (o + size <= this.core.device.config.length)
        this.core.device.configWrite?.(o, size, value);
    } else {
      const q = Math.floor((off - REGION.NOTIFY) / NOTIFY_MULTIPLIER);
      this.core.notify(q);
    }
  }

  /** The device configuration: out of range reads all-ones, as QEMU's virtio_config_modern_read*. */
  private configRead(off: number, size: number): number {
    const c = this.core.device.config;
    if (off + size > c.length) return size === 4 ? 0xffffffff : (1 << (8 * size)) - 1;
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + c[off + i]!;
    return v;
  }

  private get selected() {
    return this.core.queues[this.queueSel];
  }

  private commonRead(off: number, size: number): number {
    const core = this.core;
    const q = this.selected;
    const a = this.addrs[this.queueSel];
    let v: number;
    switch (off) {
      case COMMON.DFSELECT:
        v = this.dfselect;
        break;
      case COMMON.DF:
        v = core.offeredWord(this.dfselect);
        break;
      case COMMON.GFSELECT:
        v = this.gfselect;
        break;
      case COMMON.GF:
        v =
          this.gfselect <= 1
            ? Number((core.driverFeatures >> BigInt(32 * this.gfselect)) & 0xffffffffn)
            : 0;
        break;
      case COMMON.MSIX:
        v = this.configVector;
        break;
      case COMMON.NUMQ:
        v = core.queues.length;
        break;
      case COMMON.STATUS:
        v = core.status;
        break;
      case COMMON.CFGGENERATION:
        v = core.generation;
        break;
      case COMMON.Q_SELECT:
        v = this.queueSel;
        break;
      case COMMON.Q_SIZE:
        v = q?.size ?? 0;
        break;
      case COMMON.Q_MSIX:
        v = this.queueVectors[this.queueSel] ?? NO_VECTOR;
        break;
      case COMMON.Q_ENABLE:
        v = q?.ready ? 1 : 0;
        break;
      case COMMON.Q_NOFF:
        v = this.queueSel;
        break;
      case COMMON.Q_DESCLO:
      case COMMON.Q_DESCHI:
      case COMMON.Q_AVAILLO:
      case COMMON.Q_AVAILHI:
      case COMMON.Q_USEDLO:
      case COMMON.Q_USEDHI:
        v = a?.[(off - COMMON.Q_DESCLO) / 4] ?? 0;
        break;
      default:
        v = 0;
    }
    return size === 4 ? v >>> 0 : v & ((1 << (8 * size)) - 1);
  }

  private commonWrite(off: number, value: number): void {
    const core = this.core;
    const q = this.selected;
    const a = this.addrs[this.queueSel];
    switch (off) {
      case COMMON.DFSELECT:
        this.dfselect = value;
        break;
      case COMMON.GFSELECT:
        this.gfselect = value;
        break;
      case COMMON.GF:
        core.writeDriverFeatures(this.gfselect, value);
        break;
      case COMMON.MSIX:
        this.configVector = this.vectorOrNone(value);
        break;
      case COMMON.STATUS:
        core.writeStatus(value & 0xff);
        if (core.status === 0) this.reset();
        break;
      case COMMON.Q_SELECT:
        if ((value & 0xffff) < 1024) this.queueSel = value & 0xffff;
        break;
      case COMMON.Q_SIZE:
        // Only before the queue is enabled, 1 to its maximum (QEMU: virtio_queue_set_num).
        if (q !== undefined && !q.ready) {
          const n = value & 0xffff;
          if (n >= 1 && n <= q.maxSize) q.size = n;
        }
        break;
      case COMMON.Q_MSIX:
        if (q !== undefined) this.queueVectors[this.queueSel] = this.vectorOrNone(value);
        break;
      case COMMON.Q_ENABLE:
        if (q === undefined || a === undefined) break;
        if ((value & 0xffff) === 1) {
          q.desc = a[1]! * 2 ** 32 + a[0]!;
          q.avail = a[3]! * 2 ** 32 + a[2]!;
          q.used = a[5]! * 2 ** 32 + a[4]!;
          q.enable();
        } else core.fail(`the driver wrote ${value} to queue_enable (only 1 is allowed)`);
        break;
      case COMMON.Q_DESCLO:
      case COMMON.Q_DESCHI:
      case COMMON.Q_AVAILLO:
      case COMMON.Q_AVAILHI:
      case COMMON.Q_USEDLO:
      case COMMON.Q_USEDHI:
        // Queue addresses may only change while the queue is disabled (4.1.4.3.2).
        if (a !== undefined && !q?.ready) a[(off - COMMON.Q_DESCLO) / 4] = value >>> 0;
        break;
      case COMMON.Q_RESET:
        if ((value & 0xffff) === 1 && q !== undefined) {
          q.reset();
          a?.fill(0);
        }
        break;
    }
  }

  /** QEMU's rule: a vector past the table reads back as NO_VECTOR, so the driver sees it failed. */
  private vectorOrNone(value: number): number {
    const v = value & 0xffff;
    return this.msix !== undefined && v < this.msix.vectors ? v : NO_VECTOR;
  }

  // ---- capabilities ----------------------------------------------------------------------

  /**
   * Adds a virtio_pci_cap (4.1.4): cap_len, cfg_type, bar, id, padding, offset, length, and
   * for the notify capability its multiplier. The PCI config window's bar, offset, length and
   * data are the guest's to write.
   */
  private addCap(
    type: number,
    offset: number,
    length: number,
    multiplier?: number,
    window = false,
  ): number {
    const extra = multiplier !== undefined || window ? 4 : 0;
    const body = new Uint8Array(14 + extra);
    const d = new DataView(body.buffer);
    d.setUint8(0, 16 + extra);
    d.setUint8(1, type);
    d.setUint8(2, window ? 0 : BAR);
    d.setUint32(6, offset, true);
    d.setUint32(10, length, true);
    if (multiplier !== undefined) d.setUint32(14, multiplier, true);
    let writable: Uint8Array | undefined;
    if (window) {
      writable = new Uint8Array(body.length);
      writable[2] = 0xff;
      writable.fill(0xff, 6, 18);
    }
    return this.pci.addCapability!({ id: 0x09, body, ...(writable !== undefined && { writable }) });
  }

  /** The window's fields, read back from config space. */
  private window(): { bar: number; offset: number; length: number } {
    const p = this.pci;
    const c = this.cfgCap;
    return {
      bar: p.configRead(c + 4, 1),
      offset: p.configRead(c + 8, 4),
      length: p.configRead(c + 12, 4),
    };
  }

  /** A config write that covers pci_cfg_data: a BAR 4 write of `length` bytes (4.1.4.9). */
  private cfgWindowWrite(o: number, s: number): void {
    const data = this.cfgCap + 16;
    if (o > data || o + s <= data) return;
    const w = this.window();
    if (w.bar !== BAR || ![1, 2, 4].includes(w.length) || w.offset + w.length > BAR_SIZE) return;
    const raw = this.pci.configRead(data, 4);
    const value = w.length === 4 ? raw : raw & ((1 << (8 * w.length)) - 1);
    this.write(w.offset, w.length, value);
  }

  /** A config read of pci_cfg_data answers a BAR 4 read of `length` bytes. */
  private cfgWindowRead(o: number, s: number, v: number): number {
    const data = this.cfgCap + 16;
    if (o < data || o >= data + 4) return v;
    const w = this.window();
    if (w.bar !== BAR || ![1, 2, 4].includes(w.length) || w.offset + w.length > BAR_SIZE) return v;
    const got = this.read(w.offset, w.length);
    const shift = 8 * (o - data);
    const mask = s === 4 ? 0xffffffff : (1 << (8 * s)) - 1;
    return ((got >>> shift) & mask) >>> 0;
  }
}
