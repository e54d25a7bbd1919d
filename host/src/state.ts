/**
 * Restoring saved state into a (possibly newer or older) plugin: the same version is used as
 * is; another version goes through the plugin's `migrateState`, and without one (or when it
 * refuses) the instance starts fresh, with a warning that says so.
 */
import type { PluginRealm } from '@emuhost/sandbox';
import type { SavedState } from '@emuhost/sdk';

interface Versioned {
  readonly stateVersion?: number;
  readonly migrates: boolean;
}

/** The data to hand `create`, or undefined for a fresh start (a warning is pushed). */
export function migrateState(
  def: Versioned,
  realm: PluginRealm,
  state: SavedState,
  warnings: string[],
): unknown {
  const want = def.stateVersion ?? 1;
  if (state.version === want) return structuredClone(state.data);
  if (def.migrates) {
    const m = realm.migrateState(state.version, structuredClone(state.data));
    if (m !== undefined) return structuredClone(m);
  }
  warnings.push(
    `state version ${state.version} cannot be used by state version ${want}: the device starts fresh (reset)`,
  );
  return undefined;
}
