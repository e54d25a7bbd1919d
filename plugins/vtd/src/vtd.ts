/**
 * The one object the model's modules share: the IOMMU context, the configuration chosen by
 * the options, the register state, and the context cache. Both are saved: a reload of the
 * model's code must be invisible to the guest, and a context cache that came back empty would
 * expose context entries the guest edited without invalidating.
 */
import type { IommuContext } from '@emuhost/sdk';
import type { VtdConfig, VtdState } from './registers.js';

/** A present, valid context entry as the walk uses it (VT-d's context-cache entry). */
export interface CachedContext {
  /** DID: the domain the requester belongs to. */
  readonly did: number;
  /** FPD: qualified faults of this requester are neither recorded nor reported. */
  readonly fpd: boolean;
  /** TT = 10b: pass-through (the input address is the output address). */
  readonly passThrough: boolean;
  /** Second-level paging levels (AW = 1: 3 levels; AW = 2: 4 levels). */
  readonly levels: 3 | 4;
  /** SLPTPTR: the top second-level table. */
  readonly slptptr: number;
}

export interface Vtd {
  readonly ctx: IommuContext;
  readonly cfg: VtdConfig;
  s: VtdState;
  /**
   * The context cache: requester id → its context entry, filled on translation and emptied
   * only by context-cache invalidation, SRTP, TE changes and reset (as on hardware, a guest
   * that edits a context entry without invalidating keeps seeing the old one). It also tells
   * which requesters a domain-selective IOTLB invalidation concerns: every requester with
   * translations in the kernel's IOTLB has its context here.
   */
  readonly contexts: Map<number, CachedContext>;
}

/** The context cache as saved state: one plain record per requester. */
export type SavedContext = CachedContext & { readonly rid: number };

export function saveContexts(contexts: ReadonlyMap<number, CachedContext>): SavedContext[] {
  return [...contexts].map(([rid, c]) => ({ rid, ...c }));
}

/** The context cache from saved state, or undefined when `data` is not one (e.g. state v1). */
export function restoreContexts(data: unknown): Map<number, CachedContext> | undefined {
  if (!Array.isArray(data)) return undefined;
  const out = new Map<number, CachedContext>();
  for (const r of data as unknown[]) {
    const x = (r ?? {}) as Record<string, unknown>;
    const { rid, did, fpd, passThrough, levels, slptptr } = x;
    if (
      !Number.isInteger(rid) ||
      !Number.isInteger(did) ||
      typeof fpd !== 'boolean' ||
      typeof passThrough !== 'boolean' ||
      (levels !== 3 && levels !== 4) ||
      !Number.isSafeInteger(slptptr)
    )
      return undefined;
    out.set(rid as number, {
      did: did as number,
      fpd,
      passThrough,
      levels,
      slptptr: slptptr as number,
    });
  }
  return out;
}

/** Drops every cached context and every translation the kernel cached for this IOMMU. */
export function flushAll(v: Vtd): void {
  v.contexts.clear();
  v.ctx.host.invalidate({});
}
