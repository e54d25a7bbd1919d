/**
 * `npm run boot [-- QEMU options]`: the reference guest (`npm run guest:fetch`) on the virt
 * machine, with its interactive busybox shell on this terminal: `emuhost-system-riscv64` with
 * the cached OpenSBI, kernel and shell initramfs. More options go after `--` (`-smp 2`,
 * `-s -S`, `-icount shift=auto`); C-a x quits, `exit` in the shell powers the guest off.
 */
import { join } from 'node:path';
import { guestDir, readManifest } from '@emuhost/guest';
import { startExitGuard } from './signals.js';
import { runSystem } from './system/launch.js';

const dir = guestDir();
const m = readManifest(dir);
const shell = m?.initramfs.shell;
if (m === undefined || shell === undefined) {
  process.stderr.write(`npm run boot: no guest in ${dir}: run npm run guest:fetch first\n`);
  process.exit(1);
}
const at = (p: string) => join(dir, p);
startExitGuard();
process.exitCode = await runSystem(
  [
    '-M',
    'virt',
    '-m',
    '512M',
    '-nographic',
    '-bios',
    at(m.opensbi.file.path),
    '-kernel',
    at(m.kernel.image.path),
    '-initrd',
    at(shell.path),
    '-append',
    'console=ttyS0 earlycon',
    ...process.argv.slice(2),
  ],
  process,
  { arch: 'riscv64', name: 'emuhost-system-riscv64' },
);
process.exit();
