/**
 * A guest driver for virtio devices, in the spirit of QEMU's libqos virtio drivers: it finds
 * a virtio-pci function's capabilities (or a virtio-mmio register block), negotiates features,
 * lays split virtqueues out in guest RAM and submits descriptor chains, all through the
 * machine's memory and config accesses, as a guest would. It restates the layouts from the
 * virtio 1.2 specification on purpose, so that it checks the devices instead of agreeing with
 * them; it also writes malformed rings on request, to test what devices do with them.
 */
import type { Driver, PciDeviceRef } from './driver.js';

export const VIRTIO_STATUS = {
  ACKNOWLEDGE: 1,
  DRIVER: 2,
  DRIVER_OK: 4,
  FEATURES_OK: 8,
  NEEDS_RESET: 64,
  FAILED: 128,
} as const;
export const VIRTIO_F = {
  INDIRECT_DESC: 28,
  EVENT_IDX: 29,
  VERSION_1: 32,
  ACCESS_PLATFORM: 33,
} as const;
const DESC_F = { NEXT: 1, WRITE: 2, INDIRECT: 4 } as const;

/** One buffer of a chain: guest address, length, whether the device writes it. */
export interface VirtioBuffer {
  readonly addr: number;
  readonly len: number;
  readonly write: boolean;
}

/** A raw descriptor, for building malformed tables. */
export interface RawDesc {
  readonly addr: number;
  readonly len: number;
  readonly flags: number;
  readonly next: number;
}

/** The transport-specific accesses a virtio guest needs. */
interface Transport {
  common16(off: number): number;
  common32(off: number): number;
  setCommon32(off: number, v: number): void;
  readStatus(): number;
  writeStatus(v: number): void;
  deviceFeatures(): bigint;
  setDriverFeatures(f: bigint): void;
  selectQueue(q: number): void;
  queueMax(): number;
  setQueue(size: number, desc: number, avail: number, used: number): void;
  notify(q: number): void;
  /** Reads and acknowledges the interrupt status (ISR / InterruptStatus). */
  isr(): number;
  config8(off: number): number;
  config32(off: number): number;
  configWrite8(off: number, v: number): void;
  setQueueVector?(v: number): void;
  setConfigVector?(v: number): void;
}

/** A split virtqueue laid out by the driver in guest RAM. */
export class GuestQueue {
  availIdx = 0;
  lastUsed = 0;
  private freeHead = 0;

  constructor(
    private readonly d: Driver,
    readonly index: number,
    readonly size: number,
    readonly desc: number,
    readonly avail: number,
    readonly used: number,
  ) {}

  /** Writes descriptor `i`. */
  writeDesc(i: number, x: RawDesc, table = this.desc): void {
    const a = table + 16 * i;
    this.d.writeq(a, BigInt(x.addr));
    this.d.writel(a + 8, x.len);
    this.d.writew(a + 12, x.flags);
    this.d.writew(a + 14, x.next);
  }

  /** Makes a chain of `bufs` available (direct descriptors from the next free slot); returns its head. */
  add(bufs: readonly VirtioBuffer[]): number {
    const head = this.freeHead;
    bufs.forEach((b, k) => {
      const i = (head + k) % this.size;
      const last = k === bufs.length - 1;
      this.writeDesc(i, {
        addr: b.addr,
        len: b.len,
        flags: (b.write ? DESC_F.WRITE : 0) | (last ? 0 : DESC_F.NEXT),
        next: last ? 0 : (i + 1) % this.size,
      });
    });
    this.freeHead = (head + bufs.length) % this.size;
    this.publish(head);
    return head;
  }

  /** Makes a chain available through one indirect table at `table` (guest RAM). */
  addIndirect(bufs: readonly VirtioBuffer[], table: number): number {
    bufs.forEach((b, k) => {
      const last = k === bufs.length - 1;
      this.writeDesc(
        k,
        {
          addr: b.addr,
          len: b.len,
          flags: (b.write ? DESC_F.WRITE : 0) | (last ? 0 : DESC_F.NEXT),
          next: last ? 0 : k + 1,
        },
        table,
      );
    });
    const head = this.freeHead;
    this.writeDesc(head, { addr: table, len: 16 * bufs.length, flags: DESC_F.INDIRECT, next: 0 });
    this.freeHead = (head + 1) % this.size;
    this.publish(head);
    return head;
  }

  /** Puts `head` in the avail ring and bumps avail->idx (no notify). */
  publish(head: number): void {
    this.d.writew(this.avail + 4 + 2 * (this.availIdx % this.size), head);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.d.writew(this.avail + 2, this.availIdx);
  }

  /** Sets avail->idx directly (for malformed rings). */
  setAvailIdx(v: number): void {
    this.availIdx = v & 0xffff;
    this.d.writew(this.avail + 2, this.availIdx);
  }

  get usedIdx(): number {
    return this.d.readw(this.used + 2);
  }

