/**
 * Compares two API reports (API Extractor's `*.api.md`) line by line, to tell a breaking change
 * (a line of the API removed or changed) from a pure addition. Dependency-free, so that
 * scripts/api-report.mjs and its unit test (sdk/src/api-report.test.ts) share it as is.
 *
 * Each line of code is keyed by the declaration (and nested object type) it sits in: moving
 * `readonly addr: Iova;` from one interface to another is then a removal plus an addition, not
 * "no change". Comments (`// @public`, `// (undocumented)`, doc comments) are left out: they
 * describe the API without being part of it. This is a line heuristic, not a type checker: it
 * misses breaks that only add lines (a required member added to an interface that plugins
 * implement), which the API report's review still shows.
 */

/** The line that records the SDK's version; its value is tracked in sdk/api/sdk.api.json instead. */
const SDK_VERSION_LINE = /^export (?:declare )?const SDK_VERSION = ["']([^"']*)["'];$/;

/** `export interface DmaError {` → `DmaError`: a declaration's header names it for its members. */
const DECLARATION_NAME =
  /^(?:export )?(?:declare )?(?:abstract )?(?:interface|class|type|function|const|let|var|enum|namespace) (\w+)/;

const isComment = (text) => /^(?:\/\/|\/\*|\*)/.test(text);
const isClosingOnly = (text) => /^[)\]}]+[;,]?$/.test(text);

/** The code between the report's ```ts fences (all of it if there are none). */
function codeOf(report) {
  const start = report.indexOf('```ts');
  const end = report.lastIndexOf('```');
  return start >= 0 && end > start ? report.slice(start + 5, end) : report;
}

/**
 * The report's lines of code, each keyed as `Declaration › nested opener › line`. API Extractor
 * separates declarations with blank lines and indents nested members, which is all this uses.
 */
export function apiLines(report) {
  const keys = [];
  let declaration; // the name (or header line) of the declaration being read
  let openers = []; // enclosing `... {` lines inside it: { indent, text }
  for (const raw of codeOf(report).split(/\r?\n/)) {
    const text = raw.trim();
    if (text === '') {
      declaration = undefined;
      openers = [];
      continue;
    }
    if (isComment(text) || isClosingOnly(text)) continue;
    const line = SDK_VERSION_LINE.test(text)
      ? 'export const SDK_VERSION = <sdk.api.json>;'
      : text.replace(/\s+/g, ' ');
    if (declaration === undefined) {
      declaration = DECLARATION_NAME.exec(line)?.[1] ?? line;
      keys.push(line);
    } else {
      const indent = raw.length - raw.trimStart().length;
      while (openers.length > 0 && openers.at(-1).indent >= indent) openers.pop();
      keys.push([declaration, ...openers.map((o) => o.text), line].join(' › '));
      if (line.endsWith('{')) openers.push({ indent, text: line });
    }
  }
  return keys;
}

/** Lines of `from` missing in `to` (counted with repeats), in `from`'s order. */
function missing(from, to) {
  const left = new Map();
  for (const key of to) left.set(key, (left.get(key) ?? 0) + 1);
  return from.filter((key) => {
    const n = left.get(key) ?? 0;
    if (n > 0) left.set(key, n - 1);
    return n === 0;
  });
}

/**
 * What changed between two reports: `removed` holds the old lines that are gone or changed
 * (a breaking change when not empty), `added` the new lines.
 */
export function diffApi(oldReport, newReport) {
  const before = apiLines(oldReport);
  const after = apiLines(newReport);
  const added = missing(after, before);
  // A union type alias that only gained alternatives (a new error code) is an addition.
  const removed = missing(before, after).filter((line) => !widenedBy(line, added));
  return { removed, added };
}

/** `export type X = 'a' | 'b';` → { name, alternatives }, for one-line union aliases. */
function unionOf(line) {
  const m = /^export (?:declare )?type (\w+) = (.+);$/.exec(line);
  return m ? { name: m[1], alternatives: m[2].split(' | ') } : undefined;
}

/** Whether some added line redeclares `line`'s union with all of its alternatives. */
function widenedBy(line, added) {
  const old = unionOf(line);
  if (old === undefined) return false;
  return added.some((a) => {
    const now = unionOf(a);
    return (
      now !== undefined &&
      now.name === old.name &&
      old.alternatives.every((x) => now.alternatives.includes(x))
    );
  });
}

/** The `SDK_VERSION` a report declares, or undefined. */
export function sdkVersionOf(report) {
  for (const raw of codeOf(report).split(/\r?\n/)) {
    const match = SDK_VERSION_LINE.exec(raw.trim());
    if (match) return match[1];
  }
  return undefined;
}

/** The major of a semver version (`'2.1.0'` → 2); throws for anything that is not `N.N.N…`. */
export function majorOf(version) {
  const match = /^(\d+)\.\d+\.\d+(?:[-+].*)?$/.exec(version);
  if (!match) throw new Error(`not a semver version: '${version}'`);
  return Number(match[1]);
}
