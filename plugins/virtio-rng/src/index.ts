/**
 * virtio-rng-pci / virtio-rng-device: QEMU's virtio entropy device (hw/virtio/virtio-rng.c)
 * as an emuhost plugin, on virtio-pci modern (PCI 1af4:1044, class 0xff0000) or, as
 * `virtio-rng-device`, a machine's virtio-mmio slot.
 *
 *   -object rng-random,id=rng0,filename=/dev/urandom   (or rng-builtin,id=rng0)
 *   -device virtio-rng-pci[,rng=rng0][,max-bytes=N,period=MS]
 *
 * Without `rng` the device uses a built-in source of its own (QEMU's default rng-builtin):
 * the host's randomness, or, when the machine runs deterministic (the default) or with
 * `-seed`, a seeded stream, the same bytes on every run. The model is `rng.ts`.
 */
import { DEVICE_ID, defineVirtioDevice } from '@emuhost/virtio';
import { createRng, type RngState } from './rng.js';

export default defineVirtioDevice<RngState>({
  deviceId: DEVICE_ID.ENTROPY,
  pciClass: 0xff0000,
  options: {
    rng: {
      type: 'string',
      description: 'the -object rng-random/rng-builtin id (default: a built-in source)',
    },
    'max-bytes': {
      type: 'number',
      default: Number.MAX_SAFE_INTEGER,
      description: 'at most this many bytes per period (QEMU: INT64_MAX, no limit)',
    },
    period: {
      type: 'number',
      default: 65536,
      description: 'the rate limit period, in ms of virtual time',
    },
  },
  stateVersion: 1,
  create(host, saved) {
    const o = host.ctx.options;
    const maxBytes = o['max-bytes'] as number;
    const period = o.period as number;
    if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0)
      throw new Error(`virtio-rng: max-bytes must be a positive integer, not ${maxBytes}`);
    if (!Number.isSafeInteger(period) || period <= 0)
      throw new Error(`virtio-rng: period must be a positive number of ms, not ${period}`);
    const source = host.ctx.entropy!(typeof o.rng === 'string' && o.rng !== '' ? o.rng : undefined);
    return createRng(host, source, { maxBytes, periodNs: period * 1_000_000 }, saved);
  },
});
