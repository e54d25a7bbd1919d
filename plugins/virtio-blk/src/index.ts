/**
 * virtio-blk-pci / virtio-blk-device: QEMU's virtio block device (hw/block/virtio-blk.c) as an
 * emuhost plugin, on the virtio-pci modern transport (PCI 1af4:1042, class 0x010000) or, as
 * `virtio-blk-device`, on a machine's virtio-mmio slot.
 *
 *   -drive file=disk.img,format=raw,if=none,id=d0[,readonly=on]
 *   -device virtio-blk-pci,drive=d0[,serial=S][,iommu_platform=on,disable-legacy=on]
 *
 * Properties, with QEMU's names and defaults: `drive` (required), `serial` (GET_ID's answer,
 * at most 20 bytes used), `queue-size` (256), `num-queues` (1), `config-wce` (on: the driver
 * may turn the write cache off), `discard` and `write-zeroes` (on), and every virtio device's
 * `iommu_platform`, `disable-legacy`, `disable-modern`, `event_idx`, `indirect_desc`,
 * `vectors` (see @emuhost/virtio), and emuhost's `x-latency-ns` (virtual time each request
 * stays in flight; 0). The model is `blk.ts`, requests in flight `inflight.ts`, the saved
 * state's versions `state.ts`.
 *
 * Durability: a write reaches the image file when the request completes (no buffering of
 * ours); FLUSH is an fsync, so a request completed after a FLUSH survives emuhost being killed,
 * and the host crashing. With the write cache off every write is flushed before it completes.
 */
import { DEVICE_ID, defineVirtioDevice } from '@emuhost/virtio';
import { type BlkState, createBlk } from './blk.js';
import { migrateState, restoreBlkState, STATE_VERSION } from './state.js';

export default defineVirtioDevice<BlkState>({
  deviceId: DEVICE_ID.BLOCK,
  pciClass: 0x010000,
  options: {
    drive: { type: 'string', description: 'the -drive id of the image (required)' },
    serial: { type: 'string', default: '', description: 'the disk serial GET_ID answers' },
    'queue-size': {
      type: 'number',
      default: 256,
      description: 'virtqueue size (2..1024, a power of two)',
    },
    'num-queues': { type: 'number', default: 1, description: 'number of request queues (1..16)' },
    'config-wce': {
      type: 'boolean',
      default: true,
      description: 'offer VIRTIO_BLK_F_CONFIG_WCE: the driver may switch the write cache',
    },
    discard: { type: 'boolean', default: true, description: 'offer VIRTIO_BLK_F_DISCARD' },
    'write-zeroes': {
      type: 'boolean',
      default: true,
      description: 'offer VIRTIO_BLK_F_WRITE_ZEROES',
    },
    'x-latency-ns': {
      type: 'number',
      default: 0,
      description:
        'virtual time from taking a request to completing it, in ns (0: completes inside the notify); for testing requests in flight',
    },
  },
  stateVersion: STATE_VERSION,
  migrateState,
  create(host, saved) {
    const o = host.ctx.options;
    const driveId = o.drive;
    if (typeof driveId !== 'string' || driveId === '')
      throw new Error(
        "virtio-blk: drive property not set (give drive=ID of a '-drive if=none,id=ID')",
      );
    const queueSize = o['queue-size'] as number;
    if (
      !Number.isInteger(queueSize) ||
      queueSize < 2 ||
      queueSize > 1024 ||
      (queueSize & (queueSize - 1)) !== 0
    )
      throw new Error(`virtio-blk: queue-size must be a power of 2 in 2..1024, not ${queueSize}`);
    const numQueues = o['num-queues'] as number;
    if (!Number.isInteger(numQueues) || numQueues < 1 || numQueues > 16)
      throw new Error(`virtio-blk: num-queues must be 1..16, not ${numQueues}`);
    const latencyNs = o['x-latency-ns'] as number;
    if (!Number.isSafeInteger(latencyNs) || latencyNs < 0)
      throw new Error(
        `virtio-blk: x-latency-ns must be a whole number of ns >= 0, not ${latencyNs}`,
      );
    const drive = host.ctx.block!(driveId);
    return createBlk(
      host,
      drive,
      {
        serial: String(o.serial ?? ''),
        queueSize,
        numQueues,
        configWce: o['config-wce'] !== false,
        discard: o.discard !== false,
        writeZeroes: o['write-zeroes'] !== false,
        latencyNs,
      },
      restoreBlkState(saved),
    );
  },
});
