/**
 * "Did you mean": the known name nearest a misspelled one (Levenshtein distance, from
 * fastest-levenshtein), offered only when it is near: at most two edits, or a third of the
 * name for long ones, and never a change of every letter (`xx` suggests nothing).
 */
import { distance } from 'fastest-levenshtein';

export function nearest(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const d = distance(name.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  if (best === undefined || best === name) return undefined;
  const longest = Math.max(name.length, best.length);
  const near = bestDistance <= Math.max(2, Math.ceil(longest / 3));
  return near && bestDistance < Math.min(name.length, best.length) ? best : undefined;
}

/** ` (did you mean 'x'?)`, or nothing. */
export function didYouMean(name: string, known: Iterable<string>): string {
  const n = nearest(name, known);
  return n === undefined ? '' : ` (did you mean '${n}'?)`;
}
