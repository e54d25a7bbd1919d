/**
 * The bounce-buffer budget of one address space: how many bytes of MMIO-backed mappings may
 * be outstanding at once (QEMU's per-address-space bounce buffer, max-bounce-buffer-size).
 * Only `map` draws on it; the copying path never needs it.
 */
export class BounceBudget {
  used = 0;

  constructor(readonly limit = 64 * 1024) {}

  /** Takes up to `want` bytes; returns how many it got (0 when spent). */
  take(want: number): number {
    const n = Math.max(0, Math.min(want, this.limit - this.used));
    this.used += n;
    return n;
  }

  give(n: number): void {
    this.used -= n;
  }
}
