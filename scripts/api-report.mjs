/**
 * The SDK's API report: sdk/api/sdk.api.md records @emuhost/sdk's public surface and
 * sdk/api/sdk.api.json the SDK_VERSION it was recorded at.
 *
 *   node scripts/api-report.mjs check    (`npm run api:check`, part of `npm test`, so CI)
 *   node scripts/api-report.mjs update   (`npm run api:update`, a developer after a change)
 *
 * Both emit the SDK's declarations with tsc (TypeScript 7) into sdk/dist/api-types/ and let
 * API Extractor (sdk/api-extractor.json) generate the report from them. `check` fails when the
 * report or the recorded version is out of date; `update` writes both, but refuses a breaking
 * change (a line of the API removed or changed) unless SDK_VERSION's major was bumped.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConsoleMessageId, Extractor, ExtractorConfig } from '@microsoft/api-extractor';
import { diffApi, majorOf, sdkVersionOf } from './api-diff.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REPORT = 'sdk/api/sdk.api.md';
const RECORD = 'sdk/api/sdk.api.json';
const GENERATED = 'sdk/dist/api-extractor/sdk.api.md'; // reportTempFolder in api-extractor.json
const TYPES = 'sdk/dist/api-types';

const mode = process.argv[2];
if (mode !== 'check' && mode !== 'update') {
  fail('usage: node scripts/api-report.mjs check|update');
}

// 1. Declarations. Emptied first so that a deleted source file leaves no stale .d.ts behind.
rmSync(path.join(root, TYPES), { recursive: true, force: true });
const tscPackage = createRequire(import.meta.url).resolve('typescript/package.json');
const tsc = path.join(path.dirname(tscPackage), 'bin/tsc');
const emitted = spawnSync(process.execPath, [tsc, '-p', 'sdk/tsconfig.api.json'], {
  cwd: root,
  stdio: 'inherit',
});
if (emitted.status !== 0) fail("tsc could not emit the SDK's declarations (errors above).");

// 2. The report. Always API Extractor's CI mode (`localBuild: false`): it never overwrites the
// committed report itself, it writes the fresh one to GENERATED and says whether it differs;
// this script decides whether to take it.
const quiet = new Set([
  // Its "please copy the file" advice: we print our own.
  ConsoleMessageId.ApiReportNotCopied,
  // "Analysis will use the bundled TypeScript 6.0.3" and "the project uses a newer TypeScript":
  // expected, the .d.ts come from TypeScript 7 and API Extractor reads them with its own 6.x.
  ConsoleMessageId.Preamble,
  ConsoleMessageId.CompilerVersionNotice,
]);
const result = Extractor.invoke(
  ExtractorConfig.loadFileAndPrepare(path.join(root, 'sdk/api-extractor.json')),
  {
    localBuild: false,
    printApiReportDiff: mode === 'check',
    messageCallback(message) {
      if (quiet.has(message.messageId)) {
        message.logLevel = 'none';
        message.handled = true;
      } else if (message.messageId === ConsoleMessageId.ApiReportDiff) {
        message.logLevel = 'info'; // shown, but not counted as a warning of its own
      }
    },
  },
);

const generated = readFileSync(path.join(root, GENERATED), 'utf8');
const committed = read(REPORT);
const record = read(RECORD);
const recorded = record === undefined ? undefined : JSON.parse(record).sdkVersion;
const version = sdkVersionOf(generated);
if (version === undefined) fail('SDK_VERSION is no longer a string constant in the report.');

if (mode === 'check') {
  const problems = [];
  if (result.errorCount + result.warningCount > 0) {
    problems.push(
      `API Extractor reported ${result.errorCount} error(s), ${result.warningCount} warning(s) (above).`,
    );
  }
  if (result.apiReportChanged) {
    problems.push(`the SDK's public API no longer matches ${REPORT} (the diff is above).`);
  }
  if (recorded !== version) {
    problems.push(`SDK_VERSION is '${version}' but ${RECORD} records '${recorded}'.`);
  }
  if (problems.length > 0) {
    fail(
      `api:check failed:\n${problems.map((p) => `  - ${p}`).join('\n')}\n` +
        'Run `npm run api:update`, review the change to sdk/api/ and commit it. A breaking change ' +
        '(anything removed or changed) also needs a major bump of SDK_VERSION in sdk/src/contract.ts.',
    );
  }
  console.log(`api:check: ${REPORT} is up to date (SDK_VERSION ${version}).`);
} else {
  if (result.errorCount > 0) fail('API Extractor reported errors (above); nothing was written.');
  if (committed !== undefined && recorded === undefined) {
    fail(`${RECORD} is missing: restore it (it records the SDK_VERSION of ${REPORT}).`);
  }
  // The first report has nothing to compare with.
  const { removed, added } =
    committed === undefined ? { removed: [], added: [] } : diffApi(committed, generated);
  // The rule: removing or changing anything breaks plugins built against the recorded version,
  // so it needs a new major. Additions are not enforced (a minor bump is up to the developer).
  if (removed.length > 0 && majorOf(version) <= majorOf(recorded)) {
    fail(
      `api:update refused: a breaking change to the SDK's API needs a major bump of SDK_VERSION.\n` +
        `Removed or changed since SDK_VERSION ${recorded}:\n` +
        `${removed.map((line) => `  - ${line}`).join('\n')}\n` +
        `Bump SDK_VERSION in sdk/src/contract.ts to ${majorOf(recorded) + 1}.0.0 (plugins then ` +
        'need a new `sdk` range), or keep the old API and only add to it.',
    );
  }
  writeFileSync(path.join(root, REPORT), generated);
  writeFileSync(path.join(root, RECORD), `${JSON.stringify({ sdkVersion: version }, null, 2)}\n`);
  console.log(
    `api:update: wrote ${REPORT} (API lines: ${removed.length} removed or changed, ${added.length} ` +
      `added) and ${RECORD} (SDK_VERSION ${version}). Review with \`git diff sdk/api/\` and commit.`,
  );
  if (result.warningCount > 0) {
    console.log(
      'API Extractor also warned (above): `npm run api:check` fails until that is fixed.',
    );
  }
}

/** A file of the repo, or undefined when it does not exist. */
function read(file) {
  const full = path.join(root, file);
  return existsSync(full) ? readFileSync(full, 'utf8') : undefined;
}

function fail(message) {
  console.error(message);
  process.exit(1);
}
