/**
 * The plugin's saved state, version by version, and the migration from each older one. The
 * whole state is @emuhost/virtio's (core, transport, and `device`: the model's own part);
 * only the model's part has changed so far.
 *
 * - v1 (1.0.0): `device` is `{ writeback }`. Requests completed inside the notify, so no
 *   request was ever in flight in a v1 state.
 * - v2 (1.1.0): `device` adds `inflight`, the requests taken and not yet completed
 *   (`inflight.ts`); a v1 state migrates with none.
 */
import type { BlkState } from './blk.js';
import { restoreInflight } from './inflight.js';

export const STATE_VERSION = 2;

interface Whole {
  readonly device?: unknown;
}

/** A v1 state as v2; undefined for a version this code does not know (the device resets). */
export function migrateState(from: number, data: unknown): unknown {
  if (from !== 1 || typeof data !== 'object' || data === null) return undefined;
  const device = ((data as Whole).device ?? {}) as { writeback?: unknown };
  return { ...data, device: { writeback: device.writeback ?? 1, inflight: [] } };
}

/** The model's part of a v2 state, checked; a state of another shape throws (never half-used). */
export function restoreBlkState(x: unknown): BlkState | undefined {
  if (x === undefined) return undefined;
  const s = (x ?? {}) as Record<string, unknown>;
  const inflight = restoreInflight(s.inflight);
  if ((s.writeback !== 0 && s.writeback !== 1) || inflight === undefined)
    throw new Error('virtio-blk: the saved state is not a version 2 state');
  return { writeback: s.writeback, inflight };
}
