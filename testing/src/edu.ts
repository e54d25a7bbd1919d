/**
 * A guest driver for QEMU's edu device (the bundled plugins/edu), as libqos has drivers for
 * the devices QEMU's tests drive: BAR0 registers DMA source 0x80, destination 0x88, count
 * 0x90, command 0x98 (0x1 RUN, 0x2 direction EDU→RAM, 0x4 interrupt when done), interrupt
 * status 0x24 / ack 0x64, and emuhost's DMA status 0xa0. edu moves data between RAM and its
 * own 4 KiB buffer (device addresses 0x40000..0x40fff), one transfer per 100 ms of virtual
 * time. IOMMU plugins' tests use it as the DMA requester a guest would program.
 */
import type { Driver, PciDeviceRef } from './driver.js';

export const EDU_VENDOR = 0x1234;
export const EDU_DEVICE = 0x11e8;

/**
 * Options for an edu whose DMA may reach any IOVA: the RAM-side address is not clamped
 * (QEMU's default `dma_mask` is 256 MiB).
 */
export const EDU_OPTIONS = { dma_mask: 2 ** 53 - 1 } as const;

/** edu's DMA status (0xa0) codes, as plugins/edu documents them. */
export const EDU_DMA = {
  OK: 0,
  OUT_OF_RANGE: 1,
  DECODE_ERROR: 2,
  ACCESS_ERROR: 3,
  IOMMU_FAULT: 4,
  BUS_MASTER_DISABLED: 5,
  OTHER: 6,
} as const;

// BAR0 registers and bits.
const IRQ_STATUS = 0x24;
const IRQ_ACK = 0x64;
const DMA_SRC = 0x80;
const DMA_DST = 0x88;
const DMA_CNT = 0x90;
const DMA_CMD = 0x98;
const DMA_STATUS = 0xa0;
const RUN = 0x1n;
const TO_RAM = 0x2n;
const CMD_IRQ = 0x4n;
const IRQ_DMA = 0x100;
const IRQ_DMA_ERROR = 0x200;
/** Where the buffer is in edu's DMA address space, and its size. */
const BUF = 0x40000;
export const EDU_BUF_SIZE = 0x1000;
/** Virtual time a transfer takes. */
const DMA_NS = 100_000_000;

export interface EduDevice {
  /** The requester id its DMA carries (bus << 8 | devfn). */
  readonly requesterId: number;
  readonly pci: PciDeviceRef;
  /**
   * RAM→EDU: a DMA read of `len` bytes (at most 4096) at IOVA `src` into the buffer at `off`.
   * Runs the transfer to completion; returns the DMA status (`EDU_DMA`).
   */
  toBuffer(src: number, len: number, off?: number): number;
  /** EDU→RAM: a DMA write of `len` bytes from the buffer at `off` to IOVA `dst`. */
  fromBuffer(dst: number, len: number, off?: number): number;
  /**
   * Copies `len` bytes from IOVA `src` to IOVA `dst` the way edu can: per 4 KiB chunk, RAM→EDU
   * (a DMA read through the IOMMU) then EDU→RAM (a DMA write). Stops at the first transfer
   * that fails (after a failed read nothing is written) and returns its DMA status, or
   * `EDU_DMA.OK`.
   */
  copy(src: number, dst: number, len: number): number;
}

/** The first edu on the machine, as `eduDevices` finds it. */
export function findEdu(d: Driver): EduDevice {
  const edu = eduDevices(d)[0];
  if (edu === undefined) throw new Error('no edu (1234:11e8) on the bus');
  return edu;
}

/** Every edu on the machine, found by enumeration, BAR0 mapped, MEM and MASTER enabled. */
export function eduDevices(d: Driver): EduDevice[] {
  return d
    .pciDevices()
    .filter((p) => p.vendorId === EDU_VENDOR && p.deviceId === EDU_DEVICE)
    .map((p) => eduDevice(d, p));
}

function eduDevice(d: Driver, pci: PciDeviceRef): EduDevice {
  const bar = pci.iomap(0).addr;
  pci.enable();
  const fail = (why: string): never => {
    throw new Error(`edu at devfn 0x${pci.devfn.toString(16)}: ${why}`);
  };

  /** Programs one transfer with an interrupt on completion, waits for it, acks it. */
  const transfer = (ram: number, dev: number, len: number, toRam: boolean): number => {
    if (len < 0 || len > EDU_BUF_SIZE) fail(`a transfer moves at most 4096 bytes, not ${len}`);
    d.writeq(bar + DMA_SRC, BigInt(toRam ? dev : ram));
    d.writeq(bar + DMA_DST, BigInt(toRam ? ram : dev));
    d.writeq(bar + DMA_CNT, BigInt(len));
    d.writeq(bar + DMA_CMD, RUN | (toRam ? TO_RAM : 0n) | CMD_IRQ);
    if ((d.readq(bar + DMA_CMD) & RUN) === 0n) fail('RUN did not stick');
    d.clockStep(DMA_NS);
    if ((d.readq(bar + DMA_CMD) & RUN) !== 0n) fail('the transfer did not complete in 100 ms');
    const status = d.readl(bar + DMA_STATUS);
    const irq = d.readl(bar + IRQ_STATUS);
    const want = status === EDU_DMA.OK ? IRQ_DMA : IRQ_DMA | IRQ_DMA_ERROR;
    if (irq !== want)
      fail(
        `interrupt status 0x${irq.toString(16)} for DMA status ${status} (want 0x${want.toString(16)})`,
      );
    d.writel(bar + IRQ_ACK, irq);
    return status;
  };

  return {
    requesterId: pci.devfn,
    pci,
    toBuffer: (src, len, off = 0) => transfer(src, BUF + off, len, false),
    fromBuffer: (dst, len, off = 0) => transfer(dst, BUF + off, len, true),
    copy(src, dst, len) {
      for (let done = 0; done < len; done += EDU_BUF_SIZE) {
        const n = Math.min(EDU_BUF_SIZE, len - done);
        const r = transfer(src + done, BUF, n, false);
        if (r !== EDU_DMA.OK) return r;
        const w = transfer(dst + done, BUF, n, true);
        if (w !== EDU_DMA.OK) return w;
      }
      return EDU_DMA.OK;
    },
  };
}
