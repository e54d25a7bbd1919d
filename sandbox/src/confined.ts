/**
 * The confined level (the default for third-party plugins): each plugin in its own SES
 * `Compartment` inside the process's locked realm. The plugin's code sees hardened
 * intrinsics and only what the membrane hands it: no `require` but the SDK, no `process`,
 * no `import()`, no unsafe `eval`/`Function`, no timers or network, no host object. Only
 * membrane code touches what the plugin makes (see membrane.ts).
 *
 * It shares the host's thread and heap, so it cannot stop a plugin that loops forever or
 * allocates without bound (or queues promise jobs without end); the isolated level can.
 */
import { lockedRealm } from './locked-realm.js';
import type { PluginHandle } from './membrane.js';
import {
  type EvaluateOptions,
  type PluginDescription,
  type PluginRealm,
  SDK_SPECIFIER,
} from './realm.js';
import { SDK_SCRIPT } from './stack-filter.js';

export function createConfinedRealm(): PluginRealm {
  const realm = lockedRealm();
  let handle: PluginHandle | null = null;
  let ended: string | undefined;
  const plugin = () => {
    if (handle === null) throw new Error('the plugin was not evaluated, or the realm was disposed');
    return handle;
  };
  return {
    level: 'confined',
    evaluate(code: string, opts: EvaluateOptions): PluginDescription {
      // The SDK runtime in a compartment of its own, the plugin in another: `require` (made
      // in the realm, never a host function) answers only the SDK.
      const sdkCompartment = realm.newCompartment('emuhost-sdk');
      const sdk = realm.harden(
        realm.membrane.evaluateModule(
          sdkCompartment,
          opts.sdkCode,
          SDK_SCRIPT,
          realm.makeRequire(undefined, 'the SDK runtime', '\0'),
        ),
      );
      const compartment = realm.newCompartment(opts.filename);
      const exported = realm.membrane.evaluateModule(
        compartment,
        code,
        opts.filename,
        realm.makeRequire(sdk, 'a plugin', SDK_SPECIFIER),
      );
      handle = realm.membrane.plugin(exported, true);
      return handle.description as unknown as PluginDescription;
    },
    createDevice: (ctx, state) =>
      plugin().createDevice(ctx, state) as ReturnType<PluginRealm['createDevice']>,
    createIommu: (ctx, state) =>
      plugin().createIommu(ctx, state) as ReturnType<PluginRealm['createIommu']>,
    createMachine: (ctx) => plugin().createMachine(ctx) as ReturnType<PluginRealm['createMachine']>,
    createCpu: (ctx, state) =>
      plugin().createCpu(ctx, state) as ReturnType<PluginRealm['createCpu']>,
    migrateState: (from, data) => plugin().migrateState(from, data),
    dispose() {
      handle = null;
      ended = 'disposed';
    },
    get ended() {
      return ended;
    },
  };
}
