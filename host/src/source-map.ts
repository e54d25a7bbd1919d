/**
 * A bundle's source map: from a position in the bundle a plugin runs (`dist/my-dev.js:840`)
 * to the position in the plugin's own sources (`src/regs.ts:12`), for load errors and for
 * the stacks of faults. `emuhost build` writes the map beside the bundle and links it from
 * the bundle's last line; it is read when the plugin is loaded (a test's build directory may
 * be gone by the time a fault happens) and parsed on first use.
 */
import { readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { dirname, resolve } from 'node:path';

/** A position in a plugin's sources. */
export interface SourceLocation {
  /** Absolute path of the source file. */
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 0-based, in UTF-16 code units. */
  readonly column: number;
  /** The source line, when the map carries the sources. */
  readonly lineText: string;
}

type Payload = SourceMapPayload & { sourcesContent?: (string | null)[] };

export class BundleSourceMap {
  private parsed: SourceMap | undefined;
  private payload: Payload | undefined;

  private constructor(
    /** Where the map file was; sources are relative to it. */
    readonly mapFile: string,
    private readonly text: string,
  ) {}

  /**
   * The map `code` (the bundle read from `bundleFile`) links to, read now; undefined when there
   * is none, it is inline, or it cannot be read.
   */
  static forBundle(bundleFile: string, code: string): BundleSourceMap | undefined {
    const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(code)?.[1];
    if (url === undefined || url.startsWith('data:')) return undefined;
    const mapFile = resolve(dirname(bundleFile), url);
    try {
      return new BundleSourceMap(mapFile, readFileSync(mapFile, 'utf8'));
    } catch {
      return undefined;
    }
  }

  /**
   * The source position of bundle position (`line` 1-based, `column` 0-based), or undefined
   * when the map does not cover it.
   */
  locate(line: number, column: number): SourceLocation | undefined {
    try {
      this.payload ??= JSON.parse(this.text) as Payload;
      this.parsed ??= new SourceMap(this.payload);
      const entry = this.parsed.findEntry(line - 1, column) as {
        originalSource?: string;
        originalLine?: number;
        originalColumn?: number;
      };
      if (entry.originalSource === undefined || entry.originalLine === undefined) return undefined;
      const index = this.payload.sources.indexOf(entry.originalSource);
      const source = index >= 0 ? this.payload.sourcesContent?.[index] : undefined;
      return {
        file: resolve(dirname(this.mapFile), entry.originalSource),
        line: entry.originalLine + 1,
        column: entry.originalColumn ?? 0,
        lineText: source?.split('\n')[entry.originalLine] ?? '',
      };
    } catch {
      return undefined;
    }
  }
}
