/** `emuhost build <plugin-dir>`: one plugin, one bundle. */
import { relative } from 'node:path';
import { buildPlugin, formatDiagnostics } from '@emuhost/host';

export async function buildCommand(dir: string, o: { out?: string }): Promise<void> {
  const started = performance.now();
  const r = await buildPlugin(dir, o.out === undefined ? {} : { outDir: o.out });
  if (r.warnings.length > 0) process.stderr.write(`${formatDiagnostics(r.warnings)}\n`);
  const bytes = Object.values(r.metafile.outputs).reduce((n, out) => n + out.bytes, 0);
  const rel = (p: string) => relative(process.cwd(), p) || '.';
  process.stdout.write(
    `built ${r.manifest.id} ${r.manifest.version} (${r.manifest.kind}, sdk ${r.manifest.sdk}) in ${Math.round(performance.now() - started)} ms\n` +
      `  bundle    ${rel(r.bundlePath)} (${bytes} bytes with its map)\n` +
      `  manifest  ${rel(r.manifestPath)}\n`,
  );
}
