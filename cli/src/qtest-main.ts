/** `emuhost-system-x86_64`: QEMU's argv, unchanged, for harnesses that only take a binary path. */
import { runQtest } from './qtest/launch.js';

process.exitCode = await runQtest(process.argv.slice(2), process);
process.exit();
