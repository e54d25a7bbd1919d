/**
 * Running IOMMU plugins: the model is registered with the kernel's DMA service registry
 * behind a trampoline (so a reload can swap the instance under every bound requester), and
 * gets an untranslated DMA context of its own for page-table walks and fault records.
 */
import type { Machine } from '@emuhost/core';
import {
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
import { ArgChecks, toPlugin } from './facades/checks.js';
import { DeviceSlot } from './facades/device-slot.js';
import { dmaFacade, type KernelDma } from './facades/dma-facade.js';
import type { LoadedPlugin } from './loaded-plugin.js';
import { type LogSink, stderrSink } from './log.js';
import { resolveOptions } from './options.js';
import { type CreatedInstance, PluginSlot } from './plugin-slot.js';

export interface AddIommuOptions {
  readonly id: string;
  readonly options?: Readonly<Record<string, OptionValue>>;
  readonly state?: SavedState;
  readonly log?: LogSink;
  /** Where its platform IRQ outputs go. */
  readonly irq?: (name: string) => ((l: 0 | 1) => void) | undefined;
}

export class RunningIommu extends PluginSlot<IommuInstance> {
  host!: IommuHost;

  constructor(
    id: string,
    plugin: LoadedPlugin,
    slot: DeviceSlot,
    machine: Machine,
    /** Its own untranslated DMA context (page-table walks, fault records). */
    private readonly memory: KernelDma,
    options: Options,
    sink: LogSink,
  ) {
    super(id, plugin, slot, machine, options, sink);
  }

  /** Creates an instance of `plugin` on this IOMMU's slot (see `PluginSlot.instantiate`). */
  createInstance(
    plugin: LoadedPlugin,
    state: SavedState | undefined,
  ): CreatedInstance<IommuInstance> {
    requireIommu(plugin);
    return this.instantiate(plugin, state, 'IOMMU', ({ ctx, life, log, restored }) => {
      const arg = new ArgChecks({ plugin: plugin.manifest.id, device: this.id });
      const host: IommuHost = Object.freeze({
        invalidate: (scope?: IommuInvalidation) => {
          life.check('host.invalidate');
          const s = arg.optObj(scope, 'host.invalidate: scope');
          if (s !== undefined) {
            arg.optNum(s.iova, 'host.invalidate: scope.iova');
            arg.optNum(s.len, 'host.invalidate: scope.len');
            arg.optFn(s.requesters, 'host.invalidate: scope.requesters');
          }
          toPlugin(() => this.host.invalidate(scope));
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
        memory: dmaFacade(this.memory, life, arg),
        mmio: ctx.mmio,
        platform: ctx.platform!,
      });
      return plugin.realm.createIommu(ictx, restored);
    });
  }
}

/** Refuses a plugin that is not an IOMMU, naming it. */
function requireIommu(plugin: LoadedPlugin): void {
  const def = plugin.definition;
  if (def.kind !== 'iommu') {
    const pluginId = plugin.manifest.id;
    throw new EmuhostError(
      'E_BAD_ARGUMENT',
      `'${pluginId}' is a ${def.kind} plugin, not an IOMMU`,
      {
        plugin: pluginId,
      },
    );
  }
}

export function addIommu(
  machine: Machine,
  plugin: LoadedPlugin,
  opts: AddIommuOptions,
): RunningIommu {
  requireIommu(plugin);
  const def = plugin.definition;
  const pluginId = plugin.manifest.id;
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
