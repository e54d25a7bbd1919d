/**
 * The DMA service registry: where buses and platforms get their devices' DMA contexts, where
 * IOMMU models are registered, and where they are bound to what they translate.
 *
 * Bindings are indirect. A context never holds "its IOMMU"; the registry resolves, for each
 * context, the most specific binding (a device, then the narrowest requester-ID range on its
 * bus, then its bus) and points the context at it. Binding, unbinding or swapping a model
 * therefore never invalidates a handle a device holds: it re-resolves and rebinds in place.
 */
import {
  EmuhostError,
  type GuestPhysAddr,
  type IommuHost,
  type IommuInvalidation,
  type IommuModel,
} from '@emuhost/sdk';
import type { KernelHooks } from '../hooks.js';
import type { AddressSpace } from '../memory/address-space.js';
import { BounceBudget } from './bounce.js';
import { DmaContextImpl, type DmaRequester } from './dma-context.js';
import { IommuInstance } from './iommu-instance.js';
import type { IotlbStats } from './iotlb.js';

/** What an IOMMU is bound to. More specific targets win over less specific ones. */
export type IommuBindingTarget =
  | { readonly bus: string; readonly requesterIds?: readonly [first: number, last: number] }
  | { readonly device: string };

export interface DmaRegistryOptions {
  /** Bytes of MMIO bounce buffers that may be mapped at once. Default 64 KiB. */
  readonly bounceLimit?: number;
  /** IOTLB entries per context. Default 512. */
  readonly iotlbCapacity?: number;
}

/** What a rebind (or a refresh of one model) did to the contexts it touched. */
export interface RebindSummary {
  /** Contexts whose translation changed (or was refreshed). */
  readonly contexts: number;
  /** IOTLB entries dropped from them. */
  readonly flushedEntries: number;
  /** Live mappings re-translated through the new translation. */
  readonly retranslated: number;
  /** Of those, the ones it refused or moved: invalidated, their holders told. */
  readonly revoked: number;
}

interface Binding {
  readonly target: IommuBindingTarget;
  readonly iommu: IommuInstance | null;
}

/** A row of `info iommu`: one requester, what translates it, and its IOTLB. */
export interface DmaContextInfo {
  readonly device: string;
  readonly bus: string;
  readonly requesterId: number;
  readonly iommu: string | null;
  /**
   * True while the context bypasses the IOMMU at its device's request (`bypassIommu`: a
   * virtio device without VIRTIO_F_ACCESS_PLATFORM); `iommu` is then null and `boundIommu`
   * says what it steps around.
   */
  readonly bypass: boolean;
  /** The IOMMU its bindings name, bypassed or not. */
  readonly boundIommu: string | null;
  readonly blocked: string | null;
  readonly liveMappings: number;
  readonly iotlb: IotlbStats;
}

export class DmaRegistry {
  private readonly contexts = new Set<DmaContextImpl>();
  private readonly iommus = new Map<string, IommuInstance>();
  private bindings: Binding[] = [];
  private readonly bounce: BounceBudget;
  /** Whether the DMA trace hook has been tapped (then every context checks a flag of its own). */
  private tracing = false;

  constructor(
    private readonly memory: AddressSpace<GuestPhysAddr>,
    private readonly hooks: KernelHooks,
    private readonly opts: DmaRegistryOptions = {},
  ) {
    this.bounce = new BounceBudget(opts.bounceLimit);
    // Transfers check one field of their own context; it flips when the trace hook is tapped.
    hooks.dma.transfer.intercept({
      register: (tap) => {
        this.tracing = true;
        for (const c of this.contexts) c.tracing = true;
        return tap;
      },
    });
  }

  /** A DMA context for a requester; the bus or platform calls this when a device attaches. */
  createContext(requester: DmaRequester): DmaContextImpl {
    const ctx = new DmaContextImpl(
      requester,
      this.memory,
      this.bounce,
      this.hooks,
      this.opts.iotlbCapacity,
    );
    ctx.tracing = this.tracing;
    this.contexts.add(ctx);
    const mmu = this.resolve(ctx);
    if (mmu !== null) ctx.rebind(mmu);
    return ctx;
  }

