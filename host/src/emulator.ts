/**
 * An emulator: a machine built from a machine plugin, with device and IOMMU plugins added,
 * removed and bound by id. It is what the CLI, the qtest server and the driver API drive.
 */
import type { IommuBindingTarget, Machine, MsiSink, SchedulerOptions } from '@emuhost/core';
import {
  type CharBackend,
  EmuhostError,
  type MachineFirmware,
  type MachineModel,
  type OptionValue,
  type SavedState,
} from '@emuhost/sdk';
import { type BackendsSpec, HostBackends } from './backends/host-backends.js';
import { addCpu, type CpuTraceOptions, type RunningCpu } from './cpu-host.js';
import { addDevice, type RunningDevice } from './device-host.js';
import { addIommu, type RunningIommu } from './iommu-host.js';
import {
  type IommuReloadReport,
  type IommuSwapNext,
  type IommuSwapOptions,
  type IommuSwapReport,
  reloadIommu,
  swapIommu,
} from './iommu-swap.js';
import type { LoadedPlugin } from './loaded-plugin.js';
import type { LogSink } from './log.js';
import { buildMachine } from './machine-host.js';

export interface EmulatorOptions {
  readonly machine: LoadedPlugin;
  /** RAM size in bytes. */
  readonly ramSize: number;
  readonly machineOptions?: Readonly<Record<string, OptionValue>>;
  readonly log?: LogSink;
  /** Firmware and boot images the machine plugin maps (`-bios`, `-kernel`...); default none. */
  readonly firmware?: Partial<MachineFirmware>;
  /**
   * The CPU model (`-cpu`) with the user's options for it. Required when the machine makes
   * CPUs; its `arch` must be the machine's.
   */
  readonly cpu?: {
    readonly plugin: LoadedPlugin;
    readonly options?: Readonly<Record<string, OptionValue>>;
  };
  /** How many CPUs (`-smp`). Default 1. */
  readonly smp?: number;
  /** CPU instruction and interrupt traces. */
  readonly trace?: CpuTraceOptions;
  /** How CPUs share the clock (deterministic by default). */
  readonly scheduler?: SchedulerOptions;
  /** Serial port backends, by port index. */
  readonly serial?: (index: number) => CharBackend | undefined;
  /**
   * Drives, entropy sources and the other backends devices name (`-drive`, `-object rng-*`,
   * `-chardev`). Their files are opened now and closed by `close()`. In deterministic mode
   * (the default) the built-in entropy sources are seeded: with `seed` (QEMU's `-seed`),
   * default 0; in real-time mode they use the host's randomness unless `seed` is given.
   */
  readonly backends?: Omit<BackendsSpec, 'seed'>;
  readonly seed?: number;
}

/**
 * What ended (or will end) a run: the guest asked for it (`poweroff`, `reboot`), or a CPU
 * found it stuck beyond help (`halted`, with the CPU's message; exit code 1).
 */
export interface ShutdownRequest {
  readonly kind: 'poweroff' | 'reboot' | 'halted';
  readonly exitCode: number;
  readonly message?: string;
}

export interface DeviceRequest {
  /** Default: the plugin id and the first free number (`edu0`, `edu1`...). */
  readonly id?: string;
  /** PCI bus; default the machine's default bus. */
  readonly bus?: string;
  readonly devfn?: number;
  /** Put it on the platform bus instead. */
  readonly platform?: boolean;
  readonly options?: Readonly<Record<string, OptionValue>>;
  readonly state?: SavedState;
}

export class Emulator {
  readonly machine: Machine;
  /** The machine plugin the machine was built from. */
  readonly machinePlugin: LoadedPlugin;
  readonly model: MachineModel;
  readonly msi: MsiSink | undefined;
  readonly devices = new Map<string, RunningDevice>();
  readonly iommus = new Map<string, RunningIommu>();
  readonly cpus: RunningCpu[] = [];
  /** The machine's drives, entropy sources and other backends (open until `close`). */
  readonly backends: HostBackends;
  /** Set when the guest asked to power off or reboot; the run loop acts on it. */
  shutdownRequest: ShutdownRequest | undefined;
  private readonly log: LogSink | undefined;
  private isReady = false;

