/** `emuhost-system-riscv64`: QEMU's `qemu-system-riscv64` command line, on emuhost. */
import { startExitGuard } from './signals.js';
import { runSystem } from './system/launch.js';

// SIGTERM and Ctrl-C (a signal when the terminal is not raw) end it within a second, even
// while plugin code does not return.
startExitGuard();
process.exitCode = await runSystem(process.argv.slice(2), process, {
  arch: 'riscv64',
  name: 'emuhost-system-riscv64',
});
process.exit();
