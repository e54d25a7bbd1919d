/**
 * The virtio-mmio transport, version 2 (virtio 1.2, 4.2.2): one 0x200-byte register block in
 * a machine slot (the RISC-V `virt` machine's transports at 0x10001000 + 0x1000 n, PLIC
 * interrupt 1 + n), the device configuration from 0x100, one level-triggered interrupt that
 * stays up while InterruptStatus is not zero.
 *
 * As QEMU's virtio-mmio: registers below 0x100 take 4-byte accesses only (others read 0 and
 * are ignored), the device configuration 1, 2 or 4 bytes; the vendor id is QEMU's ("QEMU").
 */
import type { DeviceContext, GuestPhysAddr, IrqHandle } from '@emuhost/sdk';
import type { VirtioCore, VirtioSignals } from './core.js';

export const MMIO = {
  MAGIC: 0x000,
  VERSION: 0x004,
  DEVICE_ID: 0x008,
  VENDOR_ID: 0x00c,
  DEVICE_FEATURES: 0x010,
  DEVICE_FEATURES_SEL: 0x014,
  DRIVER_FEATURES: 0x020,
  DRIVER_FEATURES_SEL: 0x024,
  QUEUE_SEL: 0x030,
  QUEUE_NUM_MAX: 0x034,
  QUEUE_NUM: 0x038,
  QUEUE_READY: 0x044,
  QUEUE_NOTIFY: 0x050,
  INTERRUPT_STATUS: 0x060,
  INTERRUPT_ACK: 0x064,
  STATUS: 0x070,
  QUEUE_DESC_LOW: 0x080,
  QUEUE_DESC_HIGH: 0x084,
  QUEUE_DRIVER_LOW: 0x090,
  QUEUE_DRIVER_HIGH: 0x094,
  QUEUE_DEVICE_LOW: 0x0a0,
  QUEUE_DEVICE_HIGH: 0x0a4,
  SHM_SEL: 0x0ac,
  SHM_LEN_LOW: 0x0b0,
  SHM_LEN_HIGH: 0x0b4,
  SHM_BASE_LOW: 0x0b8,
  SHM_BASE_HIGH: 0x0bc,
  QUEUE_RESET: 0x0c0,
  CONFIG_GENERATION: 0x0fc,
  CONFIG: 0x100,
} as const;
export const MMIO_MAGIC = 0x74726976; // "virt"
export const MMIO_VENDOR_QEMU = 0x554d4551; // "QEMU"
export const MMIO_SIZE = 0x200;

export interface MmioTransportState {
  readonly dfsel: number;
  readonly gfsel: number;
  readonly queueSel: number;
  readonly addrs: readonly (readonly number[])[];
}

export class MmioTransport implements VirtioSignals {
  private dfsel = 0;
  private gfsel = 0;
  private queueSel = 0;
  private readonly addrs: number[][];
  private readonly irq: IrqHandle;
  readonly base: GuestPhysAddr;

  constructor(
    private readonly ctx: DeviceContext,
    private readonly core: VirtioCore,
    private readonly deviceId: number,
    saved?: MmioTransportState,
  ) {
    const platform = ctx.platform!;
    const slot = platform.slot?.('virtio-mmio');
    if (slot === undefined)
      throw new Error(
        'no free virtio-mmio slot: the machine has none (use the -pci device) or all are taken',
      );
    const n = core.queues.length;
    this.addrs =
      saved?.addrs.map((a) => a.slice()) ?? Array.from({ length: n }, () => new Array(6).fill(0));
    if (saved !== undefined) {
      this.dfsel = saved.dfsel;
      this.gfsel = saved.gfsel;
      this.queueSel = saved.queueSel;
    }
    this.irq = slot.irq;
    this.base = slot.base;
    const region = ctx.mmio(
      'virtio-mmio',
      MMIO_SIZE,
      {
        read: (off, size) => this.read(off, size),
        write: (off, size, value) => {
          this.write(off, size, Number(value) >>> 0);
          return undefined;
        },
      },
      { valid: { min: 1, max: 4 }, impl: { min: 1, max: 4 }, endianness: 'little' },
    );
    // Above the machine's empty transport in the same slot.
    platform.map(region, slot.base, 1);
    core.signals = this;
  }

  queue(): void {
    this.update();
  }

  config(): void {
    this.update();
  }

  /** The line follows InterruptStatus (level-triggered). */
  private update(): void {
    this.irq.set(this.core.isr !== 0 ? 1 : 0);
  }

  reset(): void {
    this.dfsel = 0;
    this.gfsel = 0;
    this.queueSel = 0;
    for (const a of this.addrs) a.fill(0);
    this.irq.lower();
  }

  save(): MmioTransportState {
    return {
      dfsel: this.dfsel,
      gfsel: this.gfsel,
      queueSel: this.queueSel,
      addrs: this.addrs.map((a) => a.slice()),
    };
  }

