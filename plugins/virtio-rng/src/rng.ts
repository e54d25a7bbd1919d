/**
 * The virtio-rng model (virtio 1.2, 5.4): one queue of device-writable buffers, each filled
 * with entropy and given back with the count written. No features, no configuration.
 *
 * The rate limit is QEMU's: at most `maxBytes` per `period` of virtual time. When the quota
 * is spent the remaining buffers wait (they stay available, never popped), and a timer at the
 * period's end refills it and serves them, so nothing is ever in flight between events. A
 * buffer the device cannot write (an IOMMU fault) is given back with what was written before
 * the fault.
 */
import type { EntropySource } from '@emuhost/sdk';
import { sgWrite, type VirtioDevice, type VirtioHost } from '@emuhost/virtio';

/** Bytes of one fill at most: a larger buffer is filled in pieces. */
const CHUNK = 64 * 1024;

export interface RngLimits {
  readonly maxBytes: number;
  readonly periodNs: number;
}

/** The quota left in the current period, and when the period ends (-1: no period running). */
export interface RngState {
  readonly quota: number;
  readonly periodEnd: number;
}

export function createRng(
  host: VirtioHost,
  source: EntropySource,
  limits: RngLimits,
  saved: RngState | undefined,
): VirtioDevice {
  const { ctx, dma } = host;
  let quota = saved?.quota ?? limits.maxBytes;
  const buf = new Uint8Array(CHUNK);
  const refill = ctx.clock.timer('period', () => {
    quota = limits.maxBytes;
    serve();
  });
  if (saved !== undefined && saved.periodEnd >= 0 && !refill.pending) refill.armAt(saved.periodEnd);

  const serve = () => {
    while (quota > 0) {
      const c = host.pop(0);
      if (c === undefined) return;
      const want = Math.min(c.inLen, quota);
      let done = 0;
      while (done < want) {
        const n = source.fill(buf.subarray(0, Math.min(CHUNK, want - done)));
        if (n === 0) break;
        const w = sgWrite(dma, c.in, done, buf.subarray(0, n));
        done += w.transferred;
        if (w.error !== undefined || w.transferred < n) break;
      }
      quota -= done;
      if (!refill.pending && limits.maxBytes < Number.MAX_SAFE_INTEGER)
        refill.armIn(limits.periodNs);
      host.complete(0, c.head, done);
    }
  };

  return {
    features: 0n,
    queueSizes: [8],
    config: new Uint8Array(0),
    queueNotify: () => serve(),
    reset() {
      refill.cancel();
      quota = limits.maxBytes;
    },
    saveState: (): RngState => ({ quota, periodEnd: refill.pending ? refill.deadline : -1 }),
  };
}
