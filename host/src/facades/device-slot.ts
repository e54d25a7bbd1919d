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
  PciBus,
  PciFunction,
  Timer,
} from '@emuhost/core';
import type { MmioAccessRules, MmioOps, PciBarSpec } from '@emuhost/sdk';

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
    };

export class DeviceSlot {
  readonly regions = new Map<string, RegionEntry>();
  readonly timers = new Map<string, TimerEntry>();
  readonly irqLines = new Map<string, IrqLine>();
  readonly bars = new Map<number, { readonly spec: PciBarSpec; readonly region: string }>();
  pci: PciFunction | undefined;
  msi: MsiCapability | undefined;
  /** The current instance's config-write listeners. */
  configWriteListeners: ((offset: number, size: number, value: number) => void)[] = [];

  constructor(
    readonly id: string,
    readonly scope: DeviceScope,
    readonly placement: Placement,
  ) {}

  /** The slot's PCI function: guest config writes reach the current instance's listeners. */
  attachPci(fn: PciFunction): void {
    this.pci = fn;
    fn.hooks = {
      write: (o, s, v) => {
        for (const l of this.configWriteListeners) l(o, s, v);
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
    return () => {
      for (const [e, o] of ops) e.ops = o;
      for (const [t, cb] of timers) t.callback = cb;
      this.configWriteListeners = listeners;
    };
  }

  /**
   * Unbinds timer callbacks and config-write listeners, so that a new instance starts with
   * only what it claims (regions are rebound by name as it asks for them).
   */
  unbind(): void {
    this.configWriteListeners = [];
    for (const t of this.timers.values()) t.callback = null;
  }
}
