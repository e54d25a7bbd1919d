/**
 * A device guard: the one object the kernel consults before calling into a device, whatever
 * the path (MMIO, port I/O, DMA completion, timer, deferred work).
 *
 * It does two jobs QEMU learned the hard way. Re-entrancy: while any callback of the device
 * runs, `engaged` is set, and an access that would call into the same device again (its own
 * DMA reaching its own MMIO, a timer poking its registers through memory) is refused with
 * `reentrancy-blocked` instead of recursing into half-updated state (QEMU's
 * `mem_reentrancy_guard`, after the EHCI/NVMe/lsi53c895a CVEs). Fault containment: a callback
 * that throws quarantines the device; it then answers as absent until restarted.
 */
import type { DeviceFaultEvent, GuardSite, KernelHooks, RegionOffset } from './hooks.js';

export class DeviceGuard {
  /** Set while a callback of this device runs. */
  engaged = false;
  /** Set once a callback threw; accesses then answer as an absent device. */
  quarantined = false;
  /** What quarantined it, for `info` views and restart decisions. */
  lastFault: DeviceFaultEvent | undefined;

  constructor(
    /** The device id events carry. */
    readonly device: string,
    private readonly hooks: KernelHooks,
  ) {}

  /** Reports a blocked re-entry; the caller returns `reentrancy-blocked`. */
  blocked(via: GuardSite, at?: RegionOffset): void {
    const h = this.hooks.guard.reentrancyBlocked;
    if (h.taps.length !== 0)
      h.call(at ? { device: this.device, via, at } : { device: this.device, via });
  }

  /** Records a thrown callback and quarantines the device. */
  fault(site: GuardSite, error: unknown, at?: RegionOffset): void {
    const event: DeviceFaultEvent = at
      ? { device: this.device, site, error, at }
      : { device: this.device, site, error };
    this.quarantined = true;
    this.lastFault = event;
    this.hooks.guard.deviceFault.call(event);
  }

  /** Lifts the quarantine (the device was restarted with fresh state). */
  restart(): void {
    this.quarantined = false;
    this.engaged = false;
    this.lastFault = undefined;
  }

  /**
   * Runs `fn` as device work (a timer, deferred work, a DMA completion): refused when the
   * device is quarantined or already engaged, contained when it throws.
   * Returns false when `fn` did not run to completion.
   */
  run(site: GuardSite, fn: () => void): boolean {
    if (this.quarantined) return false;
    if (this.engaged) {
      this.blocked(site);
      return false;
    }
    this.engaged = true;
    try {
      fn();
      return true;
    } catch (e) {
      this.fault(site, e);
      return false;
    } finally {
      this.engaged = false;
    }
  }
}
