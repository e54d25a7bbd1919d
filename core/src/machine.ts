/**
 * A machine: one instance of the kernel's services (memory and I/O address spaces, the
 * virtual clock, the DMA service registry, buses and interrupt controllers, hooks) and the
 * lifecycle of the devices attached to it.
 *
 * It constructs no device and knows no device model: machine definitions and device plugins
 * build on it. A device is a realize function run in a fresh `DeviceScope`; whatever it
 * acquires through the scope is released when it is detached.
 */
import { type CpuModel, EmuhostError, type GuestPhysAddr, type IoPortAddr } from '@emuhost/sdk';
import { VirtualClock } from './clock/virtual-clock.js';
import { KernelCpuMemory } from './cpu/cpu-memory.js';
import { CpuScheduler, type ScheduledCpu, type SchedulerOptions } from './cpu/cpu-scheduler.js';
import { WatchHub } from './cpu/watch-hub.js';
import { DeviceScope } from './device/device-scope.js';
import type { KernelServices } from './device/services.js';
import { DmaRegistry, type DmaRegistryOptions } from './dma/registry.js';
import { DeviceGuard } from './guard.js';
import { createKernelHooks, type KernelHooks } from './hooks.js';
import { InterruptController } from './irq/interrupt-controller.js';
import type { AddressSpace } from './memory/address-space.js';
import { createMemorySystem, type MemorySystem } from './memory/memory-system.js';
import type { MemoryRegion } from './memory/region.js';
import type { PciBus } from './pci/pci-bus.js';
import { PlatformBus } from './platform/platform-bus.js';

/** What a realized device gives back: how to reset and unrealize it. Both optional. */
export interface DeviceInstance {
  /** Device-specific reset (after the kernel's generic reset of its PCI functions). */
  reset?(): void;
  /** Last words before its resources are released. */
  unrealize?(): void;
}

export interface AttachedDevice {
  readonly id: string;
  readonly scope: DeviceScope;
  readonly instance: DeviceInstance;
}

export interface MachineOptions {
  readonly name?: string;
  /** Size of the system memory space. Default 2^53 (all exact addresses). */
  readonly memorySize?: number;
  readonly dma?: DmaRegistryOptions;
  /** How CPUs are scheduled against the clock (deterministic by default). */
  readonly cpus?: SchedulerOptions;
}

export class Machine implements KernelServices {
  readonly name: string;
  readonly hooks: KernelHooks = createKernelHooks();
  readonly memorySystem: MemorySystem;
  /** The root of system memory: machine definitions place RAM, ROM and buses in it. */
  readonly systemMemory: MemoryRegion;
  /** The root of the 64 KiB port I/O space. */
  readonly systemIo: MemoryRegion;
  readonly memory: AddressSpace<GuestPhysAddr>;
  readonly io: AddressSpace<IoPortAddr>;
  readonly clock = new VirtualClock();
  readonly dma: DmaRegistry;
  readonly pciBuses = new Map<string, PciBus>();
  readonly platformBuses = new Map<string, PlatformBus>();
  readonly interruptControllers = new Map<string, InterruptController>();
  /** The CPUs and how they share the clock. */
  readonly cpus: CpuScheduler;
  /** Where CPUs' page watches meet the memory system. */
  readonly watchHub: WatchHub;
  /**
   * Whether the machine has somewhere for MSI writes to land (an MSI window): QEMU's
   * `msi_nonbroken`. Without one, devices get no MSI-X and use INTx.
   */
  msiAvailable = false;
  private readonly devices = new Map<string, AttachedDevice>();

  constructor(opts: MachineOptions = {}) {
    this.name = opts.name ?? 'machine';
    this.memorySystem = createMemorySystem({ hooks: this.hooks });
    this.systemMemory = this.memorySystem.createContainer('system', opts.memorySize ?? 2 ** 53);
    this.systemIo = this.memorySystem.createContainer('io', 0x10000);
    this.memory = this.memorySystem.createAddressSpace('memory', this.systemMemory);
    this.io = this.memorySystem.createAddressSpace('I/O', this.systemIo);
    this.dma = new DmaRegistry(this.memory, this.hooks, opts.dma);
    // Every machine has the platform bus non-PCI devices master DMA on (stream IDs in order).
    this.platformBuses.set('platform', new PlatformBus('platform', this.systemMemory, this.dma));
    this.cpus = new CpuScheduler(this.clock, opts.cpus);
    this.watchHub = new WatchHub(this.memory);
    this.hooks.memory.topologyChanged.tap('emuhost:cpus', (space) => {
      if (space === this.memory.name) this.watchHub.topologyChanged();
    });
  }

