/**
 * Running device plugins in a machine: placing a device on a bus, validating its options,
 * creating its instance from (possibly migrated) saved state, and removing it.
 *
 * The kernel side of a device (its slot: PCI function, regions, timers, IRQ lines) is made
 * once; the plugin instance on top of it can be replaced (`createInstance` + `adopt`, from
 * `PluginSlot`), which is what restart and hot reload build on.
 */
import type { DeviceInstance, Machine, PlatformBus } from '@emuhost/core';
import {
  type DeviceModel,
  EmuhostError,
  type MachinePlatformSlot,
  type OptionValue,
  type SavedState,
} from '@emuhost/sdk';
import type { HostBackends } from './backends/host-backends.js';
import { DeviceSlot, type Placement } from './facades/device-slot.js';
import type { LoadedPlugin } from './loaded-plugin.js';
import { type LogSink, stderrSink } from './log.js';
import { resolveOptions } from './options.js';
import { type CreatedInstance, PluginSlot } from './plugin-slot.js';

export type PlacementRequest =
  | { readonly kind: 'pci'; readonly bus: string; readonly devfn?: number }
  | {
      readonly kind: 'platform';
      readonly bus: string;
      readonly irq?: (name: string) => ((l: 0 | 1) => void) | undefined;
      /** The machine's free slot of a kind (`MachineModel.platformSlot`). */
      readonly slot?: (kind: string) => MachinePlatformSlot | undefined;
    };

export interface AddDeviceOptions {
  readonly id: string;
  readonly placement: PlacementRequest;
  readonly options?: Readonly<Record<string, OptionValue>>;
  /** Resume from this state instead of a fresh device. */
  readonly state?: SavedState;
  readonly log?: LogSink;
  /** The drives and other backends the device may name; default none. */
  readonly backends?: HostBackends;
}

export class RunningDevice extends PluginSlot<DeviceModel> {
  /** Creates an instance of `plugin` on this device's slot (see `PluginSlot.instantiate`). */
  createInstance(
    plugin: LoadedPlugin,
    state: SavedState | undefined,
  ): CreatedInstance<DeviceModel> {
    return this.instantiate(plugin, state, 'device', ({ ctx, restored }) =>
      plugin.realm.createDevice(ctx, restored),
    );
  }

  /**
   * Restarts a quarantined (or any) device: a fresh instance of `plugin` (default: the
   * current one; pass a respawned plugin when its isolated worker was killed) with fresh
   * state, then a device reset. Returns the warnings of the new instance.
   */
  restart(plugin: LoadedPlugin = this.plugin): string[] {
    this.slot.scope.restart();
    const { model, life, warnings } = this.createInstance(plugin, undefined);
    this.adopt(plugin, model, life);
    this.machine.resetDevice(this.id);
    return warnings;
  }

  /** The kernel's view of the device, which always calls the current instance. */
  asInstance(): DeviceInstance {
    return {
      reset: () => this.model.reset?.(),
      unrealize: () => {
        try {
          this.model.dispose?.();
        } finally {
          this.life.revoke();
        }
      },
    };
  }
}

/** Places and realizes a device plugin in `machine`. */
export function addDevice(
  machine: Machine,
  plugin: LoadedPlugin,
  opts: AddDeviceOptions,
): RunningDevice {
  const def = plugin.definition;
  const pluginId = plugin.manifest.id;
  if (def.kind !== 'device') {
    throw new EmuhostError(
      'E_BAD_ARGUMENT',
      `'${pluginId}' is a ${def.kind} plugin, not a device`,
      { plugin: pluginId },
    );
  }
  const options = resolveOptions(def.options, opts.options ?? {}, {
    plugin: pluginId,
    device: opts.id,
  });
  let running!: RunningDevice;
  machine.attachDevice(opts.id, (scope) => {
    const p = opts.placement;
    let placement: Placement;
    if (p.kind === 'pci') {
      const bus = machine.pciBuses.get(p.bus);
      if (bus === undefined)
        throw new EmuhostError('E_UNKNOWN_ID', `no PCI bus '${p.bus}'`, { device: opts.id });
      if (def.pci === undefined)
        throw new EmuhostError('E_BAD_ARGUMENT', `'${pluginId}' is not a PCI device`, {
          device: opts.id,
        });
      const slotNo = p.devfn === undefined ? bus.freeSlot(bus.firstSlot) : undefined;
      if (p.devfn === undefined && slotNo === undefined)
        throw new EmuhostError('E_BAD_ARGUMENT', `${p.bus} has no free slot`, { device: opts.id });
      placement = { kind: 'pci', bus, devfn: p.devfn ?? slotNo! << 3 };
    } else {
      if (def.platform !== true)
        throw new EmuhostError('E_BAD_ARGUMENT', `'${pluginId}' cannot sit on the platform bus`, {
          device: opts.id,
        });
      placement = {
        kind: 'platform',
        ...(p.irq !== undefined && { irq: p.irq }),
        ...(p.slot !== undefined && { slot: p.slot }),
      };
    }
    const slot = new DeviceSlot(opts.id, scope, placement, opts.backends);
    if (opts.backends !== undefined) {
      const b = opts.backends;
      scope.onRelease(() => b.release(opts.id));
    }
    if (placement.kind === 'pci') {
      const caps = plugin.manifest.capabilities;
      const fn = scope.attachPci(placement.bus, placement.devfn, {
        ...def.pci!,
        interruptPin: def.pci!.interruptPin ?? (caps.includes('irq') ? 1 : 0),
      });
      slot.attachPci(fn);
    } else if (plugin.manifest.capabilities.includes('dma')) {
      const bus = machine.platformBuses.get(p.bus) as PlatformBus | undefined;
      if (bus === undefined)
        throw new EmuhostError('E_UNKNOWN_ID', `no platform bus '${p.bus}'`, { device: opts.id });
      scope.platformDma(bus);
    }
    running = new RunningDevice(opts.id, plugin, slot, machine, options, opts.log ?? stderrSink);
    const { model, life } = running.createInstance(plugin, opts.state);
    running.adopt(plugin, model, life);
    return running.asInstance();
  });
  return running;
}
