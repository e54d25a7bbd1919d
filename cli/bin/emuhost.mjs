#!/usr/bin/env node
// `emuhost`: runs the CLI's TypeScript entry (see scripts/ts-entry.mjs for why it is bundled).
import { runTs } from '../../scripts/ts-entry.mjs';

await runTs('cli/src/main.ts', process.argv.slice(2));
