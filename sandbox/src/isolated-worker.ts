/**
 * The worker side of the isolated level (bundled and started by isolated.ts). It builds a
 * locked realm of its own (`createLockedRealm`, as the confined level's), evaluates the plugin in a
 * compartment there, wraps the kernel's handles (stubs over the RPC channel) with the same
 * membrane the confined level uses, and serves the kernel's calls for ever.
 */
import vm from 'node:vm';
import { workerData } from 'node:worker_threads';
import { createLockedRealm } from './locked-realm.js';
import type { PluginHandle } from './membrane.js';
import { Endpoint } from './rpc.js';
import { SDK_SCRIPT } from './stack-filter.js';

interface Data {
  readonly sab: SharedArrayBuffer;
  readonly sesFile: string;
}

const { sab, sesFile } = workerData as Data;
const { context, harden, membrane, newCompartment, makeRequire, drainMicrotasks } =
  createLockedRealm(sesFile, 'emuhost-isolated', { ownMicrotasks: true });
const realmError = vm.runInContext(
  '(name, message, code) => { const e = new Error(message); e.name = name; if (code !== undefined) e.code = code; return e; }',
  context,
) as (name: string, message: string, code: string | undefined) => Error;

// The plugin's promise jobs run at the end of each call from the kernel, inside it: an
// `await` resumes before the access completes, and may use the device's handles.
const ep = new Endpoint(
  { sab },
  { side: 1, makeError: realmError, afterOuterCall: drainMicrotasks },
);
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
        newCompartment('emuhost-sdk'),
        sdkCode,
        SDK_SCRIPT,
        makeRequire(undefined, 'the SDK runtime', '\0'),
      ),
    );
    const exported = membrane.evaluateModule(
      newCompartment(filename),
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
