// Types for api-diff.mjs, which stays plain JavaScript so that Node runs it without a build.

/** The report's lines of code, each keyed as `Declaration › nested opener › line`. */
export function apiLines(report: string): string[];

/** `removed`: old lines gone or changed (a breaking change when not empty); `added`: new lines. */
export function diffApi(
  oldReport: string,
  newReport: string,
): { removed: string[]; added: string[] };

/** The `SDK_VERSION` a report declares, or undefined. */
export function sdkVersionOf(report: string): string | undefined;

/** The major of a semver version; throws for anything that is not `N.N.N…`. */
export function majorOf(version: string): number;
