/**
 * @emuhost/cli: the emuhost command line.
 *
 * - `start.ts`: what `npm start` runs.
 * - `kernel-tour.ts`: a printed tour of the kernel's memory model.
 * - `qtest/`: QEMU's qtest protocol; `QtestSession` and `serveStream` are exported for
 *   in-process use (the bench serves a session on a socket it also drives).
 */
export { kernelTour } from './kernel-tour.js';
export { QtestSession, type SessionOptions } from './qtest/session.js';
export { type ServeOptions, serveStream } from './qtest/transport.js';
