/**
 * `npm run boot [-- extra QEMU options]`: boots the reference guest to an interactive busybox
 * shell on this terminal, with `emuhost-system-riscv64` exactly as a user would run it
 * (`-nographic`: C-a x quits, C-a c the monitor). The guest is fetched first if the cache
 * lacks it (`npm run guest:fetch`). Exits with the emulator's exit code (0 after `poweroff`).
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ensureGuest } from './ensure.js';

const guest = await ensureGuest({ log: (m) => process.stderr.write(`${m}\n`) });
const shell = guest.initramfs.shell;
if (shell === undefined) throw new Error('the guest cache has no shell initramfs');
const cli = dirname(createRequire(import.meta.url).resolve('@emuhost/cli/package.json'));
const argv = [
  join(cli, 'bin', 'emuhost-system-riscv64.mjs'),
  ...['-M', 'virt', '-m', '512M', '-smp', '1', '-nographic'],
  ...['-bios', guest.opensbi.fwDynamic, '-kernel', guest.kernel.image, '-initrd', shell],
  ...['-append', 'console=ttyS0 earlycon'],
  ...process.argv.slice(2),
];
const child = spawn(process.execPath, argv, { stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(code ?? (signal === null ? 1 : 128)));