  private read(off: number, size: number): number {
    const core = this.core;
    if (off >= MMIO.CONFIG) {
      const o = off - MMIO.CONFIG;
      const c = core.device.config;
      if (o + size > c.length) return 0;
      let v = 0;
      for (let i = size - 1; i >= 0; i--) v = v * 256 + c[o + i]!;
      return v;
    }
    if (size !== 4) {
      this.ctx.log.debug(
        `virtio-mmio: ${size}-byte read of register 0x${off.toString(16)} ignored`,
      );
      return 0;
    }
    const q = core.queues[this.queueSel];
    switch (off) {
      case MMIO.MAGIC:
        return MMIO_MAGIC;
      case MMIO.VERSION:
        return 2;
      case MMIO.DEVICE_ID:
        return this.deviceId;
      case MMIO.VENDOR_ID:
        return MMIO_VENDOR_QEMU;
      case MMIO.DEVICE_FEATURES:
        return core.offeredWord(this.dfsel);
      case MMIO.QUEUE_NUM_MAX:
        return q?.maxSize ?? 0;
      case MMIO.QUEUE_READY:
        return q?.ready ? 1 : 0;
      case MMIO.INTERRUPT_STATUS:
        return core.isr;
      case MMIO.STATUS:
        return core.status;
      case MMIO.QUEUE_DESC_LOW:
      case MMIO.QUEUE_DESC_HIGH:
      case MMIO.QUEUE_DRIVER_LOW:
      case MMIO.QUEUE_DRIVER_HIGH:
      case MMIO.QUEUE_DEVICE_LOW:
      case MMIO.QUEUE_DEVICE_HIGH:
        return this.addrs[this.queueSel]?.[addrIndex(off)] ?? 0;
      // No shared memory regions: a region's length reads as all ones (4.2.2).
      case MMIO.SHM_LEN_LOW:
      case MMIO.SHM_LEN_HIGH:
        return 0xffffffff;
      case MMIO.CONFIG_GENERATION:
        return core.generation;
      default:
        return 0;
    }
  }

  private write(off: number, size: number, value: number): void {
    const core = this.core;
    if (off >= MMIO.CONFIG) {
      const o = off - MMIO.CONFIG;
      if (o + size <= core.device.config.length) core.device.configWrite?.(o, size, value);
      return;
    }
    if (size !== 4) return;
    const q = core.queues[this.queueSel];
    const a = this.addrs[this.queueSel];
    switch (off) {
      case MMIO.DEVICE_FEATURES_SEL:
        this.dfsel = value;
        break;
      case MMIO.DRIVER_FEATURES:
        core.writeDriverFeatures(this.gfsel, value);
        break;
      case MMIO.DRIVER_FEATURES_SEL:
        this.gfsel = value;
        break;
      case MMIO.QUEUE_SEL:
        this.queueSel = value;
        break;
      case MMIO.QUEUE_NUM:
        if (q !== undefined && !q.ready && value >= 1 && value <= q.maxSize) q.size = value;
        break;
      case MMIO.QUEUE_READY:
        if (q === undefined || a === undefined) break;
        if (value === 1) {
          q.desc = a[1]! * 2 ** 32 + a[0]!;
          q.avail = a[3]! * 2 ** 32 + a[2]!;
          q.used = a[5]! * 2 ** 32 + a[4]!;
          q.enable();
        } else q.ready = false;
        break;
      case MMIO.QUEUE_NOTIFY:
        core.notify(value & 0xffff);
        break;
      case MMIO.INTERRUPT_ACK:
        core.isr &= ~value;
        this.update();
        break;
      case MMIO.STATUS:
        core.writeStatus(value);
        if (core.status === 0) this.reset();
        break;
      case MMIO.QUEUE_DESC_LOW:
      case MMIO.QUEUE_DESC_HIGH:
      case MMIO.QUEUE_DRIVER_LOW:
      case MMIO.QUEUE_DRIVER_HIGH:
      case MMIO.QUEUE_DEVICE_LOW:
      case MMIO.QUEUE_DEVICE_HIGH:
        if (a !== undefined && !q?.ready) a[addrIndex(off)] = value;
        break;
      case MMIO.QUEUE_RESET:
        if (value === 1 && q !== undefined) {
          q.reset();
          a?.fill(0);
        }
        break;
    }
  }
}

/** desc lo/hi, driver lo/hi, device lo/hi → 0..5. */
function addrIndex(off: number): number {
  return ((off - MMIO.QUEUE_DESC_LOW) >> 4) * 2 + ((off >> 2) & 1);
}

/**
 * What a machine answers at a free virtio-mmio slot (QEMU's transport with no device plugged):
 * the magic value, version 2, device id 0 (which a driver skips) and QEMU's vendor id; every
 * other register reads 0 and writes are ignored. A machine plugin may bundle this library
 * for it.
 */
export function emptyMmioSlotRead(offset: number): number {
  switch (offset) {
    case MMIO.MAGIC:
      return MMIO_MAGIC;
    case MMIO.VERSION:
      return 2;
    case MMIO.VENDOR_ID:
      return MMIO_VENDOR_QEMU;
    default:
      return 0;
  }
}
