/**
 * Registering conformance cases with vitest. A case may be skipped only with a reason, which
 * the test name then shows, so a skip is a visible, reviewable decision.
 */
import { it } from 'vitest';

export function registerCases<C extends string>(
  cases: Readonly<Record<C, () => Promise<void> | void>>,
  skip: Partial<Record<C, string>> = {},
): void {
  for (const [name, reason] of Object.entries(skip) as [string, string | undefined][]) {
    if (!(name in cases)) throw new Error(`conformance: no case named '${name}' to skip`);
    if (typeof reason !== 'string' || reason.trim().length === 0) {
      throw new Error(`conformance: skipping '${name}' needs a reason`);
    }
  }
  for (const [name, run] of Object.entries(cases) as [C, () => Promise<void> | void][]) {
    const reason = skip[name];
    if (reason !== undefined) it.skip(`${name} (skipped: ${reason})`, () => {});
    else it(name, run);
  }
}
