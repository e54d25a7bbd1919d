/**
 * @emuhost/sandbox: where plugin bundles are evaluated.
 *
 * - `realm.ts`: the realm interface and the three trust levels.
 * - `trusted.ts`: a `node:vm` context per plugin (not a security boundary).
 * - `confined.ts`: an SES compartment per plugin in the locked realm (`locked-realm.ts`),
 *   reached only through the membrane (`membrane.ts`).
 * - `stack-filter.ts`: the stacks plugin code sees (its own frames, no host path).
 * - `isolated.ts`: a worker per plugin (`isolated-worker.ts`) with SES inside, resource limits
 *   and a watchdog, over a synchronous RPC channel (`rpc.ts`).
 */
export { createConfinedRealm } from './confined.js';
export { createIsolatedRealm, type IsolatedOptions } from './isolated.js';
export { createLockedRealm } from './locked-realm.js';
export { type Membrane, makeMembrane, type PluginHandle } from './membrane.js';
export {
  type EvaluateOptions,
  type PluginDescription,
  type PluginRealm,
  type SandboxLevel,
  SDK_SPECIFIER,
} from './realm.js';
export {
  PLUGIN_SCRIPT_PREFIX,
  pluginScriptName,
  SDK_SCRIPT,
} from './stack-filter.js';
export { createTrustedRealm } from './trusted.js';
