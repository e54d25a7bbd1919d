/**
 * An empty virtio-mmio slot: what QEMU's virtio-mmio transport answers when no device is
 * plugged into it (hw/virtio/virtio-mmio.c): the magic value, version 2, device ID 0 (no
 * device: Linux's virtio_mmio driver then leaves the slot alone) and QEMU's vendor ID; every
 * other register reads 0 and writes are ignored.
 */
import type { MmioOps } from '@emuhost/sdk';

const MAGIC = 0x74726976; // "virt"
const VERSION = 2;
const VENDOR = 0x554d4551; // "QEMU"

export function emptyVirtioMmio(): MmioOps {
  return {
    read: (offset) => {
      switch (offset) {
        case 0x000:
          return MAGIC;
        case 0x004:
          return VERSION;
        case 0x00c:
          return VENDOR;
        default:
          return 0;
      }
    },
    write: () => undefined,
  };
}
