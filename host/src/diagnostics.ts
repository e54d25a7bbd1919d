/**
 * Plugin load diagnostics, shaped like esbuild's messages: a text, the plugin, a location
 * (file, 1-based line, 0-based column, the line's text) and notes. Every load failure throws
 * a `PluginLoadError` carrying them; `formatDiagnostics` prints them as esbuild does.
 */
import { EmuhostError, type ErrorCode } from '@emuhost/sdk';

export interface DiagnosticLocation {
  readonly file: string;
  /** 1-based. */
  readonly line?: number;
  /** 0-based, in characters. */
  readonly column?: number;
  readonly lineText?: string;
}

export interface Diagnostic {
  readonly text: string;
  /** The plugin id, when known. */
  readonly pluginName?: string;
  readonly location?: DiagnosticLocation;
  readonly notes: readonly { readonly text: string }[];
}

export class PluginLoadError extends EmuhostError {
  constructor(
    code: ErrorCode,
    readonly diagnostics: readonly Diagnostic[],
  ) {
    const first = diagnostics[0];
    super(
      code,
      diagnostics.map((d) => d.text).join('; '),
      first?.pluginName !== undefined ? { plugin: first.pluginName } : {},
    );
  }
}

/** `file:line:column: error: text` plus the source line and notes, one block per diagnostic. */
export function formatDiagnostics(diags: readonly Diagnostic[]): string {
  return diags
    .map((d) => {
      const loc = d.location;
      const where = loc
        ? `${loc.file}${loc.line !== undefined ? `:${loc.line}:${loc.column ?? 0}` : ''}: `
        : '';
      const lines = [
        `${where}error: ${d.pluginName !== undefined ? `[${d.pluginName}] ` : ''}${d.text}`,
      ];
      if (loc?.lineText !== undefined) {
        lines.push(`    ${loc.lineText}`, `    ${' '.repeat(loc.column ?? 0)}^`);
      }
      for (const n of d.notes) lines.push(`  note: ${n.text}`);
      return lines.join('\n');
    })
    .join('\n\n');
}

/** The location of `"key"` in JSON text, for diagnostics about that field. */
export function locateJsonKey(file: string, text: string, key: string): DiagnosticLocation {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const col = lines[i]!.indexOf(`"${key}"`);
    if (col >= 0) return { file, line: i + 1, column: col, lineText: lines[i]! };
  }
  return { file };
}