  /**
   * Adds a CPU: `create` gets the CPU's memory and clock and returns its model, which the
   * scheduler runs from then on and the watch hub tells about memory it watches.
   */
  addCpu(
    id: string,
    create: (env: { memory: KernelCpuMemory; clock: ScheduledCpu['clock'] }) => CpuModel,
  ): ScheduledCpu {
    const memory = new KernelCpuMemory(this.memory, this.watchHub);
    const cpu = this.cpus.add(id, (s) => create({ memory, clock: s.clock }));
    this.watchHub.add(cpu.model);
    return cpu;
  }

  removeCpu(cpu: ScheduledCpu): void {
    this.cpus.remove(cpu);
    this.watchHub.remove(cpu.model);
  }

  /** Adds an interrupt controller with `inputs` numbered inputs (e.g. `ioapic`, 24). */
  addInterruptController(name: string, inputs: number): InterruptController {
    if (this.interruptControllers.has(name)) {
      throw new EmuhostError('E_DUPLICATE_ID', `an interrupt controller named '${name}' exists`);
    }
    const ic = new InterruptController(name, inputs);
    this.interruptControllers.set(name, ic);
    return ic;
  }

  /**
   * Realizes a device: `realize` runs in a fresh scope under the device's guard and returns
   * its instance. If it throws, everything it acquired is released and an
   * `E_DEVICE_REALIZE` error names the device.
   */
  attachDevice(id: string, realize: (scope: DeviceScope) => DeviceInstance): AttachedDevice {
    if (this.devices.has(id))
      throw new EmuhostError('E_DUPLICATE_ID', 'a device with this id is attached', { device: id });
    const scope = new DeviceScope(id, new DeviceGuard(id, this.hooks), this);
    let instance: DeviceInstance;
    try {
      instance = this.memorySystem.transaction(() => realize(scope));
    } catch (e) {
      scope.release();
      throw new EmuhostError('E_DEVICE_REALIZE', `realize failed: ${messageOf(e)}`, {
        device: id,
      });
    }
    const d: AttachedDevice = { id, scope, instance };
    this.devices.set(id, d);
    this.hooks.device.added.call(id);
    return d;
  }

  /** Unrealizes a device and releases everything it held (hot unplug). */
  detachDevice(id: string): void {
    const d = this.device(id);
    d.scope.guard.run('unrealize', () => d.instance.unrealize?.());
    d.scope.release();
    this.devices.delete(id);
    this.hooks.device.removed.call(id);
  }

  /** Resets one device: its PCI functions' generic reset, then its own. */
  resetDevice(id: string): void {
    const d = this.device(id);
    this.memorySystem.transaction(() => {
      for (const fn of d.scope.pciFunctions) fn.reset();
      d.scope.guard.run('reset', () => d.instance.reset?.());
    });
    this.hooks.device.reset.call(id);
  }

  /** A machine-wide reset: every device, in attach order. */
  reset(): void {
    this.memorySystem.transaction(() => {
      for (const id of this.devices.keys()) this.resetDevice(id);
    });
  }

  device(id: string): AttachedDevice {
    const d = this.devices.get(id);
    if (d === undefined) throw new EmuhostError('E_UNKNOWN_ID', 'no such device', { device: id });
    return d;
  }

  get deviceIds(): string[] {
    return [...this.devices.keys()];
  }

  /**
   * The device whose callback is running now, if any. Changes that must happen between two
   * events (hot reload, IOMMU swap) are refused while one is.
   */
  get busyDevice(): string | undefined {
    for (const [id, d] of this.devices) if (d.scope.guard.engaged) return id;
    return undefined;
  }
}

/** Creates an empty machine: address spaces, clock and DMA registry, no devices. */
export function createMachine(opts: MachineOptions = {}): Machine {
  return new Machine(opts);
}

/** An error's message, whatever realm made it (a plugin's errors are not the host's `Error`s). */
function messageOf(e: unknown): string {
  const m = (e as { message?: unknown } | null)?.message;
  return typeof m === 'string' ? m : String(e);
}
