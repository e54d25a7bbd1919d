/**
 * Test support: a DMA-capable PCI device as the tests use it. Only `copy` is device-specific,
 * so another device (QEMU's edu: src 0x80, dst 0x88, count 0x90, cmd 0x98, two transfers
 * through its own buffer) can replace the fixture by changing this file alone.
 */
import type { Driver } from '@emuhost/testing';

export interface DmaDevice {
  /** The requester id its DMA carries (bus << 8 | devfn). */
  readonly requesterId: number;
  /**
   * Has the device copy `len` bytes from IOVA `src` to IOVA `dst` (reading all of `src`
   * first, then writing `dst`) and lets virtual time run until it is done. True when the
   * device reports success.
   */
  copy(src: number, dst: number, len: number): boolean;
}

const VENDOR = 0x1234;
const DEVICE = 0xbeef;

/** Every dma-copy fixture on the machine, enabled (memory decoding and bus mastering). */
export function dmaCopyDevices(d: Driver): DmaDevice[] {
  return d
    .pciDevices()
    .filter((p) => p.vendorId === VENDOR && p.deviceId === DEVICE)
    .map((p) => {
      const bar = p.iomap(0);
      p.enable();
      return {
        requesterId: p.devfn,
        copy(src: number, dst: number, len: number): boolean {
          d.writel(bar.addr + 0x00, src);
          d.writel(bar.addr + 0x04, dst);
          d.writel(bar.addr + 0x08, len);
          d.writel(bar.addr + 0x0c, 1);
          d.clockStep(10_000);
          const ok = d.readl(bar.addr + 0x10) === 0;
          d.writel(bar.addr + 0x10, 0); // lowers its interrupt
          return ok;
        },
      };
    });
}
