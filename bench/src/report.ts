/**
 * Output: the table people read and the JSON object tools read. Both are pure functions of
 * the metrics, so what a run prints never depends on how it was timed.
 */
import { describeUnit, type Metric, meetsTarget } from './metrics.js';

/** `{ "metrics": { name: value } }`, the whole of stdout under `--json`. */
export function toJson(metrics: readonly Metric[]): string {
  const out: Record<string, number> = {};
  for (const m of metrics) {
    if (m.name in out) throw new Error(`metric '${m.name}' reported twice`);
    // 4 significant digits: the noise is in the second or third, and diffs stay readable.
    out[m.name] = Number(m.value.toPrecision(4));
  }
  return JSON.stringify({ metrics: out }, null, 2);
}

/** Three significant digits: more would be noise on any machine this runs on. */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function formatTarget(m: Metric): string {
  if (m.target === undefined) return '';
  return `${m.better === 'higher' ? '>=' : '<='} ${m.target}`;
}

function formatStatus(m: Metric): string {
  const ok = meetsTarget(m);
  return ok === undefined ? '' : ok ? 'meets' : 'MISSES';
}

/** An aligned text table; numbers right-aligned, everything else left. */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  rightAligned: ReadonlySet<number> = new Set(),
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (rightAligned.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...rows.map(line)].join('\n');
}

export function formatMetrics(metrics: readonly Metric[]): string {
  return formatTable(
    ['metric', 'value', 'unit', 'target', 'status', 'compares'],
    metrics.map((m) => [
      m.name,
      formatValue(m.value),
      describeUnit(m),
      formatTarget(m),
      formatStatus(m),
      m.detail,
    ]),
    new Set([1]),
  );
}
