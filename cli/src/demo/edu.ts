/**
 * A driver for QEMU's edu device (plugins/edu, QEMU's docs/specs/edu.rst): its BAR0 registers
 * and one DMA transfer, run as a driver runs it — program source, destination and count,
 * write the command, then wait (here: step the virtual clock) until RUN clears.
 */
import type { Driver, PciDeviceRef } from '@emuhost/testing/drivers';

export const REG = {
  ID: 0x00,
  LIVENESS: 0x04,
  FACTORIAL: 0x08,
  STATUS: 0x20,
  IRQ_STATUS: 0x24,
  IRQ_ACK: 0x64,
  DMA_SRC: 0x80,
  DMA_DST: 0x88,
  DMA_COUNT: 0x90,
  DMA_CMD: 0x98,
  /** emuhost's addition: why the last transfer failed (0 = ok). */
  DMA_STATUS: 0xa0,
} as const;

export const STATUS_COMPUTING = 0x01;
/** Where edu's DMA engine sees its 4 KiB buffer. */
export const EDU_BUFFER = 0x40000;

const CMD_RUN = 1n;
const CMD_TO_RAM = 2n;
const CMD_IRQ = 4n;

/** DMA status codes (plugins/edu README). */
export const DMA_STATUS: readonly string[] = [
  'ok',
  'out of range',
  'decode error',
  'access error',
  'IOMMU fault',
  'bus master disabled',
  'other failure',
];

export interface DmaOutcome {
  /** DMA status register after completion. */
  readonly status: number;
  /** Interrupt status register after completion (0x100 done, 0x200 failed). */
  readonly irqStatus: number;
  /** Virtual time the command was written and RUN was seen clear. */
  readonly started: number;
  readonly finished: number;
  /** Whether RUN cleared at all. */
  readonly completed: boolean;
}

export class EduDriver {
  constructor(
    private readonly drv: Driver,
    readonly pci: PciDeviceRef,
    /** BAR0's guest-physical address. */
    readonly bar: number,
  ) {}

  readl(off: number): number {
    return this.drv.readl(this.bar + off);
  }
  writel(off: number, v: number): void {
    this.drv.writel(this.bar + off, v);
  }

  /**
   * One transfer of `count` bytes between RAM-side address `ram` (an IOVA: it goes through
   * whatever translates edu's DMA) and edu's buffer at `device`. Asks for the completion
   * interrupt so the status says done/failed too, and acknowledges it afterwards.
   */
  dma(direction: 'to-device' | 'to-ram', ram: number, device: number, count: number): DmaOutcome {
    const toRam = direction === 'to-ram';
    this.drv.writeq(this.bar + REG.DMA_SRC, BigInt(toRam ? device : ram));
    this.drv.writeq(this.bar + REG.DMA_DST, BigInt(toRam ? ram : device));
    this.drv.writeq(this.bar + REG.DMA_COUNT, BigInt(count));
    const started = this.drv.now;
    this.drv.writeq(this.bar + REG.DMA_CMD, CMD_RUN | CMD_IRQ | (toRam ? CMD_TO_RAM : 0n));
    // edu completes 100 ms of virtual time later: run the clock to each next deadline until
    // RUN clears (bounded, in case the device never completes).
    let running = true;
    for (let i = 0; i < 16 && running; i++) {
      if (this.drv.clockStep() === undefined) break;
      running = (this.drv.readq(this.bar + REG.DMA_CMD) & CMD_RUN) !== 0n;
    }
    const status = this.readl(REG.DMA_STATUS);
    const irqStatus = this.readl(REG.IRQ_STATUS);
    this.writel(REG.IRQ_ACK, irqStatus);
    return { status, irqStatus, started, finished: this.drv.now, completed: !running };
  }
}
