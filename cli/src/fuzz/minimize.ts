/**
 * Delta debugging over qtest lines (Zeller's ddmin, complements only, then single lines):
 * drop chunks, replay on a fresh machine, keep the drop when the same kind of failure still
 * happens. The result is a short script that still fails.
 */
import type { Combo } from './combos.js';
import { type Failure, type RunnerOptions, replay } from './runner.js';

export interface MinimizeOptions extends RunnerOptions {
  /** Most replays to spend. Default 2000. */
  readonly maxReplays?: number;
  /** Stop reducing after this many seconds (each replay of a hang costs the whole bound). */
  readonly maxSeconds?: number;
  /** Replays a candidate (default: `replay` in-process; the watchdog's worker for fuzz --watchdog). */
  readonly replay?: (combo: Combo, lines: readonly string[]) => Promise<Failure | undefined>;
}

export async function minimize(
  combo: Combo,
  lines: readonly string[],
  failure: Failure,
  opts: MinimizeOptions = {},
): Promise<{ lines: string[]; failure: Failure; replays: number }> {
  const maxReplays = opts.maxReplays ?? 2000;
  const deadline = performance.now() + (opts.maxSeconds ?? Infinity) * 1000;
  const replayOne = opts.replay ?? ((c: Combo, ls: readonly string[]) => replay(c, ls, opts));
  let replays = 0;
  // Replays left: none once the count or the time is spent.
  const within = () => replays < maxReplays && performance.now() < deadline;
  let best = failure;
  const fails = async (cand: readonly string[]): Promise<boolean> => {
    replays++;
    const f = await replayOne(combo, cand);
    if (f === undefined || f.kind !== failure.kind) return false;
    best = f;
    return true;
  };
  // Nothing after the failing line matters.
  let cur = lines.slice(0, failure.index + 1);
  let n = 2;
  while (cur.length >= 2 && within()) {
    const size = Math.ceil(cur.length / n);
    let reduced = false;
    for (let i = 0; i < n && within(); i++) {
      const cand = [...cur.slice(0, i * size), ...cur.slice((i + 1) * size)];
      if (cand.length === 0 || cand.length === cur.length) continue;
      if (await fails(cand)) {
        cur = cand.slice(0, best.index + 1);
        n = Math.max(n - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (n >= cur.length) break;
      n = Math.min(cur.length, 2 * n);
    }
  }
  for (let i = cur.length - 1; i >= 0 && within(); i--) {
    const cand = [...cur.slice(0, i), ...cur.slice(i + 1)];
    if (cand.length > 0 && (await fails(cand))) cur = cand.slice(0, best.index + 1);
  }
  const last = await replayOne(combo, cur);
  return { lines: cur, failure: last ?? best, replays: replays + 1 };
}
