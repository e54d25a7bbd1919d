/**
 * The numbers of the virtio 1.x specification (OASIS virtio v1.2) that every transport and
 * device shares: device status bits, reserved feature bits, device ids, split-ring flags.
 */

/** Device status (2.1): what the driver has done so far. */
export const STATUS = {
  ACKNOWLEDGE: 1,
  DRIVER: 2,
  DRIVER_OK: 4,
  FEATURES_OK: 8,
  /** Set by the device when it cannot go on without a reset (2.1.2). */
  DEVICE_NEEDS_RESET: 64,
  FAILED: 128,
} as const;

/** Reserved feature bits (6), as bit numbers. */
export const F = {
  /** 2.7.5.3: descriptors may point at a table of descriptors. */
  INDIRECT_DESC: 28,
  /** 2.7.7.2/2.7.10: used_event and avail_event suppress notifications. */
  EVENT_IDX: 29,
  /** A virtio 1.x device (no legacy interface). */
  VERSION_1: 32,
  /** The device's DMA goes through the platform's IOMMU (VIRTIO_F_IOMMU_PLATFORM before 1.1). */
  ACCESS_PLATFORM: 33,
} as const;

/** A feature bit's mask. */
export const bit = (n: number): bigint => 1n << BigInt(n);

/** Device ids (5). */
export const DEVICE_ID = {
  NET: 1,
  BLOCK: 2,
  CONSOLE: 3,
  ENTROPY: 4,
} as const;

/** Split-ring descriptor flags (2.7.5). */
export const DESC = { NEXT: 1, WRITE: 2, INDIRECT: 4 } as const;
/** avail->flags: the driver asks for no interrupts (ignored under EVENT_IDX). */
export const AVAIL_F_NO_INTERRUPT = 1;

/** The largest split-queue size (2.7). */
export const MAX_QUEUE_SIZE = 32768;
/**
 * The most descriptors one chain may have, indirect tables included: QEMU's
 * VIRTQUEUE_MAX_SIZE, the bound it maps a chain into. A chain past it is an error.
 */
export const MAX_CHAIN = 1024;
/** A PCI MSI-X vector number meaning "no vector" (4.1.4.3). */
export const NO_VECTOR = 0xffff;

/** Interrupt status bits (ISR on PCI, InterruptStatus on MMIO). */
export const ISR = { QUEUE: 1, CONFIG: 2 } as const;

/** u16 arithmetic of ring indexes. */
export const u16 = (n: number): number => n & 0xffff;

/** vring_need_event (2.7.10): whether moving the used index from `old` to `next` passes `event`. */
export function needEvent(event: number, next: number, old: number): boolean {
  return u16(next - event - 1) < u16(next - old);
}
