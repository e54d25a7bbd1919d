/**
 * The worker side of the isolated level (bundled and started by isolated.ts). It builds a
 * locked realm of its own (SES lockdown in a `node:vm` context), evaluates the plugin in a
 * compartment there, wraps the kernel's handles (stubs over the RPC channel) with the same
 * membrane the confined level uses, and serves the kernel's calls for ever.
 */
import { readFileSync } from 'node:fs';
import vm from 'node:vm';
import { workerData } from 'node:worker_threads';
import { type Membrane, makeMembrane } from './membrane.js';
import { Endpoint } from './rpc.js';

interface Data {
  readonly sab: SharedArrayBuffer;
  readonly sesFile: string;
}

const { sab, sesFile } = workerData as Data;
const context = vm.createContext(Object.create(null), {
  name: 'emuhost-isolated',
  codeGeneration: { strings: true, wasm: false },
});
vm.runInContext(readFileSync(sesFile, 'utf8'), context, { filename: 'ses.umd.js' });
vm.runInContext(
  "lockdown({ errorTaming: 'unsafe', stackFiltering: 'verbose', overrideTaming: 'severe', consoleTaming: 'unsafe', evalTaming: 'safe-eval', domainTaming: 'unsafe' })",
  context,
);
const harden = vm.runInContext('harden', context) as <T>(x: T) => T;
const membrane = (vm.runInContext(`(${makeMembrane.toString()})`, context) as typeof makeMembrane)(
  harden,
) as Membrane;
const Comp = vm.runInContext('Compartment', context) as new (
  o: object,
) => { evaluate(code: string): unknown };
const realmError = vm.runInContext(
  '(name, message, code) => { const e = new Error(message); e.name = name; if (code !== undefined) e.code = code; return e; }',
  context,
) as (name: string, message: string, code: string | undefined) => Error;

const ep = new Endpoint({ sab }, { side: 1, makeError: realmError });

interface Definition {
  create(ctx: unknown, state: unknown): unknown;
  migrateState?(from: number, data: unknown): unknown;
}
let def: Definition | undefined;

const run = (
  c: { evaluate(code: string): unknown },
  code: string,
  filename: string,
  require: unknown,
) => {
  const wrapper = c.evaluate(
    `(function (exports, require, module) {\n${code}\n})\n//# sourceURL=${filename}`,
  ) as (e: unknown, r: unknown, m: { exports: unknown }) => void;
  const module = c.evaluate('({ exports: {} })') as { exports: unknown };
  wrapper(module.exports, require, module);
  return module.exports;
};

ep.exportAs(1, {
  evaluate(code: string, filename: string, sdkCode: string): unknown {
    const c = new Comp({ __options__: true, name: filename });
    const makeRequire = c.evaluate(`(function (sdk, name, spec) {
      return harden(function require(id) {
        if (id === spec) return sdk;
        throw new Error(name + ' may require only ' + spec + ", not '" + id + "'");
      });
    })`) as (sdk: unknown, name: string, spec: string) => unknown;
    const sdk = harden(
      run(c, sdkCode, 'emuhost-sdk.cjs', makeRequire(undefined, 'the SDK runtime', '\0')),
    );
    const exported = run(c, code, filename, makeRequire(sdk, 'a plugin', '@emuhost/sdk')) as
      | { default?: Definition }
      | Definition;
    def = (
      exported !== null && typeof exported === 'object' && 'default' in exported
        ? exported.default
        : exported
    ) as Definition;
    // The definition, not the exports object: esbuild's CommonJS exports are getters, which
    // would cross as a reference; the definition is data plus functions.
    return { default: def };
  },
  createDevice(ctx: unknown, state: unknown): unknown {
    return membrane.deviceModel(def!.create(membrane.deviceContext(ctx), membrane.copyIn(state)));
  },
  createIommu(ctx: unknown, state: unknown): unknown {
    return membrane.iommuModel(def!.create(membrane.iommuContext(ctx), membrane.copyIn(state)));
  },
  migrateState(from: number, data: unknown): unknown {
    return def!.migrateState?.(from, membrane.copyIn(data));
  },
});
ep.serveForever();
