/**
 * @emuhost/cli: the emuhost command line.
 *
 * - `start.ts`: what `npm start` runs: `emuhost run` on the default machine (`commands/run.ts`,
 *   `demo/`).
 * - `fuzz/`: `emuhost fuzz` (exported for the bench's `fuzz.ops.per.s`).
 * - `commands/dev.ts`: `emuhost dev`; `startDev` is exported for the bench's `reload.guest.*`.
 * - `system/`: `emuhost-system-riscv64` (`system-main.ts`): QEMU's system-emulator command
 *   line, consoles, the monitor and the GDB stub over the host's run loop; `runSystem` is
 *   exported for in-process use.
 * - `qtest/`: QEMU's qtest protocol; `QtestSession` and `serveStream` are exported for
 *   in-process use (the bench serves a session on a socket it also drives).
 */
export { type DevCycle, type DevSession, startDev } from './commands/dev.js';
export { machineSpec, parseCombo } from './fuzz/combos.js';
export { type FuzzOptions, type FuzzResult, fuzz, runSequence, seqSeed } from './fuzz/fuzz.js';
export { QtestSession, type SessionOptions } from './qtest/session.js';
export { type ServeOptions, serveStream } from './qtest/transport.js';
export { runSystem, type SystemIo, type SystemTarget } from './system/launch.js';
