/**
 * `definePlugin`: the one entry a plugin's bundle exports (as its default export).
 *
 * It checks the shape early, in the plugin's own realm, so a plugin author sees a mistake
 * at load with the plugin's name rather than later as an odd failure inside the machine.
 */
import type { PluginDefinition } from './contract.js';
import { EmuhostError } from './errors.js';

const KINDS = new Set(['device', 'iommu', 'machine', 'cpu']);

/** Declares a plugin. Returns the definition, frozen. */
export function definePlugin<const T extends PluginDefinition>(definition: T): T {
  if (definition === null || typeof definition !== 'object') {
    throw new EmuhostError('E_PLUGIN_SHAPE', 'definePlugin needs an object');
  }
  if (!KINDS.has(definition.kind)) {
    throw new EmuhostError(
      'E_PLUGIN_SHAPE',
      `kind must be 'device', 'iommu', 'machine' or 'cpu', not '${String(definition.kind)}'`,
    );
  }
  if (typeof definition.create !== 'function') {
    throw new EmuhostError('E_PLUGIN_SHAPE', 'create must be a function');
  }
  return Object.freeze(definition);
}
