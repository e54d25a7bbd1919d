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
import { UndoJournal } from './undo-journal.js';

export class DeviceGuard {
  /** Set while a callback of this device runs. */
  engaged = false;
  /** Set once a callback threw; accesses then answer as an absent device. */
  quarantined = false;
  /** What quarantined it, for `info` views and restart decisions. */
  lastFault: DeviceFaultEvent | undefined;
  /** The plugin behind the device, for events (set by the host). */
  plugin: string | undefined;
  /**
   * Undo records of guest RAM the device's DMA overwrote during the current callback. A
   * callback that throws has them replayed, newest first, so guest memory is as it was
   * before the failed operation. Cleared when the outermost callback returns.
   */
  readonly journal = new UndoJournal();
  /**
   * A fault armed by `injectFault`: the site it waits for (`'any'` for the next guarded
   * callback, whatever its site), or null. Checked once inside each guarded callback.
   */
  armed: GuardSite | 'any' | null = null;
  private readonly faultListeners: (() => void)[] = [];

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

  /**
   * Records a thrown callback and quarantines the device: what its DMA wrote to guest RAM in
   * this callback is rolled back, and its scope stops its timers and DMA (fault listeners).
   */
  fault(site: GuardSite, error: unknown, at?: RegionOffset, detail?: string): void {
    this.journal.rollback();
    const stack =
      typeof (error as { stack?: unknown })?.stack === 'string'
        ? (error as { stack: string }).stack
        : String(error);
    const event: DeviceFaultEvent = {
      device: this.device,
      ...(this.plugin !== undefined && { plugin: this.plugin }),
      site,
      error,
      stack,
      ...(at !== undefined && { at }),
      ...(detail !== undefined && { detail }),
    };
    this.quarantined = true;
    this.lastFault = event;
    for (const l of this.faultListeners) l();
    this.hooks.guard.deviceFault.call(event);
  }

  /** Runs `l` whenever the device is quarantined. */
  onFault(l: () => void): void {
    this.faultListeners.push(l);
  }

  /** Lifts the quarantine (the device was restarted with fresh state). */
  restart(): void {
    this.quarantined = false;
    this.engaged = false;
    this.lastFault = undefined;
    this.armed = null;
  }

  /**
   * A debug facility for fault-injection tests and the fuzzer: arms a one-shot fault, so that
   * the device's next guarded callback (of `site`, or of any site) throws
   * `Error('injected fault')` inside the guard, where the plugin's code would run. It is
   * handled exactly as a plugin exception: the callback does not run, what its DMA wrote in
   * the callback is rolled back, the device is quarantined and `guard.deviceFault` is called
   * (with `error.injected === true`). Arming again replaces the armed site; `disarm` cancels.
   */
  injectFault(site?: GuardSite): void {
    this.armed = site ?? 'any';
  }

  /** Cancels an armed fault that has not fired. */
  disarm(): void {
    this.armed = null;
  }

  /**
   * Called inside a guarded callback (engaged, in its try) when `armed` is set: throws the
   * injected fault if it is armed for `site`.
   * @internal
   */
  trip(site: GuardSite): void {
    const a = this.armed;
    if (a === null || (a !== 'any' && a !== site)) return;
    this.armed = null;
    throw Object.assign(new Error(`injected fault (${site})`), { injected: true });
  }

  /**
   * Runs `fn` as device work (a timer, deferred work, a DMA completion): refused when the
   * device is quarantined or already engaged, contained when it throws. `detail` says which
   * callback for a fault report (a timer's name); pass a string that exists already, since this
   * runs per timer.
   * Returns false when `fn` did not run to completion.
   */
  run(site: GuardSite, fn: () => void, detail?: string): boolean {
    if (this.quarantined) return false;
    if (this.engaged) {
      this.blocked(site);
      return false;
    }
    this.engaged = true;
    try {
      if (this.armed !== null) this.trip(site);
      fn();
      return true;
    } catch (e) {
      this.fault(site, e, undefined, detail);
      return false;
    } finally {
      this.engaged = false;
      if (this.journal.length !== 0) this.journal.clear();
    }
  }
}