  /** Revokes a context for good (device unplugged): its DMA is refused, mappings invalidated. */
  releaseContext(ctx: DmaContextImpl): void {
    if (!this.contexts.delete(ctx)) return;
    ctx.revoke();
    ctx.rebind(null);
  }

  /**
   * Registers an IOMMU model under a unique name. `create` receives the host interface the
   * model uses to invalidate; the model is not bound to anything yet.
   */
  addIommu(name: string, create: (host: IommuHost) => IommuModel): IommuInstance {
    if (this.iommus.has(name)) {
      throw new EmuhostError('E_DUPLICATE_ID', `an IOMMU named '${name}' is already registered`);
    }
    let inst: IommuInstance | undefined;
    const host: IommuHost = { invalidate: (scope) => this.invalidate(inst!, scope ?? {}) };
    inst = new IommuInstance(name, create(host));
    this.iommus.set(name, inst);
    return inst;
  }

  /** Unregisters a model; everything bound to it falls back to the next binding (or none). */
  removeIommu(name: string): void {
    const inst = this.iommu(name);
    this.bindings = this.bindings.filter((b) => b.iommu !== inst);
    this.iommus.delete(name);
    this.reresolve();
  }

  iommu(name: string): IommuInstance {
    const inst = this.iommus.get(name);
    if (inst === undefined) throw new EmuhostError('E_UNKNOWN_ID', `no IOMMU named '${name}'`);
    return inst;
  }

  /**
   * Binds `iommu` (a registered name, or null for "no IOMMU, identity") to a target,
   * replacing any binding of the same target. Every affected context is rebound at once.
   */
  bind(target: IommuBindingTarget, iommu: string | null): RebindSummary {
    const inst = iommu === null ? null : this.iommu(iommu);
    checkTarget(target);
    this.bindings = this.bindings.filter((b) => !sameTarget(b.target, target));
    this.bindings.push({ target, iommu: inst });
    return this.reresolve();
  }

  /** Removes the binding of exactly this target. */
  unbind(target: IommuBindingTarget): RebindSummary {
    this.bindings = this.bindings.filter((b) => !sameTarget(b.target, target));
    return this.reresolve();
  }

  /** The bindings in force: each target and the IOMMU it names (null: none). */
  bindingList(): { readonly target: IommuBindingTarget; readonly iommu: string | null }[] {
    return this.bindings.map((b) => ({ target: b.target, iommu: b.iommu?.name ?? null }));
  }

  /** The IOMMU a binding for exactly `target` names: an id, null (none), or undefined (no such binding). */
  boundTo(target: IommuBindingTarget): string | null | undefined {
    const b = this.bindings.find((x) => sameTarget(x.target, target));
    return b === undefined ? undefined : (b.iommu?.name ?? null);
  }

  /**
   * Re-translates everything `name` translates, as a rebind to itself does: every bound
   * context's IOTLB is flushed and its live mappings re-translated (the ones that no longer
   * land on the same bytes are invalidated). For when the model behind a name was replaced
   * (an IOMMU plugin reloaded). Attach/detach are not called: the caller knows which
   * instance left and which came.
   */
  refresh(name: string): RebindSummary {
    const inst = this.iommu(name);
    let contexts = 0;
    let flushedEntries = 0;
    let retranslated = 0;
    let revoked = 0;
    for (const c of this.contexts) {
      if (c.iommu !== inst) continue;
      contexts++;
      flushedEntries += c.iotlb.size;
      retranslated += liveCount(c);
      const n = c.retranslate();
      revoked += n;
      this.hooks.iommu.rebind.call({
        device: c.requester.device,
        requesterId: c.requester.requesterId,
        from: name,
        to: name,
        revokedMappings: n,
      });
    }
    return { contexts, flushedEntries, retranslated, revoked };
  }

  /**
   * Makes `ctx` bypass whatever IOMMU its bindings name (`true`: IOVAs are guest-physical
   * addresses), or resolve through them again (`false`). The context is rebound in place, as
   * for a binding change: its IOTLB flushed, live mappings re-translated, the rebind hook
   * told. What QEMU does for a virtio device without VIRTIO_F_ACCESS_PLATFORM, recorded here,
   * per context, so that `info iommu` shows it.
   */
  setBypass(ctx: DmaContextImpl, bypass: boolean): RebindSummary {
    if (!this.contexts.has(ctx) || ctx.bypass === bypass)
      return { contexts: 0, flushedEntries: 0, retranslated: 0, revoked: 0 };
    ctx.bypass = bypass;
    return this.reresolve();
  }

