/**
 * The trusted level: each plugin in its own `node:vm` context. Fast (a call into it costs
 * about as much as a host call) and isolating globals, but NOT a security boundary: Node's
 * own documentation says so, and host objects handed in expose the host's `Function`. For
 * first-party plugins and the development loop.
 */
import vm from 'node:vm';
import { type EvaluateOptions, type PluginRealm, SDK_SPECIFIER } from './realm.js';

interface CjsModule {
  exports: unknown;
}

export function createTrustedRealm(): PluginRealm {
  // A context with nothing of the host in its global: no process, require, timers or console.
  let context: vm.Context | null = vm.createContext(Object.create(null), {
    name: 'emuhost-trusted',
    codeGeneration: { strings: true, wasm: false },
  });
  const run = (
    code: string,
    filename: string,
    timeout: number,
    require: (id: string) => unknown,
  ) => {
    if (context === null) throw new Error('the realm was disposed');
    const script = new vm.Script(`(function (exports, require, module) {\n${code}\n})`, {
      filename,
      lineOffset: -1,
    });
    const wrapper = script.runInContext(context, { timeout }) as (
      e: unknown,
      r: unknown,
      m: CjsModule,
    ) => void;
    const module = vm.runInContext('({ exports: {} })', context) as CjsModule;
    wrapper(module.exports, require, module);
    return module.exports;
  };
  return {
    level: 'trusted',
    evaluate(code: string, opts: EvaluateOptions) {
      const timeout = opts.timeoutMs ?? 2000;
      const sdk = run(opts.sdkCode, 'emuhost-sdk.cjs', timeout, (id) => {
        throw new Error(`the SDK runtime cannot require '${id}'`);
      });
      return run(code, opts.filename, timeout, (id) => {
        if (id === SDK_SPECIFIER) return sdk;
        throw new Error(`a plugin may require only '${SDK_SPECIFIER}', not '${id}'`);
      });
    },
    // Trusted: the plugin gets the host's handles as they are.
    createDevice: (create, ctx, state) => create(ctx, state),
    createIommu: (create, ctx, state) => create(ctx, state),
    migrateState: (migrate, from, data) => migrate(from, data),
    dispose() {
      context = null;
    },
  };
}