  constructor(opts: EmulatorOptions) {
    const want = opts.machine.definition.cpu;
    const cpu = opts.cpu;
    if (cpu !== undefined && want !== undefined && cpu.plugin.definition.arch !== want.arch)
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `machine '${opts.machine.manifest.id}' runs ${want.arch} CPUs; '${cpu.plugin.manifest.id}' is ${cpu.plugin.definition.arch ?? 'not a CPU'}`,
        { plugin: cpu.plugin.manifest.id },
      );
    const built = buildMachine(opts.machine, {
      ramSize: opts.ramSize,
      ...(opts.machineOptions !== undefined && { options: opts.machineOptions }),
      ...(opts.log !== undefined && { log: opts.log }),
      ...(opts.firmware !== undefined && { firmware: opts.firmware }),
      ...(opts.smp !== undefined && { smp: opts.smp }),
      ...(opts.scheduler !== undefined && { scheduler: opts.scheduler }),
      ...(opts.serial !== undefined && { serial: opts.serial }),
      ...(cpu !== undefined && {
        makeCpu: (
          machine: Machine,
          index: number,
          props: Readonly<Record<string, OptionValue>>,
        ) => {
          const c = addCpu(machine, cpu.plugin, {
            id: `cpu${index}`,
            index,
            props,
            ...(cpu.options !== undefined && { options: cpu.options }),
            ...(opts.log !== undefined && { log: opts.log }),
            ...(opts.trace !== undefined && { trace: opts.trace }),
            onHalt: (id, reason) => {
              this.shutdownRequest ??= { kind: 'halted', exitCode: 1, message: `${id}: ${reason}` };
              this.machine.cpus.stop();
            },
          });
          this.cpus.push(c);
          return c.handle();
        },
      }),
      requestShutdown: (kind, exitCode) => {
        this.shutdownRequest ??= { kind, exitCode };
        this.machine.cpus.stop();
      },
    });
    this.machine = built.machine;
    this.machinePlugin = opts.machine;
    this.model = built.model;
    this.msi = built.msi;
    this.log = opts.log;
    const seed = opts.seed ?? (opts.scheduler?.mode === 'realtime' ? undefined : 0);
    this.backends = new HostBackends(
      {
        ...opts.backends,
        ...(seed !== undefined && { seed }),
      },
      this.machine.clock,
    );
  }

  /** Ends the machine's use of host resources: closes the drives' and entropy sources' files. */
  close(): void {
    this.backends.close();
  }

  /**
   * Completes the machine: the machine plugin's `ready` (device tree, boot images) runs once,
   * after every device was added and before any CPU runs.
   */
  ready(): void {
    if (this.isReady) return;
    this.isReady = true;
    this.machine.memorySystem.transaction(() => this.model.ready?.());
  }

  addDevice(plugin: LoadedPlugin, req: DeviceRequest = {}): RunningDevice {
    const id = req.id ?? this.freshId(plugin.manifest.id);
    const bus = req.bus ?? this.model.defaultPciBus;
    const placement = req.platform
      ? ({
          kind: 'platform',
          bus: 'platform',
          irq: (name: string) => this.model.platformIrq?.(id, name),
          slot: (kind: string) => this.model.platformSlot?.(id, kind),
        } as const)
      : bus === undefined
        ? undefined
        : ({ kind: 'pci', bus, ...(req.devfn !== undefined && { devfn: req.devfn }) } as const);
    if (placement === undefined)
      throw new EmuhostError('E_BAD_ARGUMENT', 'this machine has no PCI bus for the device', {
        device: id,
      });
    const d = addDevice(this.machine, plugin, {
      id,
      placement,
      ...(req.options !== undefined && { options: req.options }),
      ...(req.state !== undefined && { state: req.state }),
      ...(this.log !== undefined && { log: this.log }),
      backends: this.backends,
    });
    this.devices.set(id, d);
    return d;
  }

  removeDevice(id: string): void {
    this.machine.detachDevice(id);
    this.devices.delete(id);
  }

  /**
   * Adds an IOMMU instance. Its platform IRQ outputs (a RISC-V IOMMU's wired interrupts) go
   * where the machine's `platformIrq` wires them, unless `irq` says otherwise.
   */
  addIommu(
    plugin: LoadedPlugin,
    req: {
      id?: string;
      options?: Readonly<Record<string, OptionValue>>;
      state?: SavedState;
      irq?: (name: string) => ((level: 0 | 1) => void) | undefined;
    } = {},
  ): RunningIommu {
    const id = req.id ?? this.freshId(plugin.manifest.id);
    const r = addIommu(this.machine, plugin, {
      id,
      ...(req.options !== undefined && { options: req.options }),
      ...(req.state !== undefined && { state: req.state }),
      ...(this.log !== undefined && { log: this.log }),
      irq: req.irq ?? ((name: string) => this.model.platformIrq?.(id, name)),
    });
    this.iommus.set(id, r);
    return r;
  }

  /** Rebinds what translates `target` under running devices: see `iommu-swap.ts`. */
  swapIommu(
    target: IommuBindingTarget,
    next: IommuSwapNext,
    opts?: IommuSwapOptions,
  ): IommuSwapReport {
    return swapIommu(this, target, next, opts);
  }

  /**
   * Replaces IOMMU `id`'s code with `plugin`'s, keeping its state (or starting from `state`,
   * a snapshot's) and bindings.
   */
  reloadIommu(id: string, plugin: LoadedPlugin, state?: SavedState): IommuReloadReport {
    return reloadIommu(this, id, plugin, state);
  }

  /**
   * Every device's and IOMMU's state, keyed by device id, each versioned by its plugin: what a
   * snapshot stores, and what `addDevice({ state })` resumes from.
   */
  saveState(): Record<string, SavedState & { readonly plugin: string }> {
    const out: Record<string, SavedState & { readonly plugin: string }> = {};
    for (const [id, d] of this.devices)
      out[id] = { plugin: d.plugin.manifest.id, ...d.saveState() };
    for (const [id, m] of this.iommus) out[id] = { plugin: m.plugin.manifest.id, ...m.saveState() };
    return out;
  }

  /** Machine-wide reset: every device and IOMMU, the machine's own registers, every CPU. */
  reset(): void {
    this.machine.reset();
    this.model.reset?.();
    for (const c of this.cpus) c.model.reset();
  }

  private freshId(base: string): string {
    for (let n = 0; ; n++)
      if (!this.machine.deviceIds.includes(`${base}${n}`)) return `${base}${n}`;
  }
}
