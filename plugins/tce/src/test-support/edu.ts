/**
 * Test support: QEMU's edu (the bundled plugins/edu) as the DMA requester of the TCE tests,
 * driven as a guest driver drives it: BAR0 registers DMA source 0x80, destination 0x88,
 * count 0x90, command 0x98 (0x1 RUN, 0x2 direction EDU→RAM, 0x4 interrupt when done),
 * interrupt status 0x24 / ack 0x64, and emuhost's DMA status 0xa0. edu moves data between
 * RAM and its own 4 KiB buffer (device addresses 0x40000..0x40fff), one transfer per 100 ms
 * of virtual time. (The same driver as plugins/vtd's test support; each plugin's tests stay
 * self-contained.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPlugin, type LoadedPlugin, PluginHost } from '@emuhost/host';
import type { Driver, PciDeviceRef } from '@emuhost/testing';

const EDU_DIR = fileURLToPath(new URL('../../../edu', import.meta.url));

let edu: Promise<LoadedPlugin> | undefined;

/**
 * Builds (once per test file) and loads edu. It is built into a temporary directory: edu's
 * own tests build it into its `dist/` in parallel, and writing the same files would race.
 */
export function loadEdu(): Promise<LoadedPlugin> {
  edu ??= (async () => {
    const out = mkdtempSync(join(tmpdir(), 'emuhost-tce-edu-'));
    try {
      const b = await buildPlugin(EDU_DIR, { outDir: out });
      return new PluginHost().loadFile(b.manifestPath);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  })();
  return edu;
}

/** Options for the edu the tests add: no clamping of the RAM-side address (QEMU: 256 MiB). */
export const EDU_OPTIONS = { dma_mask: 2 ** 53 - 1 } as const;

/** edu's DMA status (0xa0) codes, as plugins/edu documents them. */
export const DMA = {
  OK: 0,
  OUT_OF_RANGE: 1,
  DECODE_ERROR: 2,
  ACCESS_ERROR: 3,
  IOMMU_FAULT: 4,
  BUS_MASTER_DISABLED: 5,
  OTHER: 6,
} as const;

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
const BUF = 0x40000;
const BUF_SIZE = 0x1000;
const DMA_NS = 100_000_000;

export interface Edu {
  readonly pci: PciDeviceRef;
  /** RAM→EDU: a DMA read of `len` bytes (at most 4096) at IOVA `src` into the buffer at `off`. */
  toBuffer(src: number, len: number, off?: number): number;
  /** EDU→RAM: a DMA write of `len` bytes from the buffer at `off` to IOVA `dst`. */
  fromBuffer(dst: number, len: number, off?: number): number;
  /**
   * `len` bytes from IOVA `src` to IOVA `dst`, per 4 KiB chunk RAM→EDU then EDU→RAM; stops
   * at the first transfer that fails and returns its DMA status, or `DMA.OK`.
   */
  copy(src: number, dst: number, len: number): number;
}

/** The first edu on the machine, found by enumeration, BAR0 mapped, MEM and MASTER enabled. */
export function findEdu(d: Driver): Edu {
  const pci = d.pciFind(0x1234, 0x11e8);
  if (pci === undefined) throw new Error('no edu (1234:11e8) on the bus');
  const bar = pci.iomap(0).addr;
  pci.enable();
  const fail = (why: string): never => {
    throw new Error(`edu: ${why}`);
  };
  /** One transfer with an interrupt on completion: start, wait 100 ms, check, ack. */
  const transfer = (ram: number, dev: number, len: number, toRam: boolean): number => {
    if (len < 0 || len > BUF_SIZE) fail(`a transfer moves at most 4096 bytes, not ${len}`);
    d.writeq(bar + DMA_SRC, BigInt(toRam ? dev : ram));
    d.writeq(bar + DMA_DST, BigInt(toRam ? ram : dev));
    d.writeq(bar + DMA_CNT, BigInt(len));
    d.writeq(bar + DMA_CMD, RUN | (toRam ? TO_RAM : 0n) | CMD_IRQ);
    if ((d.readq(bar + DMA_CMD) & RUN) === 0n) fail('RUN did not stick');
    d.clockStep(DMA_NS);
    if ((d.readq(bar + DMA_CMD) & RUN) !== 0n) fail('the transfer did not complete in 100 ms');
    const status = d.readl(bar + DMA_STATUS);
    const irq = d.readl(bar + IRQ_STATUS);
    const want = status === DMA.OK ? IRQ_DMA : IRQ_DMA | IRQ_DMA_ERROR;
    if (irq !== want) fail(`interrupt status 0x${irq.toString(16)} for DMA status ${status}`);
    d.writel(bar + IRQ_ACK, irq);
    return status;
  };
  return {
    pci,
    toBuffer: (src, len, off = 0) => transfer(src, BUF + off, len, false),
    fromBuffer: (dst, len, off = 0) => transfer(dst, BUF + off, len, true),
    copy(src, dst, len) {
      for (let done = 0; done < len; done += BUF_SIZE) {
        const n = Math.min(BUF_SIZE, len - done);
        const r = transfer(src + done, BUF, n, false);
        if (r !== DMA.OK) return r;
        const w = transfer(dst + done, BUF, n, true);
        if (w !== DMA.OK) return w;
      }
      return DMA.OK;
    },
  };
}
