/**
 * The kernel's build configuration (`config-<abi>`), and which of the guest's drivers are
 * modules that the initramfs must carry.
 *
 * The drivers are decided by the config, not by what the modules package holds: on 7.2
 * VIRTIO_CONSOLE is built in (no module to load), and a later kernel may build in virtio_blk.
 */

/** `CONFIG_X=value` lines as X -> value (`y`, `m`, a number or a quoted string). */
export function parseKconfig(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^CONFIG_([A-Za-z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

export type DriverState = 'builtin' | 'module' | 'absent';

export function driverState(config: ReadonlyMap<string, string>, option: string): DriverState {
  const v = config.get(option);
  return v === 'y' ? 'builtin' : v === 'm' ? 'module' : 'absent';
}

/** A driver the guest uses: its module file name and config option. */
export interface GuestDriver {
  /** Module name as in `<name>.ko` (the file names use both `-` and `_`). */
  readonly module: string;
  readonly option: string;
  /** The test flavour needs it: a kernel without it is refused. */
  readonly required: boolean;
}

/** In load order: a module comes after those it depends on (failover before net_failover). */
export const GUEST_DRIVERS: readonly GuestDriver[] = [
  { module: 'virtio_blk', option: 'VIRTIO_BLK', required: true },
  { module: 'virtio-rng', option: 'HW_RANDOM_VIRTIO', required: true },
  { module: 'failover', option: 'FAILOVER', required: false },
  { module: 'net_failover', option: 'NET_FAILOVER', required: false },
  { module: 'virtio_net', option: 'VIRTIO_NET', required: false },
  { module: 'virtio_console', option: 'VIRTIO_CONSOLE', required: false },
];