  /** Bytes of bounce buffers mapped now (MMIO-backed `map`s not yet released). */
  get bounceInUse(): number {
    return this.bounce.used;
  }

  /** One row per context, for `info iommu` views. */
  info(): DmaContextInfo[] {
    return [...this.contexts].map((c) => ({
      device: c.requester.device,
      bus: c.requester.bus,
      requesterId: c.requester.requesterId,
      iommu: c.iommu?.name ?? null,
      bypass: c.bypass,
      boundIommu: this.resolveBinding(c)?.name ?? null,
      blocked: c.blocked,
      liveMappings: c.mappings.size,
      iotlb: c.iotlb.stats(),
    }));
  }

  private invalidate(inst: IommuInstance, scope: IommuInvalidation): void {
    let entries = 0;
    let mappings = 0;
    const iova = scope.iova ?? 0;
    const len = scope.iova === undefined ? 2 ** 53 : (scope.len ?? 1);
    for (const c of this.contexts) {
      if (c.iommu !== inst) continue;
      if (scope.requesters !== undefined && !scope.requesters(c.requester.requesterId)) continue;
      const r = c.invalidate(iova, len);
      entries += r.entries;
      mappings += r.mappings;
    }
    const h = this.hooks.iommu.invalidate;
    if (h.taps.length !== 0) h.call({ iommu: inst.name, scope, entries, mappings });
  }

  private reresolve(): RebindSummary {
    let contexts = 0;
    let flushedEntries = 0;
    let retranslated = 0;
    let revoked = 0;
    for (const c of this.contexts) {
      const next = this.resolve(c);
      if (next === c.iommu) continue;
      const from = c.iommu?.name ?? null;
      contexts++;
      flushedEntries += c.iotlb.size;
      retranslated += liveCount(c);
      const revokedMappings = c.rebind(next);
      revoked += revokedMappings;
      this.hooks.iommu.rebind.call({
        device: c.requester.device,
        requesterId: c.requester.requesterId,
        from,
        to: next?.name ?? null,
        revokedMappings,
      });
    }
    return { contexts, flushedEntries, retranslated, revoked };
  }

  /** What translates a context now: nothing while it bypasses, else its binding. */
  private resolve(c: DmaContextImpl): IommuInstance | null {
    return c.bypass ? null : this.resolveBinding(c);
  }

  /** The most specific binding for a context: device, narrowest RID range, bus. */
  private resolveBinding(c: DmaContextImpl): IommuInstance | null {
    const { device, bus, requesterId } = c.requester;
    let best: Binding | undefined;
    let bestRank = Number.POSITIVE_INFINITY;
    for (const b of this.bindings) {
      const t = b.target;
      let rank: number;
      if ('device' in t) rank = t.device === device ? -1 : Number.NaN;
      else if (t.bus !== bus) rank = Number.NaN;
      else if (t.requesterIds === undefined) rank = 2 ** 32;
      else {
        const [first, last] = t.requesterIds;
        rank = requesterId >= first && requesterId <= last ? last - first : Number.NaN;
      }
      if (rank < bestRank) {
        best = b;
        bestRank = rank;
      }
    }
    return best?.iommu ?? null;
  }
}

function liveCount(c: DmaContextImpl): number {
  let n = 0;
  for (const m of c.mappings) if (m.valid) n++;
  return n;
}

function checkTarget(t: IommuBindingTarget): void {
  if ('device' in t) return;
  const r = t.requesterIds;
  if (r !== undefined && !(Number.isInteger(r[0]) && Number.isInteger(r[1]) && r[0] <= r[1])) {
    throw new EmuhostError(
      'E_BAD_ARGUMENT',
      `requester-ID range [${r[0]}, ${r[1]}] is empty or not integers`,
    );
  }
}

function sameTarget(a: IommuBindingTarget, b: IommuBindingTarget): boolean {
  if ('device' in a || 'device' in b)
    return 'device' in a && 'device' in b && a.device === b.device;
  const ra = a.requesterIds;
  const rb = b.requesterIds;
  return a.bus === b.bus && ra?.[0] === rb?.[0] && ra?.[1] === rb?.[1];
}
