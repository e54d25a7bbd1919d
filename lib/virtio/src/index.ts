/**
 * @emuhost/virtio: what every virtio device plugin shares, bundled into each one (it imports
 * only the SDK, so a plugin stays one self-contained bundle).
 *
 * - `define.ts`: `defineVirtioDevice`, a virtio device model as a device plugin, with the
 *   options every virtio device takes and the transport chosen by where it is placed.
 * - `core.ts`: status, feature negotiation, queues, interrupts, DEVICE_NEEDS_RESET; the
 *   `VirtioDevice` a model implements and the `VirtioHost` it is given.
 * - `virtqueue.ts`: the split virtqueue: the chain walk (indirect tables, every malformed case
 *   a result), the used ring, EVENT_IDX.
 * - `sg.ts`: reading and writing a chain's buffers at an offset.
 * - `pci.ts`, `mmio.ts`: the virtio-pci (modern) and virtio-mmio (version 2) transports.
 * - `constants.ts`: the specification's numbers.
 */
export {
  AVAIL_F_NO_INTERRUPT,
  bit,
  DESC,
  DEVICE_ID,
  F,
  ISR,
  MAX_CHAIN,
  MAX_QUEUE_SIZE,
  NO_VECTOR,
  needEvent,
  STATUS,
} from './constants.js';
export {
  type CoreOptions,
  type CoreState,
  VirtioCore,
  type VirtioDevice,
  type VirtioHost,
  type VirtioSignals,
} from './core.js';
export {
  COMMON_OPTIONS,
  defineVirtioDevice,
  VIRTIO_PCI_MODERN_BASE,
  VIRTIO_PCI_VENDOR,
  type VirtioDeviceDefinition,
} from './define.js';
export {
  emptyMmioSlotRead,
  MMIO,
  MMIO_MAGIC,
  MMIO_SIZE,
  MMIO_VENDOR_QEMU,
  MmioTransport,
  type MmioTransportState,
} from './mmio.js';
export {
  BAR as VIRTIO_PCI_BAR,
  BAR_SIZE as VIRTIO_PCI_BAR_SIZE,
  CAP as VIRTIO_PCI_CAP,
  COMMON as VIRTIO_PCI_COMMON,
  MSIX_BAR as VIRTIO_PCI_MSIX_BAR,
  NOTIFY_MULTIPLIER as VIRTIO_PCI_NOTIFY_MULTIPLIER,
  PciTransport,
  type PciTransportState,
  REGION as VIRTIO_PCI_REGION,
} from './pci.js';
export { type SgTransfer, sgRead, sgSlice, sgWrite } from './sg.js';
export {
  type Chain,
  isQueueFault,
  type QueueFault,
  type QueueFeatures,
  Virtqueue,
  type VirtqueueState,
} from './virtqueue.js';
