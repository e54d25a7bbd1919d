/**
 * Test support: the DMA-capable PCI device the tests use is QEMU's edu (plugins/edu), driven
 * by @emuhost/testing's edu guest driver. This is the only file that names the device; a
 * test sees `DmaDevice`.
 */
export {
  EDU_DMA as DMA,
  EDU_OPTIONS,
  type EduDevice as DmaDevice,
  eduDevices,
} from '@emuhost/testing';
