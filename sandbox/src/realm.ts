/**
 * A plugin realm: somewhere a plugin bundle is evaluated, at one of three trust levels.
 *
 * A bundle is CommonJS (esbuild `format: 'cjs'`) whose only permitted `require` is
 * `@emuhost/sdk`. The realm evaluates the SDK runtime the host chose for the plugin inside
 * itself first, so the plugin's SDK objects are the realm's own, then the plugin, and returns
 * the plugin's `module.exports`.
 */
export type SandboxLevel = 'trusted' | 'confined' | 'isolated';

export interface EvaluateOptions {
  /** Shown in stack traces, e.g. `edu.js`. */
  readonly filename: string;
  /** The SDK runtime bundle (CommonJS) of the version chosen for this plugin. */
  readonly sdkCode: string;
  /** Bound on the synchronous top-level evaluation, in ms. Default 2000. */
  readonly timeoutMs?: number;
}

export interface PluginRealm {
  readonly level: SandboxLevel;
  /** Evaluates `code` and returns its `module.exports`. Throws what the evaluation threw. */
  evaluate(code: string, opts: EvaluateOptions): unknown;
  /** Releases the realm; nothing evaluated in it may be used afterwards. */
  dispose(): void;
}

/** The module specifier a bundle may require. */
export const SDK_SPECIFIER = '@emuhost/sdk';
