/**
 * A plugin realm: somewhere a plugin bundle is evaluated, at one of three trust levels.
 *
 * A bundle is CommonJS (esbuild `format: 'cjs'`) whose only permitted `require` is
 * `@emuhost/sdk`. The realm evaluates the SDK runtime the host chose for the plugin inside
 * itself first, so the plugin's SDK objects are the realm's own, then the plugin, and returns
 * the plugin's `module.exports`. The host never calls a plugin's `create` itself: it asks the
 * realm to, so that at the confined level handles and state cross through the membrane.
 */
import type { DeviceContext, DeviceModel, IommuContext, IommuInstance } from '@emuhost/sdk';

export type SandboxLevel = 'trusted' | 'confined' | 'isolated';

export interface EvaluateOptions {
  /** Shown in stack traces, e.g. `edu.js`. */
  readonly filename: string;
  /** The SDK runtime bundle (CommonJS) of the version chosen for this plugin. */
  readonly sdkCode: string;
  /** Bound on the synchronous top-level evaluation, in ms. Default 2000. */
  readonly timeoutMs?: number;
}

/** A `create` function as the plugin defined it (a function of the plugin's realm). */
export type CreateFn<C, M> = (ctx: C, state: unknown) => M;

export interface PluginRealm {
  readonly level: SandboxLevel;
  /** Evaluates `code` and returns its `module.exports`. Throws what the evaluation threw. */
  evaluate(code: string, opts: EvaluateOptions): unknown;
  /** Calls a device plugin's `create` with the host's context and state made usable in the realm. */
  createDevice(
    create: CreateFn<DeviceContext, DeviceModel>,
    ctx: DeviceContext,
    state: unknown,
  ): DeviceModel;
  /** Calls an IOMMU plugin's `create` the same way. */
  createIommu(
    create: CreateFn<IommuContext, IommuInstance>,
    ctx: IommuContext,
    state: unknown,
  ): IommuInstance;
  /** Calls a plugin's `migrateState` with the saved data copied into the realm. */
  migrateState(
    migrate: (from: number, data: unknown) => unknown,
    from: number,
    data: unknown,
  ): unknown;
  /** Releases the realm; nothing evaluated in it may be used afterwards. */
  dispose(): void;
}

/** The module specifier a bundle may require. */
export const SDK_SPECIFIER = '@emuhost/sdk';
