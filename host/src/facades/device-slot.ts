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
}
