/**
 * A device scope: everything one device holds in the kernel (regions it mapped, PCI
 * functions, timers, IRQ lines it drives, DMA contexts), recorded as it is acquired so that
 * detaching the device releases all of it, in reverse order, and nothing leaks.
 */
import type { Timer } from '../clock/virtual-clock.js';
import type { DmaContextImpl } from '../dma/dma-context.js';
import type { DeviceGuard } from '../guard.js';
import { IrqLine, type IrqTrigger } from '../irq/irq-line.js';
import type { MemoryRegion } from '../memory/region.js';
import type { PciBus } from '../pci/pci-bus.js';
import type { PciFunction, PciFunctionSpec } from '../pci/pci-function.js';
import type { PlatformBus } from '../platform/platform-bus.js';
import type { KernelServices } from './services.js';

export class DeviceScope {
  private readonly cleanups: (() => void)[] = [];
  /** The PCI functions this device owns (reset with it). */
  readonly pciFunctions: PciFunction[] = [];
  readonly timers = new Set<Timer>();
  readonly dmaContexts: DmaContextImpl[] = [];
  released = false;

  constructor(
    readonly id: string,
    readonly guard: DeviceGuard,
    private readonly kernel: KernelServices,
  ) {
    // A quarantined device's timers stop and its DMA is refused and unmapped.
    guard.onFault(() => {
      for (const t of this.timers) t.cancel();
      for (const c of this.dmaContexts) c.suspend();
    });
  }

  /** After a quarantine: lets the device's DMA through again (a fresh instance takes over). */
  restart(): void {
    this.guard.restart();
    for (const c of this.dmaContexts) c.resume();
  }

  /** A timer on the virtual clock whose callback runs under this device's guard. */
  createTimer(callback: () => void, name = 'timer'): Timer {
    const t = this.kernel.clock.createTimer(callback, {
      guard: this.guard,
      name: `${this.id}.${name}`,
    });
    this.timers.add(t);
    this.onRelease(() => {
      this.kernel.clock.dropTimer(t);
      this.timers.delete(t);
    });
    return t;
  }

  /** An output line the device drives; lowered when the device goes away. */
  createIrqLine(name: string, trigger: IrqTrigger = 'level'): IrqLine {
    const line = new IrqLine(`${this.id}.${name}`, trigger);
    this.onRelease(() => {
      line.lower();
      line.connect(null);
    });
    return line;
  }

  /** Places `region` in `parent`; removed when the device goes away. */
  mapRegion(parent: MemoryRegion, region: MemoryRegion, offset: number, priority = 0): void {
    parent.addSubregion(region, offset, { priority });
    this.onRelease(() => {
      if (region.parent === parent) parent.removeSubregion(region);
    });
  }

  /** Attaches a PCI function owned by this device; detached (BARs, INTx, DMA) when it goes away. */
  attachPci(bus: PciBus, devfn: number, spec: PciFunctionSpec): PciFunction {
    const fn = bus.attach(this.id, devfn, spec, this.guard);
    this.pciFunctions.push(fn);
    this.dmaContexts.push(fn.dma);
    this.onRelease(() => bus.detach(fn));
    return fn;
  }

  /** A DMA context from a platform bus; revoked when the device goes away. */
  platformDma(bus: PlatformBus, streamId?: number): DmaContextImpl {
    const ctx = bus.createDmaContext(this.id, this.guard, streamId);
    this.dmaContexts.push(ctx);
    this.onRelease(() => this.kernel.dma.releaseContext(ctx));
    return ctx;
  }

  /** Runs `fn` when the device goes away (after everything acquired later). */
  onRelease(fn: () => void): void {
    this.cleanups.push(fn);
  }

  /** Releases everything, newest first. A failing cleanup does not stop the others. */
  release(): unknown[] {
    if (this.released) return [];
    this.released = true;
    const errors: unknown[] = [];
    this.kernel.memorySystem.transaction(() => {
      for (const c of this.cleanups.splice(0).reverse()) {
        try {
          c();
        } catch (e) {
          errors.push(e);
        }
      }
    });
    return errors;
  }
}
