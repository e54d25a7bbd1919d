/**
 * @emuhost/sandbox: where plugin bundles are evaluated.
 *
 * - `realm.ts`: the realm interface and the three trust levels.
 * - `trusted.ts`: a `node:vm` context per plugin (not a security boundary).
 */
export {
  type EvaluateOptions,
  type PluginRealm,
  type SandboxLevel,
  SDK_SPECIFIER,
} from './realm.js';
export { createTrustedRealm } from './trusted.js';
