/**
 * Plugin stacks: what `error.stack` shows inside a plugin realm. Only the plugin's own frames
 * and the SDK runtime's, never a frame of the host (the kernel, the membrane, SES, Node's
 * internals) and never a host path.
 *
 * A plugin's bundle is evaluated under a script name of its own (`pluginScriptName`), not its
 * path on the host, and every realm a plugin runs in (the trusted level's context, the locked
 * realm of the confined level and of each isolated worker) formats stacks with
 * `filterPluginStack`, evaluated inside that realm from its source text. The host sees the same
 * filtered stacks (a plugin's error reaches it through the membrane as a copy) and maps their
 * frames through the bundle's source map to the plugin's own `src/` files.
 */

/** Scripts of plugin bundles are named `emuhost-plugin:<id>/<bundle file name>`. */
export const PLUGIN_SCRIPT_PREFIX = 'emuhost-plugin:';

/** The script name of the SDK runtime evaluated in each realm. */
export const SDK_SCRIPT = 'emuhost-sdk.cjs';

/** The script name a plugin's bundle is evaluated under: no host path in it. */
export function pluginScriptName(id: string, bundleFile: string): string {
  const base = bundleFile.split(/[\\/]/).pop() || `${id}.js`;
  return `${PLUGIN_SCRIPT_PREFIX}${id}/${base}`;
}

/** The slice of V8's CallSite (or SES's safe copy of one) the filter reads. */
interface CallSiteLike {
  getFileName(): string | null | undefined;
  getScriptNameOrSourceURL?(): string | null | undefined;
  toString(): string;
}

/**
 * Installs the filter as `errorCtor.prepareStackTrace`. Self-contained: it is serialized with
 * `toString()` and evaluated inside each realm, so it may use only its parameters and the
 * realm's globals. The prefix and SDK name are parameters for the same reason.
 */
export function filterPluginStack(
  errorCtor: { prepareStackTrace?: unknown },
  prefix: string,
  sdk: string,
): void {
  const keep = (cs: CallSiteLike): boolean => {
    // Code a compartment evaluates is named by its `//# sourceURL`, which only this says.
    let name: unknown;
    try {
      name = cs.getScriptNameOrSourceURL?.() ?? cs.getFileName();
    } catch {
      return false;
    }
    return typeof name === 'string' && (name.startsWith(prefix) || name === sdk);
  };
  errorCtor.prepareStackTrace = (error: unknown, sites: readonly CallSiteLike[]): string => {
    // The header is the error's own text, which plugin code may have made throw.
    let head: string;
    try {
      head = String(error);
    } catch {
      head = 'Error';
    }
    let out = head;
    for (let i = 0; i < sites.length; i++) {
      const cs = sites[i]!;
      if (!keep(cs)) continue;
      let text: string;
      try {
        text = String(cs);
      } catch {
        continue;
      }
      out += `\n    at ${text}`;
    }
    return out;
  };
}

/** The source of a script that installs the filter on the realm's `Error`. */
export function stackFilterScript(): string {
  return `(${filterPluginStack.toString()})(Error, ${JSON.stringify(PLUGIN_SCRIPT_PREFIX)}, ${JSON.stringify(SDK_SCRIPT)});`;
}
