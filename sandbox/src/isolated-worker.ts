/**
 * The worker side of the isolated level (bundled and started by isolated.ts). It builds a
 * locked realm of its own (SES lockdown in a `node:vm` context), evaluates the plugin in a
 * compartment there, wraps the kernel's handles (stubs over the RPC channel) with the same
 * membrane the confined level uses, and serves the kernel's calls for ever.
 */
import { readFileSync } from 'node:fs';
import vm from 'node:vm';
import { workerData } from 'node:worker_threads';
import { type Membrane, makeMembrane, type PluginHandle } from './membrane.js';
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

const makeRequire = vm.runInContext(
  `(function (sdk, who, spec) {
    return harden(function require(id) {
      if (id === spec) return sdk;
      throw new Error(who + ' may require only ' + spec + ", not '" + String(id) + "'");
    });
  })`,
  context,
) as (sdk: unknown, who: string, spec: string) => unknown;

const ep = new Endpoint({ sab }, { side: 1, makeError: realmError });
let handle: PluginHandle | undefined;
const plugin = () => {
  if (handle === undefined) throw new Error('the plugin was not evaluated');
  return handle;
};

// Only membrane code touches plugin values, here as at the confined level; what crosses the
// channel is the description (data) and the membrane's own functions.
ep.exportAs(1, {
  evaluate(code: string, filename: string, sdkCode: string): unknown {
    const sdk = harden(
      membrane.evaluateModule(
        new Comp({ __options__: true, name: 'emuhost-sdk' }),
        sdkCode,
        'emuhost-sdk.cjs',
        makeRequire(undefined, 'the SDK runtime', '\0'),
      ),
    );
    const exported = membrane.evaluateModule(
      new Comp({ __options__: true, name: filename }),
      code,
      filename,
      makeRequire(sdk, 'a plugin', '@emuhost/sdk'),
    );
    handle = membrane.plugin(exported, true);
    return handle.description;
  },
  createDevice: (ctx: unknown, state: unknown) => plugin().createDevice(ctx, state),
  createIommu: (ctx: unknown, state: unknown) => plugin().createIommu(ctx, state),
  migrateState: (from: number, data: unknown) => plugin().migrateState(from, data),
});
ep.serveForever();
