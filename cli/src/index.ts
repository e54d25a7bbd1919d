/**
 * @emuhost/cli: the emuhost command line.
 *
 * - `start.ts`: what `npm start` runs: `emuhost run` on the default machine (`commands/run.ts`,
 *   `demo/`).
 * - `qtest/`: QEMU's qtest protocol; `QtestSession` and `serveStream` are exported for
 *   in-process use (the bench serves a session on a socket it also drives).
 */
export { QtestSession, type SessionOptions } from './qtest/session.js';
export { type ServeOptions, serveStream } from './qtest/transport.js';
