/**
 * IOMMU swap and IOMMU reload, under running devices.
 *
 * `swapIommu` replaces what translates a target (a bus, a requester-ID range on a bus, or one
 * device) with another IOMMU instance, a new one made from a plugin, or none (identity).
 * `reloadIommu` replaces the code of one IOMMU instance (a new version of its plugin, or
 * another plugin) and carries its state over, keeping its id so every binding stays valid.
 *
 * The protocol, both ways:
 *
 * 1. **Quiesce at an event boundary.** The emulator is single-threaded and every DMA transfer
 *    runs to completion inside the call that issued it, so between two events (MMIO accesses,
 *    timer callbacks, qtest commands) no transfer is in flight. A swap or reload called from
 *    inside a device's callback (its DMA could be half done) is refused with an
 *    `EmuhostError` (`E_BAD_ARGUMENT`, naming the engaged device); call it after the callback
 *    returns. Nothing is changed when it is refused.
 * 2. **Flush** every affected requester's IOTLB.
 * 3. **Re-translate** every live mapping through the new translation: mappings that still
 *    land on the same guest-physical bytes survive; the others are invalidated (their holders
 *    told; releasing one answers `revoked`), so a device never keeps a view the new
 *    translation refuses or moves.
 * 4. **Rebind** (the registry points the contexts at the new model; device handles do not
 *    change).
 *
 * So every DMA issued before the swap completed under the old translation, and every DMA
 * issued after it runs under the new one.
 *
 * Old instances: an instance that `swapIommu` created itself is removed (unrealized) once no
 * binding names it any more; instances the machine added (`Emulator.addIommu`, a machine
 * file) stay, with their guest-programmed state, so a later swap can name them again.
 */
import type { IommuBindingTarget, RebindSummary } from '@emuhost/core';
import { EmuhostError, type OptionValue, type SavedState } from '@emuhost/sdk';
import type { Emulator } from './emulator.js';
import type { LoadedPlugin } from './loaded-plugin.js';

/** A new IOMMU instance to create and bind. */
export interface NewIommu {
  readonly plugin: LoadedPlugin;
  /** Default: the plugin id and the first free number. */
  readonly id?: string;
  readonly options?: Readonly<Record<string, OptionValue>>;
  readonly state?: SavedState;
}

/** What a swap binds: a new instance, an existing instance's id, or null (no IOMMU). */
export type IommuSwapNext = NewIommu | string | null;

export interface IommuSwapOptions {
  /** Keep the old instance even when this swap created it and nothing binds it now. */
  readonly keepOld?: boolean;
}

export interface IommuSwapReport extends RebindSummary {
  /** The IOMMU this exact target was bound to before (null: none, or no binding). */
  readonly from: string | null;
  /** The IOMMU it is bound to now (null: none). */
  readonly to: string | null;
  /** The old instance, when it was removed (see the module note). */
  readonly removed: string | null;
  /** Wall-clock time the swap took, in microseconds. */
  readonly micros: number;
}

export interface IommuReloadReport extends RebindSummary {
  readonly id: string;
  /** `plugin@version` before and after. */
  readonly from: string;
  readonly to: string;
  /** Warnings of the new instance (e.g. its state could not be migrated: it started fresh). */
  readonly warnings: readonly string[];
  readonly micros: number;
}

/** Instances each emulator's swaps created (and may therefore remove). */
const created = new WeakMap<Emulator, Set<string>>();

/**
 * Binds `next` to `target` under running devices (see the module note for the protocol).
 * Throws `E_BAD_ARGUMENT` when called inside a device callback, `E_UNKNOWN_ID` for an
 * unknown instance; a new instance that fails to realize leaves everything as it was.
 */
