#!/usr/bin/env node
// Runs a TypeScript entry of this repository: `node scripts/run-ts.mjs <entry.ts> [args...]`.
import { runTs } from './ts-entry.mjs';

const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  console.error('usage: node scripts/run-ts.mjs <entry.ts> [args...]');
  process.exit(2);
}
await runTs(entry, args);
