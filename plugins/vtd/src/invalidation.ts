/**
 * Invalidation (VT-d spec section 6.5): the context cache and the IOTLB, requested through
 * registers (CCMD, IOTLB_REG with IVA_REG) or through the invalidation queue, both ending in
 * the same two functions here.
 *
 * The kernel owns the IOTLB, one per requester; VT-d tags IOTLB entries by domain. A
 * domain's entries are therefore the kernel entries of the requesters whose cached context
 * entry names that domain (see `Vtd.contexts`). Context-cache invalidation also drops the
 * kernel entries of the requesters it concerns, since their translations came through the
 * context entries being invalidated (hardware may always cache less than it could, so this
 * is never visible as too little invalidation).
 */
import { iova, MAX_ADDR } from '@emuhost/sdk';
import { completionEvent, setIqe } from './faults.js';
import { FSTS_IQE, GSTS_QIES, hawHiMask, join64, MAMV } from './registers.js';
import { flushAll, type Vtd } from './vtd.js';

/** Invalidation granularities as CCMD.CIRG / IOTLB_REG.IIRG / descriptor G encode them. */
export const GLOBAL = 1;
export const DOMAIN = 2;
/** Device-selective (context cache) or page-selective (IOTLB). */
export const SELECTIVE = 3;

/**
 * Context-cache invalidation: global, domain-selective (`did`) or device-selective (`sid`
 * with function mask `fm`: 0 none, 1 masks function bit 2, 2 bits 2:1, 3 bits 2:0). The
 * device-selective form is done by source id alone (the DID it also carries only narrows
 * what hardware must drop). Returns the granularity performed, 0 for an invalid request.
 */
export function invalidateContextCache(
  v: Vtd,
  g: number,
  did: number,
  sid: number,
  fm: number,
): number {
  if (g === GLOBAL) {
    flushAll(v);
    return GLOBAL;
  }
  if (g === DOMAIN) {
    const rids = new Set<number>();
    for (const [rid, c] of v.contexts) if (c.did === did) rids.add(rid);
    for (const rid of rids) v.contexts.delete(rid);
    if (rids.size > 0) v.ctx.host.invalidate({ requesters: (r) => rids.has(r & 0xffff) });
    return DOMAIN;
  }
  if (g === SELECTIVE) {
    const keep = ~[0, 4, 6, 7][fm & 3]! & 0xffff;
    const matches = (r: number) => (r & 0xffff & keep) === (sid & keep);
    for (const rid of [...v.contexts.keys()]) if (matches(rid)) v.contexts.delete(rid);
    v.ctx.host.invalidate({ requesters: matches });
    return SELECTIVE;
  }
  return 0;
}

/**
 * IOTLB invalidation: global, domain-selective or page-selective (the 2^am pages at `addr`,
 * aligned down to that size). Returns the granularity performed, 0 for an invalid request
 * (no granularity, or `am` above MAMV).
 */
export function invalidateIotlb(v: Vtd, g: number, did: number, addr: number, am: number): number {
  const inDomain = (r: number) => v.contexts.get(r & 0xffff)?.did === did;
  if (g === GLOBAL) {
    v.ctx.host.invalidate({});
    return GLOBAL;
  }
  if (g === DOMAIN) {
    v.ctx.host.invalidate({ requesters: inDomain });
    return DOMAIN;
  }
  if (g === SELECTIVE) {
    if (am > MAMV) return 0;
    const len = 2 ** (12 + am);
    const base = Math.floor(addr / len) * len;
    if (base <= MAX_ADDR) v.ctx.host.invalidate({ iova: iova(base), len, requesters: inDomain });
    return SELECTIVE;
  }
  return 0;
}

// ---- the invalidation queue -------------------------------------------------------------

const DESC_CC = 1;
const DESC_IOTLB = 2;
const DESC_WAIT = 5;

const scratch = new Uint8Array(16);
const view = new DataView(scratch.buffer);

/**
 * Runs a 128-bit descriptor given as four dwords (low qword first). Returns undefined when
 * done, or why it is invalid. Descriptor types the model does not support (device-TLB,
 * interrupt entry cache, PASID-based) are invalid, as are reserved bits set.
 */
function runDescriptor(v: Vtd, w0: number, w1: number, w2: number, w3: number): string | undefined {
  const type = w0 & 0xf;
  if (((w0 >>> 9) & 7) !== 0)
    return `descriptor type ${(((w0 >>> 9) & 7) << 4) | type} unsupported`;
  const g = (w0 >>> 4) & 3;
  switch (type) {
    case DESC_CC: {
      if ((w0 & 0xffc0) !== 0 || (w1 & 0xfffc0000) !== 0 || w2 !== 0 || w3 !== 0)
        return 'context-cache descriptor with reserved bits set';
      if (invalidateContextCache(v, g, w0 >>> 16, w1 & 0xffff, (w1 >>> 16) & 3) === 0)
        return 'context-cache descriptor with granularity 0';
      return undefined;
    }
    case DESC_IOTLB: {
      if ((w0 & 0xff00) !== 0 || w1 !== 0 || (w2 & 0xf80) !== 0)
        return 'IOTLB descriptor with reserved bits set';
      const addr = join64(w2 & 0xfffff000, w3 >>> 0);
      if (invalidateIotlb(v, g, w0 >>> 16, addr, w2 & 0x3f) === 0)
        return g === 0 ? 'IOTLB descriptor with granularity 0' : `address mask ${w2 & 0x3f} > MAMV`;
      return undefined;
    }
    case DESC_WAIT: {
      if ((w0 & 0xffffff80) !== 0 || (w2 & 3) !== 0)
        return 'wait descriptor with reserved bits set';
      // FN (fence, bit 6): descriptors run one at a time, in order, so every wait fences.
      if ((w0 & (1 << 5)) !== 0) {
        const addr = join64(w2 & 0xfffffffc, w3 & hawHiMask(v.cfg.haw));
        if (v.ctx.memory.writeU32LE(iova(addr), w1) !== 'ok')
          return `status write to 0x${addr.toString(16)} failed`;
      }
      if ((w0 & (1 << 4)) !== 0) completionEvent(v);
      return undefined;
    }
    default:
      return `descriptor type ${type} unsupported`;
  }
}

/**
 * Fetches and runs descriptors from IQH up to IQT, while queued invalidation is enabled and
 * no queue error is pending. An error sets IQE and leaves IQH at the descriptor that caused
 * it; processing resumes when software clears IQE.
 */
export function processQueue(v: Vtd): void {
  const s = v.s;
  if ((s.gsts & GSTS_QIES) === 0 || (s.fsts & FSTS_IQE) !== 0) return;
  if (s.iqt >= s.iqEntries) {
    setIqe(v, `IQT ${s.iqt} past the queue's ${s.iqEntries} descriptors`);
    return;
  }
  while (s.iqh !== s.iqt) {
    if (v.ctx.memory.read(iova(s.iqBase + s.iqh * 16), scratch) !== 'ok') {
      setIqe(v, 'descriptor fetch failed');
      return;
    }
    const why = runDescriptor(
      v,
      view.getUint32(0, true),
      view.getUint32(4, true),
      view.getUint32(8, true),
      view.getUint32(12, true),
    );
    if (why !== undefined) {
      setIqe(v, why);
      return;
    }
    s.iqh = (s.iqh + 1) % s.iqEntries;
  }
}