export function swapIommu(
  emu: Emulator,
  target: IommuBindingTarget,
  next: IommuSwapNext,
  opts: IommuSwapOptions = {},
): IommuSwapReport {
  assertQuiescent(emu, 'swap');
  const t0 = performance.now();
  const dma = emu.machine.dma;
  const from = dma.boundTo(target) ?? null;
  let to: string | null;
  let made: string | undefined;
  if (next === null) to = null;
  else if (typeof next === 'string') {
    if (!emu.iommus.has(next))
      throw new EmuhostError('E_UNKNOWN_ID', `no IOMMU '${next}' to swap in`);
    to = next;
  } else {
    const r = emu.addIommu(next.plugin, {
      ...(next.id !== undefined && { id: next.id }),
      ...(next.options !== undefined && { options: next.options }),
      ...(next.state !== undefined && { state: next.state }),
    });
    to = made = r.id;
    const mine = created.get(emu) ?? new Set<string>();
    created.set(emu, mine);
    mine.add(made);
  }
  let summary: RebindSummary;
  try {
    summary = dma.bind(target, to);
  } catch (e) {
    if (made !== undefined) removeIommu(emu, made);
    throw e;
  }
  let removed: string | null = null;
  if (
    from !== null &&
    from !== to &&
    opts.keepOld !== true &&
    created.get(emu)?.has(from) === true &&
    !dma.bindingList().some((b) => b.iommu === from)
  ) {
    removeIommu(emu, from);
    removed = from;
  }
  return { from, to, ...summary, removed, micros: (performance.now() - t0) * 1000 };
}

/**
 * Replaces IOMMU `id`'s instance with one of `plugin` created from the old one's saved state
 * (migrated by the new plugin's `migrateState` when the state version differs), under the
 * same id, so every binding stays valid (a snapshot restore passes the state as `given`). Bound requesters are detached from the old instance
 * and attached to the new one; their IOTLBs are flushed and live mappings re-translated
 * through the new instance (the ones it refuses or moves are invalidated). When creating
 * the new instance throws, the old one stays in place, untouched, and the error is thrown.
 */
export function reloadIommu(
  emu: Emulator,
  id: string,
  plugin: LoadedPlugin,
  given?: SavedState,
): IommuReloadReport {
  assertQuiescent(emu, 'reload');
  const r = emu.iommus.get(id);
  if (r === undefined) throw new EmuhostError('E_UNKNOWN_ID', `no IOMMU '${id}' to reload`);
  const t0 = performance.now();
  const state = given ?? r.saveState();
  const oldModel = r.model;
  const from = `${r.plugin.manifest.id}@${r.plugin.manifest.version}`;
  // Throws before anything changed: the old instance keeps serving (rolled back).
  const next = r.createInstance(plugin, state);
  const dma = emu.machine.dma;
  const requesters = dma
    .info()
    .filter((c) => c.iommu === id)
    .map((c) => ({ requesterId: c.requesterId, device: c.device }));
  for (const req of requesters) oldModel.detach?.(req);
  // The old instance goes as a reloaded device's does: disposed under its guard, its handles
  // revoked (by adopt). Unlike a device, it is disposed only once its successor exists, so
  // that a failed create leaves it untouched.
  const warnings = [...next.warnings];
  const guard = r.slot.scope.guard;
  if (oldModel.dispose !== undefined && !guard.run('deferred', () => oldModel.dispose?.())) {
    warnings.push(`dispose failed: ${String(guard.lastFault?.error)}`);
    r.slot.scope.restart(); // the fault was the old code's; the new instance starts clean
  }
  r.adopt(plugin, next.model, next.life);
  for (const req of requesters) next.model.attach?.(req);
  const summary = dma.refresh(id);
  return {
    id,
    from,
    to: `${plugin.manifest.id}@${plugin.manifest.version}`,
    warnings,
    ...summary,
    micros: (performance.now() - t0) * 1000,
  };
}

/** Unrealizes IOMMU `id`: whatever it translated falls back to the next binding (or none). */
export function removeIommu(emu: Emulator, id: string): void {
  if (!emu.iommus.has(id)) throw new EmuhostError('E_UNKNOWN_ID', `no IOMMU '${id}'`);
  emu.machine.detachDevice(id);
  emu.iommus.delete(id);
  created.get(emu)?.delete(id);
}

/** Refuses to go on while any device's callback runs (not an event boundary). */
function assertQuiescent(emu: Emulator, what: string): void {
  const id = emu.machine.busyDevice;
  if (id !== undefined)
    throw new EmuhostError(
      'E_BAD_ARGUMENT',
      `cannot ${what} an IOMMU inside a callback of '${id}': swaps happen between events`,
      { device: id },
    );
}
