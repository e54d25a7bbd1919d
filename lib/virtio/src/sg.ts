/**
 * Scatter-gather lists of a chain, read and written at an offset: how a device reaches the
 * header, the data and the status byte of a request whose buffers the driver split however
 * it liked (2.6.4: a device must not assume any particular layout of a chain).
 */
import type { DMAContext, DmaError, DmaSgEntry } from '@emuhost/sdk';

/** The part of `sg` that covers bytes [offset, offset + len) of the list. */
export function sgSlice(sg: readonly DmaSgEntry[], offset: number, len: number): DmaSgEntry[] {
  const out: DmaSgEntry[] = [];
  let skip = offset;
  let want = len;
  for (const e of sg) {
    if (want <= 0) break;
    if (skip >= e.len) {
      skip -= e.len;
      continue;
    }
    const n = Math.min(e.len - skip, want);
    out.push({ addr: (e.addr + skip) as DmaSgEntry['addr'], len: n });
    want -= n;
    skip = 0;
  }
  return out;
}

/** What a transfer did: bytes moved, and the failure that stopped it, if any. */
export interface SgTransfer {
  readonly transferred: number;
  readonly error?: DmaError;
}

/** Reads `into.length` bytes of the list from `offset` (fewer when the list ends first). */
export function sgRead(
  dma: DMAContext,
  sg: readonly DmaSgEntry[],
  offset: number,
  into: Uint8Array,
): SgTransfer {
  const r = dma.readSg(sgSlice(sg, offset, into.length), into);
  return r.result === 'ok'
    ? { transferred: r.transferred }
    : { transferred: r.transferred, error: r.result };
}

/** Writes `data` into the list from `offset` (less when the list ends first). */
export function sgWrite(
  dma: DMAContext,
  sg: readonly DmaSgEntry[],
  offset: number,
  data: Uint8Array,
): SgTransfer {
  const r = dma.writeSg(sgSlice(sg, offset, data.length), data);
  return r.result === 'ok'
    ? { transferred: r.transferred }
    : { transferred: r.transferred, error: r.result };
}
