/**
 * Step 2: talk to edu through its BAR the way QEMU's edu documentation describes — the
 * identification register, the liveness check (it stores the complement of what is written)
 * and a factorial, which completes in virtual time: the driver polls COMPUTING while the
 * clock runs, as it would poll a real device.
 */
import type { DemoContext, DemoStep } from './context.js';
import { REG, STATUS_COMPUTING } from './edu.js';
import { formatNs, hex } from './report.js';

const LIVENESS_PROBE = 0x12345678;
const FACTORIAL_OF = 12;

/** n! mod 2^32, computed here to check the device's answer. */
const factorial = (n: number) => {
  let r = 1;
  for (let i = 2; i <= n; i++) r = Math.imul(r, i) >>> 0;
  return r;
};

export const eduBasics: DemoStep = {
  title: 'edu basics (identification, liveness, factorial)',
  run(demo: DemoContext, out) {
    const edu = demo.eduDriver;
    const id = edu.readl(REG.ID);
    out.expect('edu identification (BAR0 + 0x00)', id, 0x010000ed, (v) => hex(v, 8));
    out.ok(`identification ${hex(id, 8)}: edu, version ${id >>> 24}.${(id >>> 16) & 0xff}`);

    edu.writel(REG.LIVENESS, LIVENESS_PROBE);
    const back = edu.readl(REG.LIVENESS);
    out.expect('liveness (reads the complement)', back, ~LIVENESS_PROBE >>> 0, (v) => hex(v, 8));
    out.ok(`liveness: wrote ${hex(LIVENESS_PROBE, 8)}, read back ${hex(back, 8)} (its complement)`);

    const t0 = demo.drv.now;
    edu.writel(REG.FACTORIAL, FACTORIAL_OF);
    const busy = (edu.readl(REG.STATUS) & STATUS_COMPUTING) !== 0;
    let polls = 0;
    while ((edu.readl(REG.STATUS) & STATUS_COMPUTING) !== 0 && polls < 16) {
      if (demo.drv.clockStep() === undefined) break;
      polls++;
    }
    const result = edu.readl(REG.FACTORIAL);
    out.require('COMPUTING right after the write', busy, 'set', 'clear');
    out.expect(`${FACTORIAL_OF}! (BAR0 + 0x08)`, result, factorial(FACTORIAL_OF));
    out.ok(
      `factorial: ${FACTORIAL_OF}! = ${result}, ready ${formatNs(demo.drv.now - t0)} after the write (COMPUTING polled)`,
    );
  },
};
