/**
 * The host's monotonic clock as a running machine sees it: it stands still while the machine
 * is paused (monitor `stop`, a debugger holding it, `-S`), as QEMU's virtual clock does, so
 * that a real-time guest does not find seconds missing when it resumes and the run loop's
 * idle pacing does not try to catch up on the pause.
 */

export class HostClock {
  /** Host ns spent paused so far, not counting a pause in progress. */
  private pausedNs = 0;
  /** Host time the current pause began, or undefined while running. */
  private pausedAt: number | undefined;

  /** @param host The host's monotonic clock in ns (tests inject one). */
  constructor(private readonly host: () => number = () => Number(process.hrtime.bigint())) {}

  /** ns since an arbitrary origin, not counting time spent paused. */
  now(): number {
    return (this.pausedAt ?? this.host()) - this.pausedNs;
  }

  get paused(): boolean {
    return this.pausedAt !== undefined;
  }

  pause(): void {
    this.pausedAt ??= this.host();
  }

  resume(): void {
    if (this.pausedAt === undefined) return;
    this.pausedNs += this.host() - this.pausedAt;
    this.pausedAt = undefined;
  }
}
