/**
 * @emuhost/cli: the emuhost command line.
 *
 * - `start.ts`: what `npm start` runs: `emuhost run` on the default machine (`commands/run.ts`,
 *   `demo/`).
 * - `fuzz/`: `emuhost fuzz` (exported for the bench's `fuzz.ops.per.s`).
 * - `qtest/`: QEMU's qtest protocol; `QtestSession` and `serveStream` are exported for
 *   in-process use (the bench serves a session on a socket it also drives).
 */
export { machineSpec, parseCombo } from './fuzz/combos.js';
export { type FuzzOptions, type FuzzResult, fuzz, runSequence, seqSeed } from './fuzz/fuzz.js';
export { QtestSession, type SessionOptions } from './qtest/session.js';
export { type ServeOptions, serveStream } from './qtest/transport.js';
