/** `emuhost-system-x86_64`: QEMU's argv, unchanged, for harnesses that only take a binary path. */
import { runQtest } from './qtest/launch.js';
import { startExitGuard } from './signals.js';

// SIGTERM ends the target within a second, even while plugin code does not return.
startExitGuard();
process.exitCode = await runQtest(process.argv.slice(2), process);
process.exit();
