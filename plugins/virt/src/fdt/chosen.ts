/**
 * `/chosen`: what the firmware tells the kernel besides the hardware, added to the machine's
 * own tree or to a user's `-dtb` as QEMU's RISC-V boot code does: `bootargs` from `-append`,
 * `linux,initrd-start`/`-end` as 64-bit values (QEMU's `qemu_fdt_setprop_u64` since 8.0), and
 * `stdout-path` where the machine knows its console. Properties already there are replaced in
 * place; properties not given are left as they are (a user's `stdout-path` survives `-dtb`).
 */
import { ensureNode, type FdtNode, setProp } from './tree.js';
import { u64 } from './values.js';

export interface ChosenInit {
  /** The kernel command line. */
  bootargs?: string;
  /** The initrd's guest-physical range [start, end), in bytes. */
  initrd?: { start: number | bigint; end: number | bigint };
  /** Path (or alias) of the console, e.g. `/soc/serial@10000000`. */
  stdoutPath?: string;
}

/** Sets `/chosen` properties on the tree rooted at `root`, creating the node if needed. */
export function setChosen(root: FdtNode, init: ChosenInit): FdtNode {
  const chosen = ensureNode(root, '/chosen');
  if (init.bootargs !== undefined) setProp(chosen, 'bootargs', init.bootargs);
  if (init.initrd) {
    setProp(chosen, 'linux,initrd-start', u64(init.initrd.start));
    setProp(chosen, 'linux,initrd-end', u64(init.initrd.end));
  }
  if (init.stdoutPath !== undefined) setProp(chosen, 'stdout-path', init.stdoutPath);
  return chosen;
}
