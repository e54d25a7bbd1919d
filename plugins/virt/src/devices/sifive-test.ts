/**
 * The test finisher of QEMU's virt machine (`sifive,test1` at 0x100000), as
 * hw/misc/sifive_test.c models it: a write to offset 0 whose low 16 bits are a command ends
 * the run. The device tree's syscon-poweroff and syscon-reboot nodes point at it, which is how
 * OpenSBI and Linux power off and reboot.
 *
 *   0x5555                 poweroff, exit code 0 (FINISHER_PASS)
 *   0x3333 | code << 16    poweroff with exit code `code` (FINISHER_FAIL)
 *   0x7777                 reboot (FINISHER_RESET)
 *
 * Anything else, and any other offset, is ignored (a guest error); reads return 0. Accesses
 * of 2 or 4 bytes, as QEMU's `valid` rules.
 */
import type { Logger, MmioAccessRules, MmioOps } from '@emuhost/sdk';
import type { VirtDevice } from './device.js';
import { StateReader } from './saved-state.js';

export const SIFIVE_TEST_SIZE = 0x1000;
const FINISHER_FAIL = 0x3333;
const FINISHER_PASS = 0x5555;
const FINISHER_RESET = 0x7777;

/** What ends the run: `MachineContext.requestShutdown` (it acts between events). */
export type ShutdownRequest = (kind: 'poweroff' | 'reboot', exitCode?: number) => void;

export interface SifiveTestOptions {
  readonly shutdown: ShutdownRequest;
  readonly log?: Logger;
}

export class SifiveTest implements VirtDevice {
  readonly size = SIFIVE_TEST_SIZE;
  readonly rules: MmioAccessRules = { valid: { min: 2, max: 4 }, endianness: 'little' };
  readonly ops: MmioOps = {
    read: () => 0,
    write: (offset, _size, value) => {
      this.write(offset, Number(value) >>> 0);
      return undefined;
    },
  };

  private readonly shutdown: ShutdownRequest;
  private readonly log: Logger | undefined;

  constructor(opts: SifiveTestOptions) {
    this.shutdown = opts.shutdown;
    this.log = opts.log;
  }

  /** Nothing to reset: the device has no state. */
  reset(): void {}

  saveState(): Record<string, never> {
    return {};
  }

  loadState(state: unknown): void {
    new StateReader('sifive-test', state);
  }

  private write(offset: number, value: number): void {
    const status = offset === 0 ? value & 0xffff : -1;
    if (status === FINISHER_PASS) this.shutdown('poweroff', 0);
    else if (status === FINISHER_FAIL) this.shutdown('poweroff', value >>> 16);
    else if (status === FINISHER_RESET) this.shutdown('reboot');
    else
      this.log?.debug(
        `sifive-test: ignored write of 0x${value.toString(16)} at 0x${offset.toString(16)}`,
      );
  }
}
