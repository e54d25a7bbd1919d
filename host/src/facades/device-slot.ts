/**
 * A device slot: what the kernel keeps for one device across the plugin instances that serve
 * it (one at a time; a hot reload swaps the instance). Regions, timers and IRQ lines are
 * found again by name, so a new instance that asks for `edu-mmio` gets the same region, still
 * mapped at its BAR, now calling the new instance's callbacks (through a trampoline); a timer
 * keeps its deadline; the PCI function keeps its config space and its DMA context.
 */
import type {
  DeviceScope,
  IrqLine,
  MemoryRegion,
  MsiCapability,
  MsixCapability,
  PciBus,
  PciFunction,
  Timer,
} from '@emuhost/core';
import type { MachinePlatformSlot, MmioAccessRules, MmioOps, PciBarSpec } from '@emuhost/sdk';
import type { HostBackends } from '../backends/host-backends.js';

export interface RegionEntry {
  readonly region: MemoryRegion;
  readonly size: number;
  readonly rules: MmioAccessRules;
  /** The current instance's callbacks. */
  ops: MmioOps;
}

export interface TimerEntry {
  readonly timer: Timer;
  /** The current instance's callback, or null when no instance has claimed the timer. */
  callback: (() => void) | null;
}

export type Placement =
  | { readonly kind: 'pci'; readonly bus: PciBus; readonly devfn: number }
  | {
      readonly kind: 'platform';
      /** Where a named platform IRQ output goes, if anywhere. */
      readonly irq?: (name: string) => ((level: 0 | 1) => void) | undefined;
      /** A free machine slot of a kind (`virtio-mmio`), if the machine has one. */
      readonly slot?: (kind: string) => MachinePlatformSlot | undefined;
    };

/** A machine slot a platform device holds, with the IRQ line the kernel made for it. */
export interface HeldPlatformSlot {
  readonly base: number;
  readonly size: number;
  readonly line: IrqLine;
}

export class DeviceSlot {
  readonly regions = new Map<string, RegionEntry>();
  readonly timers = new Map<string, TimerEntry>();
  readonly irqLines = new Map<string, IrqLine>();
  readonly bars = new Map<number, { readonly spec: PciBarSpec; readonly region: string }>();
  pci: PciFunction | undefined;
  msi: MsiCapability | undefined;
  msix: MsixCapability | undefined;
  /** Capabilities instances added (`pci.addCapability`), in order: a reload finds them again. */
  readonly capabilities: { readonly id: number; readonly size: number; readonly offset: number }[] =
    [];
  /** Machine slots held, by kind (`platform.slot`). */
  readonly platformSlots = new Map<string, HeldPlatformSlot | undefined>();
  /** The current instance's config-write listeners. */
  configWriteListeners: ((offset: number, size: number, value: number) => void)[] = [];
  /** The current instance's config-read listeners (device-specific space only). */
  configReadListeners: ((offset: number, size: number, value: number) => number)[] = [];

  constructor(
    readonly id: string,
    readonly scope: DeviceScope,
    readonly placement: Placement,
    /** The machine's drives, entropy sources and other backends; undefined: none at all. */
    readonly backends?: HostBackends,
  ) {}

  /** The slot's PCI function: guest config writes reach the current instance's listeners. */
  attachPci(fn: PciFunction): void {
    this.pci = fn;
    fn.hooks = {
      write: (o, s, v) => {
        for (const l of this.configWriteListeners) l(o, s, v);
      },
      read: (o, s, v) => {
        // The device reading its own config space (pci.configRead) sees the bytes themselves.
        if (o < 0x40 || this.configReadListeners.length === 0 || this.scope.guard.engaged) return v;
        let out = v;
        // Device code, reached through the host bridge: under the device's guard, as writes.
        this.scope.guard.run('mmio-read', () => {
          for (const l of this.configReadListeners) out = l(o, s, out);
        });
        return out;
      },
    };
  }

  /**
   * What the current instance has bound on the slot (region callbacks, timer callbacks,
   * config-write listeners), as a function that binds it all back: taken before a new
   * instance is created, so that a `create` that fails leaves the slot as it was.
   */
  bindings(): () => void {
    const ops = [...this.regions.values()].map((e) => [e, e.ops] as const);
    const timers = [...this.timers.values()].map((t) => [t, t.callback] as const);
    const listeners = this.configWriteListeners;
    const readers = this.configReadListeners;
    return () => {
      for (const [e, o] of ops) e.ops = o;
      for (const [t, cb] of timers) t.callback = cb;
      this.configWriteListeners = listeners;
      this.configReadListeners = readers;
    };
  }

  /**
   * Unbinds timer callbacks and config-write listeners, so that a new instance starts with
   * only what it claims (regions are rebound by name as it asks for them).
   */
  unbind(): void {
    this.configWriteListeners = [];
    this.configReadListeners = [];
    for (const t of this.timers.values()) t.callback = null;
  }
}
