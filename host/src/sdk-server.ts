/**
 * The SDK versions a host serves, and the choice for each plugin: the newest served version
 * that satisfies the plugin's range, or a refusal that says whether the plugin is too old or
 * too new for this host, the way npm phrases an unmet peer range.
 *
 * Serving several versions is how a future major ships beside v1: each version is its own
 * runtime bundle, evaluated in the plugin's realm, and v1 plugins keep getting v1.
 */
import semver from 'semver';
import { PluginLoadError } from './diagnostics.js';

export interface ServedSdk {
  readonly version: string;
  /** The runtime as a CommonJS bundle, evaluated inside each plugin's realm. */
  readonly code: string;
}

export class SdkServer {
  private readonly served = new Map<string, ServedSdk>();

  serve(sdk: ServedSdk): void {
    if (semver.valid(sdk.version) === null) throw new Error(`not a semver version: ${sdk.version}`);
    this.served.set(sdk.version, sdk);
  }

  get versions(): string[] {
    return [...this.served.keys()].sort(semver.compare);
  }

  /** The newest served version satisfying `range`; throws E_SDK_RANGE naming everything. */
  pick(range: string, pluginId: string, file?: string): ServedSdk {
    const versions = this.versions;
    const best = semver.maxSatisfying(versions, range);
    if (best !== null) return this.served.get(best)!;
    const newest = versions[versions.length - 1];
    const verdict =
      newest === undefined
        ? 'this host serves no SDK'
        : semver.gtr(newest, range)
          ? 'the plugin is too old for this host: rebuild it against a newer @emuhost/sdk'
          : semver.ltr(newest, range)
            ? 'the plugin is too new for this host: it needs a newer emuhost'
            : 'no served version is in that range';
    throw new PluginLoadError('E_SDK_RANGE', [
      {
        text: `plugin '${pluginId}' requires @emuhost/sdk@${range}, but this host serves ${versions.join(', ') || 'none'}`,
        pluginName: pluginId,
        ...(file !== undefined && { location: { file } }),
        notes: [{ text: verdict }],
      },
    ]);
  }
}
