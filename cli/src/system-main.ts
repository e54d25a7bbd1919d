/** `emuhost-system-riscv64`: QEMU's `qemu-system-riscv64` command line, on emuhost. */
import { runSystem } from './system/launch.js';

process.exitCode = await runSystem(process.argv.slice(2), process, {
  arch: 'riscv64',
  name: 'emuhost-system-riscv64',
});
process.exit();
