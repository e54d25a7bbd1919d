/**
 * Running IOMMU plugins: the model is registered with the kernel's DMA service registry
 * behind a trampoline (so a reload can swap the instance under every bound requester), and
 * gets an untranslated DMA context of its own for page-table walks and fault records.
 */
import type { Machine } from '@emuhost/core';
import {
  type DMAContext,
  type DmaAccess,
  EmuhostError,
  type IommuContext,
  type IommuHost,
  type IommuInstance,
  type IommuInvalidation,
  type IommuRequest,
  type Iova,
  type Options,
  type OptionValue,
  type SavedState,
} from '@emuhost/sdk';
import { createDeviceContext } from './facades/device-context.js';
import { DeviceSlot } from './facades/device-slot.js';
import { dmaFacade } from './facades/dma-facade.js';
import { Lifetime } from './facades/lifetime.js';
import type { LoadedPlugin } from './loaded-plugin.js';
import { createLogger, type LogSink, stderrSink } from './log.js';
import { resolveOptions } from './options.js';
import { migrateState } from './state.js';

export interface AddIommuOptions {
  readonly id: string;
  readonly options?: Readonly<Record<string, OptionValue>>;
  readonly state?: SavedState;
  readonly log?: LogSink;
  /** Where its platform IRQ outputs go. */
  readonly irq?: (name: string) => ((l: 0 | 1) => void) | undefined;
}

export class RunningIommu {
  /** The instance translating now (the registry calls it through a trampoline). */
  model!: IommuInstance;
  life!: Lifetime;
  host!: IommuHost;

  constructor(
    readonly id: string,
    public plugin: LoadedPlugin,
    readonly slot: DeviceSlot,
    private readonly machine: Machine,
    /** Its own untranslated DMA context (page-table walks, fault records). */
    private readonly memory: DMAContext,
    readonly options: Options,
    private readonly sink: LogSink,
  ) {}

  saveState(): SavedState {
    const def = this.plugin.definition;
    const data = this.model.saveState?.();
    return {
      version: def.stateVersion ?? 1,
      data: data === undefined ? undefined : structuredClone(data),
    };
  }

  /**
   * Creates an instance of `plugin` on this IOMMU's slot from `state` (migrated if its
   * version differs), without making it current. Throws what `create` throws (its handles
   * are revoked first); the caller decides whether that rolls back.
   */
  createInstance(
    plugin: LoadedPlugin,
    state: SavedState | undefined,
  ): { model: IommuInstance; life: Lifetime; warnings: string[] } {
    const def = plugin.definition;
    const pluginId = plugin.manifest.id;
    if (def.kind !== 'iommu') {
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `'${pluginId}' is a ${def.kind} plugin, not an IOMMU`,
        { plugin: pluginId },
      );
    }
    const life = new Lifetime(pluginId, this.id);
    const log = createLogger(this.sink, `${pluginId}:${this.id}`);
    const { ctx } = createDeviceContext({
      machine: this.machine,
      slot: this.slot,
      life,
      capabilities: plugin.manifest.capabilities,
      options: this.options,
      log,
    });
    const host: IommuHost = Object.freeze({
      invalidate: (scope?: IommuInvalidation) => {
        life.check('host.invalidate');
        this.host.invalidate(scope);
      },
    });
    const ictx: IommuContext = Object.freeze({
      id: this.id,
      options: this.options,
      log,
      get clock() {
        return ctx.clock;
      },
      host,
      memory: dmaFacade(this.memory, life),
      mmio: ctx.mmio,
      platform: ctx.platform!,
    });
    const warnings: string[] = [];
    const restored =
      state === undefined ? undefined : migrateState(def, plugin.realm, state, warnings);
    for (const w of warnings) log.warn(w);
    try {
      const model = plugin.realm.createIommu(ictx, restored);
      if (model === null || typeof model !== 'object')
        throw new Error('create must return an object (the IOMMU model)');
      return { model, life, warnings };
    } catch (e) {
      life.revoke();
      throw e;
    }
  }

  /** Makes a created instance current, revoking the previous one's handles. */
  adopt(plugin: LoadedPlugin, model: IommuInstance, life: Lifetime): void {
    this.life?.revoke();
    this.slot.scope.guard.plugin = plugin.manifest.id;
    this.plugin = plugin;
    this.model = model;
    this.life = life;
  }
}

export function addIommu(
  machine: Machine,
  plugin: LoadedPlugin,
  opts: AddIommuOptions,
): RunningIommu {
  const def = plugin.definition;
  const pluginId = plugin.manifest.id;
  if (def.kind !== 'iommu') {
    throw new EmuhostError(
      'E_BAD_ARGUMENT',
      `'${pluginId}' is a ${def.kind} plugin, not an IOMMU`,
      { plugin: pluginId },
    );
  }
  const options = resolveOptions(def.options, opts.options ?? {}, {
    plugin: pluginId,
    device: opts.id,
  });
  const sink = opts.log ?? stderrSink;
  let running!: RunningIommu;
  machine.attachDevice(opts.id, (scope) => {
    const slot = new DeviceSlot(opts.id, scope, {
      kind: 'platform',
      ...(opts.irq !== undefined && { irq: opts.irq }),
    });
    // Its own memory access: a context on a bus of its own, which no IOMMU binding names.
    const memory = machine.dma.createContext({
      device: opts.id,
      bus: `iommu:${opts.id}`,
      requesterId: 0,
      guard: scope.guard,
    });
    scope.dmaContexts.push(memory);
    scope.onRelease(() => machine.dma.releaseContext(memory));
    running = new RunningIommu(opts.id, plugin, slot, machine, memory, options, sink);
    const r = running;
    machine.dma.addIommu(opts.id, (host) => {
      r.host = host;
      // The registry calls whichever instance is current.
      return {
        translate: (iova: Iova, access: DmaAccess, req: IommuRequest) =>
          r.model.translate(iova, access, req),
        attach: (req) => r.model.attach?.(req),
        detach: (req) => r.model.detach?.(req),
      };
    });
    scope.onRelease(() => machine.dma.removeIommu(opts.id));
    const { model, life } = r.createInstance(plugin, opts.state);
    r.adopt(plugin, model, life);
    return {
      reset: () => r.model.reset?.(),
      unrealize: () => {
        try {
          r.model.dispose?.();
        } finally {
          r.life.revoke();
        }
      },
    };
  });
  return running;
}
