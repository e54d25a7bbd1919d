/**
 * What every device of the virt machine offers the machine that builds it: an MMIO region
 * (its size, callbacks and QEMU's access rules, for `ctx.mmio(name, size, ops, rules)` and
 * `ctx.place`), a reset, and its state as plain data for snapshots and hot reload.
 */
import type { MmioAccessRules, MmioOps } from '@emuhost/sdk';

export interface VirtDevice {
  /** Bytes of address space the region spans (the size the device tree gives). */
  readonly size: number;
  readonly ops: MmioOps;
  readonly rules: MmioAccessRules;
  /** Back to the power-on state, outputs driven to their reset levels. */
  reset(): void;
  /**
   * Everything the guest can observe, as JSON-safe plain data: 64-bit values as decimal
   * strings, pending timers as absolute deadlines on the virtual clock (ns, or -1).
   */
  saveState(): unknown;
  /**
   * Restores what `saveState` returned (into this instance or a fresh one with the same
   * configuration): registers, outputs driven to the saved levels, timers re-armed for the
   * saved deadlines. Throws `EmuhostError` `E_BAD_ARGUMENT` for state of another shape.
   */
  loadState(state: unknown): void;
}
