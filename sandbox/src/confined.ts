/**
 * The confined level (the default for third-party plugins): each plugin in its own SES
 * `Compartment` inside the process's locked realm. The plugin's code sees hardened
 * intrinsics and only what the membrane hands it: no `require` but the SDK, no `process`,
 * no `import()`, no unsafe `eval`/`Function`, no timers or network, no host object. Handles
 * it passes back are checked to be ones it was given.
 *
 * It shares the host's thread and heap, so it cannot stop a plugin that loops forever or
 * allocates without bound; the isolated level can.
 */
import { lockedRealm } from './locked-realm.js';
import { type EvaluateOptions, type PluginRealm, SDK_SPECIFIER } from './realm.js';

interface CjsModule {
  exports: unknown;
}

export function createConfinedRealm(): PluginRealm {
  const realm = lockedRealm();
  let compartment: ReturnType<typeof realm.newCompartment> | null = null;
  const run = (code: string, filename: string, require: (id: string) => unknown) => {
    if (compartment === null) throw new Error('the realm was disposed');
    const wrapper = compartment.evaluate(
      `(function (exports, require, module) {\n${code}\n})\n//# sourceURL=${filename}`,
    ) as (e: unknown, r: unknown, m: CjsModule) => void;
    const module = compartment.evaluate('({ exports: {} })') as CjsModule;
    wrapper(module.exports, require, module);
    return module.exports;
  };
  const { membrane, harden } = realm;
  return {
    level: 'confined',
    evaluate(code: string, opts: EvaluateOptions) {
      compartment = realm.newCompartment(opts.filename);
      // `require` is made in the realm too: a host function would leak the host's Function.
      const makeRequire = compartment.evaluate(`(function (sdk, name, spec) {
        return harden(function require(id) {
          if (id === spec) return sdk;
          throw new Error(name + ' may require only ' + spec + ", not '" + id + "'");
        });
      })`) as (sdk: unknown, name: string, spec: string) => (id: string) => unknown;
      const noRequire = makeRequire(undefined, 'the SDK runtime', '\0');
      const sdk = harden(run(opts.sdkCode, 'emuhost-sdk.cjs', noRequire));
      return run(code, opts.filename, makeRequire(sdk, 'a plugin', SDK_SPECIFIER));
    },
    createDevice(create, ctx, state) {
      const model = create(membrane.deviceContext(ctx) as typeof ctx, membrane.copyIn(state));
      return membrane.deviceModel(model) as ReturnType<typeof create>;
    },
    createIommu(create, ctx, state) {
      const model = create(membrane.iommuContext(ctx) as typeof ctx, membrane.copyIn(state));
      return membrane.iommuModel(model) as ReturnType<typeof create>;
    },
    migrateState(migrate, from, data) {
      return migrate(from, membrane.copyIn(data));
    },
    dispose() {
      compartment = null;
    },
  };
}
