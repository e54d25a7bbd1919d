/**
 * Several harts under a real SMP kernel (issue 17: `-smp N`, IPIs through the CLINT): Debian's
 * kernel brings up every secondary hart through OpenSBI's HSM calls, schedules on them (RCU,
 * IPIs for TLB shootdowns and reschedules, timers on each hart), lists them in /proc/cpuinfo and
 * powers off. A storm of supervisor external interrupts once hung two harts here (a latched
 * SEIP), so the run must end with the guest's own poweroff, not the instruction limit.
 */
import { readFileSync } from 'node:fs';
import { ensureGuest } from '@emuhost/guest';
import { describe, expect, it } from 'vitest';
import { bootVirt } from './test-support/boot.js';

const MINUTES = 60_000;
const HARTS = 2;

describe(`Debian riscv64 with -smp ${HARTS}`, () => {
  it(
    'brings up every hart, lists each in /proc/cpuinfo and powers off cleanly',
    async () => {
      const guest = await ensureGuest();
      const result = await bootVirt({
        bios: new Uint8Array(readFileSync(guest.opensbi.fwDynamic)),
        kernel: new Uint8Array(readFileSync(guest.kernel.image)),
        initrd: new Uint8Array(readFileSync(guest.initramfs.test!)),
        cmdline: 'console=ttyS0 earlycon',
        smp: HARTS,
        maxInstructions: 8e9,
      });
      expect({ outcome: result.outcome, exitCode: result.exitCode }).toEqual({
        outcome: 'poweroff',
        exitCode: 0,
      });
      expect(result.output).toContain(`Platform HART Count         : ${HARTS}`);
      expect(result.output).toContain(`smp: Brought up 1 node, ${HARTS} CPUs`);
      const a = result.output.indexOf('EMUHOST-GUEST: cpuinfo begin');
      const b = result.output.indexOf('EMUHOST-GUEST: cpuinfo end');
      const cpuinfo = result.output.slice(a, b);
      const processors = [...cpuinfo.matchAll(/^processor\s*:\s*(\d+)/gm)].map((m) => Number(m[1]));
      expect(processors).toEqual([...Array(HARTS).keys()]);
      expect(result.output).not.toMatch(/WARNING:|BUG:|Oops|stall|soft lockup/);
    },
    40 * MINUTES,
  );
});
