/**
 * A plugin realm: somewhere a plugin bundle is evaluated, at one of three trust levels.
 *
 * A bundle is CommonJS (esbuild `format: 'cjs'`) whose only permitted `require` is
 * `@emuhost/sdk`. The realm evaluates the SDK runtime the host chose for the plugin inside
 * itself first, so the plugin's SDK objects are the realm's own, then the plugin, and returns
 * the plugin's `module.exports`.
 */
import type {
  CpuContext,
  CpuModel,
  DeviceContext,
  DeviceModel,
  IommuContext,
  IommuInstance,
  MachineContext,
  MachineModel,
  OptionSpec,
  PciIdentity,
  PluginKind,
} from '@emuhost/sdk';

export type SandboxLevel = 'trusted' | 'confined' | 'isolated';

export interface EvaluateOptions {
  /**
   * The script name of the bundle, shown in stack traces: `pluginScriptName(id, file)`
   * (`emuhost-plugin:edu/edu.js`), never a host path, since plugin code sees its stacks.
   */
  readonly filename: string;
  /** The SDK runtime bundle (CommonJS) of the version chosen for this plugin. */
  readonly sdkCode: string;
  /** Bound on the synchronous top-level evaluation, in ms. Default 2000. */
  readonly timeoutMs?: number;
}

/**
 * What the host may know of a plugin's definition: data only, copied by realm code, so that
 * the host never reads a property of (or calls) anything the plugin made.
 */
export interface PluginDescription {
  readonly kind: PluginKind;
  readonly pci?: PciIdentity;
  readonly platform?: boolean;
  readonly options?: Readonly<Record<string, OptionSpec>>;
  readonly stateVersion?: number;
  /** A CPU plugin's architecture (`riscv64`). */
  readonly arch?: string;
  /** A CPU plugin's interrupt input names. */
  readonly irqInputs?: readonly string[];
  /** A machine plugin's CPUs: architecture and default model. */
  readonly cpu?: { readonly arch: string; readonly default: string };
  /** Whether the plugin has a `migrateState`. */
  readonly migrates: boolean;
}

/**
 * A realm holding one plugin. The host never calls plugin code itself: it asks the realm to,
 * so that at the confined and isolated levels handles go in through the membrane and only
 * copies of plain data (and realm-made errors) come out.
 */
export interface PluginRealm {
  readonly level: SandboxLevel;
  /** Evaluates the bundle and describes the plugin it defines. Throws what evaluation threw (a realm-made error). */
  evaluate(code: string, opts: EvaluateOptions): PluginDescription;
  createDevice(ctx: DeviceContext, state: unknown): DeviceModel;
  createIommu(ctx: IommuContext, state: unknown): IommuInstance;
  /** Machine plugins build the whole machine: only the trusted level runs them. */
  createMachine(ctx: MachineContext): MachineModel;
  /**
   * CPU plugins touch guest RAM directly on every instruction; a membrane on that path would
   * cost more than the instruction. Only the trusted level runs them.
   */
  createCpu(ctx: CpuContext, state: unknown): CpuModel;
  /** The plugin's `migrateState`, with the data copied in and the result copied out. */
  migrateState(from: number, data: unknown): unknown;
  /** Releases the realm; nothing evaluated in it may be used afterwards. */
  dispose(): void;
  /**
   * Why the realm can no longer run plugin code (`disposed`, or an isolated worker the
   * watchdog stopped), or undefined while it can. A device on an ended realm is restarted on
   * the same code loaded again (`PluginHost.loadAgain`).
   */
  readonly ended: string | undefined;
}

/** The module specifier a bundle may require. */
export const SDK_SPECIFIER = '@emuhost/sdk';