  /** The next used element not yet seen, or undefined. */
  takeUsed(): { id: number; len: number } | undefined {
    if (this.usedIdx === this.lastUsed) return undefined;
    const at = this.used + 4 + 8 * (this.lastUsed % this.size);
    this.lastUsed = (this.lastUsed + 1) & 0xffff;
    return { id: this.d.readl(at), len: this.d.readl(at + 4) };
  }

  /** used_event (EVENT_IDX): interrupt me when the used index passes this. */
  setUsedEvent(v: number): void {
    this.d.writew(this.avail + 4 + 2 * this.size, v);
  }

  /** avail_event as the device wrote it. */
  get availEvent(): number {
    return this.d.readw(this.used + 4 + 8 * this.size);
  }

  setAvailFlags(f: number): void {
    this.d.writew(this.avail, f);
  }
}

export class VirtioGuest {
  constructor(
    readonly d: Driver,
    private readonly t: Transport,
    /** Guest RAM from here up holds rings and buffers. */
    private next: number,
  ) {}

  /** Bump allocation of guest RAM. */
  alloc(size: number, align = 16): number {
    const a = Math.ceil(this.next / align) * align;
    this.next = a + size;
    return a;
  }

  get status(): number {
    return this.t.readStatus();
  }
  set status(v: number) {
    this.t.writeStatus(v);
  }

  reset(): void {
    this.t.writeStatus(0);
  }

  deviceFeatures(): bigint {
    return this.t.deviceFeatures();
  }

  /**
   * The start of 3.1.1: reset, ACKNOWLEDGE, DRIVER, the features (VERSION_1 always), then
   * FEATURES_OK. Returns whether the device kept FEATURES_OK.
   */
  negotiate(features: bigint): boolean {
    this.reset();
    this.status = VIRTIO_STATUS.ACKNOWLEDGE;
    this.status = VIRTIO_STATUS.ACKNOWLEDGE | VIRTIO_STATUS.DRIVER;
    this.t.setDriverFeatures(features);
    this.status = VIRTIO_STATUS.ACKNOWLEDGE | VIRTIO_STATUS.DRIVER | VIRTIO_STATUS.FEATURES_OK;
    return (this.status & VIRTIO_STATUS.FEATURES_OK) !== 0;
  }

  driverOk(): void {
    this.status = this.status | VIRTIO_STATUS.DRIVER_OK;
  }

  /**
   * Lays out queue `q` (size: the device's maximum unless given) and enables it. With
   * `iovaOffset` the device is given the rings' addresses plus that offset (an IOMMU maps them
   * back); the guest itself keeps using guest-physical addresses.
   */
  setupQueue(q: number, size?: number, iovaOffset = 0): GuestQueue {
    this.t.selectQueue(q);
    const n = size ?? this.t.queueMax();
    const desc = this.alloc(16 * n, 4096);
    const avail = this.alloc(6 + 2 * n, 2);
    const used = this.alloc(6 + 8 * n, 4096);
    this.d.memwrite(desc, new Uint8Array(16 * n));
    this.d.memwrite(avail, new Uint8Array(6 + 2 * n));
    this.d.memwrite(used, new Uint8Array(6 + 8 * n));
    this.t.setQueue(n, desc + iovaOffset, avail + iovaOffset, used + iovaOffset);
    return new GuestQueue(this.d, q, n, desc, avail, used);
  }

  queueMax(q: number): number {
    this.t.selectQueue(q);
    return this.t.queueMax();
  }

  notify(q: number): void {
    this.t.notify(q);
  }

  isr(): number {
    return this.t.isr();
  }

  config8(off: number): number {
    return this.t.config8(off);
  }
  config32(off: number): number {
    return this.t.config32(off);
  }
  config64(off: number): bigint {
    return BigInt(this.t.config32(off)) | (BigInt(this.t.config32(off + 4)) << 32n);
  }
  configWrite8(off: number, v: number): void {
    this.t.configWrite8(off, v);
  }

  /** virtio-pci: the MSI-X vector of the selected queue / of config changes. */
  setQueueVector(q: number, v: number): void {
    this.t.selectQueue(q);
    this.t.setQueueVector?.(v);
  }
  setConfigVector(v: number): void {
    this.t.setConfigVector?.(v);
  }
  /** A 2-byte read of the common configuration (virtio-pci) or a register (virtio-mmio). */
  common16(off: number): number {
    return this.t.common16(off);
  }
  common32(off: number): number {
    return this.t.common32(off);
  }
  setCommon32(off: number, v: number): void {
    this.t.setCommon32(off, v);
  }
}

/**
 * A virtio-pci (modern) guest on function `dev`: BARs sized and assigned, capabilities found
 * by walking the list (cfg_type 1 common, 2 notify, 3 ISR, 4 device).
 */
