/**
 * `emuhost fuzz [--seed N] [--ops N] [--combo M+D+I] [--out DIR] [--time S]`: a progress line
 * on stderr (in place on a TTY), exit 0 when clean, 1 with the minimized script's path.
 */
import { ALL_COMBOS, comboName, parseCombo } from './combos.js';
import { fuzz, type Progress } from './fuzz.js';

export interface FuzzCommandOptions {
  readonly seed?: string;
  readonly ops?: string;
  readonly combo?: string[];
  readonly out?: string;
  readonly time?: string;
}

export async function fuzzCommand(o: FuzzCommandOptions): Promise<number> {
  const num = (s: string | undefined, d: number, what: string) => {
    if (s === undefined) return d;
    const n = Number(s);
    if (!Number.isSafeInteger(n) || n < 0)
      throw new Error(`--${what} '${s}' is not a whole number`);
    return n;
  };
  let combos = ALL_COMBOS;
  let seed: number;
  let ops: number;
  let time: number | undefined;
  try {
    seed = num(o.seed, Date.now() % 2 ** 32, 'seed') >>> 0;
    ops = num(o.ops, 100_000, 'ops');
    time = o.time === undefined ? undefined : num(o.time, 0, 'time');
    if (o.combo !== undefined && o.combo.length > 0) combos = o.combo.map(parseCombo);
  } catch (e) {
    process.stderr.write(`emuhost fuzz: ${(e as Error).message}\n`);
    return 1;
  }
  const err = process.stderr;
  const tty = err.isTTY === true;
  let last = 0;
  const progress = (p: Progress) => {
    const now = performance.now();
    if (now - last < (tty ? 100 : 5000) && p.ops < p.total) return;
    last = now;
    const pct = p.total === 0 ? 100 : Math.floor((100 * p.ops) / p.total);
    const bar = '#'.repeat(Math.floor(pct / 5)).padEnd(20, '.');
    const line = `[${bar}] ${pct}% ${p.ops}/${p.total} ops, ${Math.round(p.opsPerSec)} ops/s, seed ${p.seed}, ${p.combo}`;
    err.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
  };
  err.write(`emuhost fuzz: seed ${seed}, ${ops} ops over ${combos.map(comboName).join(', ')}\n`);
  const r = await fuzz({
    seed,
    ops,
    combos,
    outDir: o.out ?? 'fuzz-out',
    progress,
    watchdog: true,
    ...(time !== undefined && { timeSeconds: time }),
  });
  if (tty) err.write('\n');
  const summary = `${r.ops} ops (${r.lines} qtest lines, ${r.sequences} sequences) in ${r.seconds.toFixed(1)} s, ${Math.round(r.ops / r.seconds)} ops/s; ${r.dmaWrites} DMA writes, ${r.iommuFaults} IOMMU faults, ${r.deviceFaults} device faults`;
  if (r.failure === undefined) {
    process.stdout.write(`clean: ${summary}\n`);
    return 0;
  }
  const f = r.failure;
  process.stdout.write(
    `FAILED (${f.failure.kind}) on ${comboName(f.combo)}, sequence seed ${f.seqSeed}: ${f.failure.detail}\n` +
      `minimized ${f.lines.length} lines to ${f.minimized.length}: ${f.script}\n${summary}\n`,
  );
  return 1;
}
