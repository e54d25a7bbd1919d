/**
 * The trusted level: each plugin in its own `node:vm` context. Fast (a call into it costs
 * about as much as a host call) and isolating globals, but NOT a security boundary: Node's
 * own documentation says so, and host objects handed in expose the host's `Function`. For
 * first-party plugins and the development loop.
 */
import vm from 'node:vm';
import { makeMembrane, type PluginHandle } from './membrane.js';
import {
  type EvaluateOptions,
  type PluginDescription,
  type PluginRealm,
  SDK_SPECIFIER,
} from './realm.js';
import { SDK_SCRIPT, stackFilterScript } from './stack-filter.js';

interface CjsModule {
  exports: unknown;
}

/** The membrane's plugin handling run as host code: the trusted level wraps nothing. */
const hostSide = makeMembrane((x) => x);

export function createTrustedRealm(): PluginRealm {
  // A context with nothing of the host in its global: no process, require, timers or console.
  let context: vm.Context | null = vm.createContext(Object.create(null), {
    name: 'emuhost-trusted',
    codeGeneration: { strings: true, wasm: false },
  });
  // Stacks made in the context show the plugin's frames only (stack-filter.ts).
  vm.runInContext(stackFilterScript(), context);
  let handle: PluginHandle | null = null;
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
  const plugin = () => {
    if (handle === null) throw new Error('the plugin was not evaluated, or the realm was disposed');
    return handle;
  };
  return {
    level: 'trusted',
    evaluate(code: string, opts: EvaluateOptions): PluginDescription {
      const timeout = opts.timeoutMs ?? 2000;
      const sdk = run(opts.sdkCode, SDK_SCRIPT, timeout, (id) => {
        throw new Error(`the SDK runtime cannot require '${id}'`);
      });
      const exported = run(code, opts.filename, timeout, (id) => {
        if (id === SDK_SPECIFIER) return sdk;
        throw new Error(`a plugin may require only '${SDK_SPECIFIER}', not '${id}'`);
      });
      handle = hostSide.plugin(exported, false);
      return handle.description as unknown as PluginDescription;
    },
    // Trusted: the plugin gets the host's handles as they are.
    createDevice: (ctx, state) =>
      plugin().createDevice(ctx, state) as ReturnType<PluginRealm['createDevice']>,
    createIommu: (ctx, state) =>
      plugin().createIommu(ctx, state) as ReturnType<PluginRealm['createIommu']>,
    createMachine: (ctx) => plugin().createMachine(ctx) as ReturnType<PluginRealm['createMachine']>,
    createCpu: (ctx, state) =>
      plugin().createCpu(ctx, state) as ReturnType<PluginRealm['createCpu']>,
    migrateState: (from, data) => plugin().migrateState(from, data),
    dispose() {
      context = null;
      handle = null;
    },
    get ended() {
      return context === null ? 'disposed' : undefined;
    },
  };
}