export function virtioPciGuest(d: Driver, dev: PciDeviceRef, ramFrom: number): VirtioGuest {
  const caps = new Map<number, { bar: number; offset: number; mult: number }>();
  for (let p = dev.configRead(0x34, 1) & ~3; p !== 0; p = dev.configRead(p + 1, 1) & ~3) {
    if (dev.configRead(p, 1) !== 0x09) continue;
    const type = dev.configRead(p + 3, 1);
    if (!caps.has(type))
      caps.set(type, {
        bar: dev.configRead(p + 4, 1),
        offset: dev.configRead(p + 8, 4),
        mult: type === 2 ? dev.configRead(p + 16, 4) : 0,
      });
  }
  const bars = new Map<number, number>();
  // The PCI config window (type 5) names no BAR of its own.
  for (const [type, c] of caps)
    if (type !== 5 && !bars.has(c.bar)) bars.set(c.bar, dev.iomap(c.bar).addr);
  dev.enable();
  const at = (type: number, off: number) => {
    const c = caps.get(type);
    if (c === undefined) throw new Error(`no virtio capability of type ${type}`);
    return bars.get(c.bar)! + c.offset + off;
  };
  const common = (off: number) => at(1, off);
  let sel = 0;
  const t: Transport = {
    common16: (off) => d.readw(common(off)),
    common32: (off) => d.readl(common(off)),
    setCommon32: (off, v) => d.writel(common(off), v),
    readStatus: () => d.readb(common(0x14)),
    writeStatus: (v) => d.writeb(common(0x14), v),
    deviceFeatures: () => {
      d.writel(common(0x00), 0);
      const lo = d.readl(common(0x04));
      d.writel(common(0x00), 1);
      const hi = d.readl(common(0x04));
      return (BigInt(hi) << 32n) | BigInt(lo);
    },
    setDriverFeatures: (f) => {
      d.writel(common(0x08), 0);
      d.writel(common(0x0c), Number(f & 0xffffffffn));
      d.writel(common(0x08), 1);
      d.writel(common(0x0c), Number(f >> 32n));
    },
    selectQueue: (q) => {
      sel = q;
      d.writew(common(0x16), q);
    },
    queueMax: () => d.readw(common(0x18)),
    setQueue: (size, desc, avail, used) => {
      d.writew(common(0x18), size);
      d.writel(common(0x20), desc);
      d.writel(common(0x24), 0);
      d.writel(common(0x28), avail);
      d.writel(common(0x2c), 0);
      d.writel(common(0x30), used);
      d.writel(common(0x34), 0);
      d.writew(common(0x1c), 1);
    },
    notify: (q) => {
      d.writew(common(0x16), q);
      const off = d.readw(common(0x1e));
      d.writew(at(2, off * caps.get(2)!.mult), q);
      d.writew(common(0x16), sel);
    },
    isr: () => d.readb(at(3, 0)),
    config8: (off) => d.readb(at(4, off)),
    config32: (off) => d.readl(at(4, off)),
    configWrite8: (off, v) => d.writeb(at(4, off), v),
    setQueueVector: (v) => d.writew(common(0x1a), v),
    setConfigVector: (v) => d.writew(common(0x10), v),
  };
  return new VirtioGuest(d, t, ramFrom);
}

/** A virtio-mmio (version 2) guest on the register block at `base`. */
export function virtioMmioGuest(d: Driver, base: number, ramFrom: number): VirtioGuest {
  const r = (off: number) => d.readl(base + off);
  const w = (off: number, v: number) => d.writel(base + off, v);
  const t: Transport = {
    common16: (off) => d.readw(base + off),
    common32: r,
    setCommon32: w,
    readStatus: () => r(0x70),
    writeStatus: (v) => w(0x70, v),
    deviceFeatures: () => {
      w(0x14, 0);
      const lo = r(0x10);
      w(0x14, 1);
      const hi = r(0x10);
      return (BigInt(hi) << 32n) | BigInt(lo);
    },
    setDriverFeatures: (f) => {
      w(0x24, 0);
      w(0x20, Number(f & 0xffffffffn));
      w(0x24, 1);
      w(0x20, Number(f >> 32n));
    },
    selectQueue: (q) => w(0x30, q),
    queueMax: () => r(0x34),
    setQueue: (size, desc, avail, used) => {
      w(0x38, size);
      w(0x80, desc);
      w(0x84, 0);
      w(0x90, avail);
      w(0x94, 0);
      w(0xa0, used);
      w(0xa4, 0);
      w(0x44, 1);
    },
    notify: (q) => w(0x50, q),
    isr: () => {
      const s = r(0x60);
      w(0x64, s);
      return s;
    },
    config8: (off) => d.readb(base + 0x100 + off),
    config32: (off) => d.readl(base + 0x100 + off),
    configWrite8: (off, v) => d.writeb(base + 0x100 + off, v),
  };
  return new VirtioGuest(d, t, ramFrom);
}
