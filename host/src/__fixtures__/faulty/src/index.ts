/**
 * A test device whose callbacks throw on request: reading 0x10 (in regs.ts), writing 1 to
 * 0x14 (a timer named `tick` then throws), a guest config write at 0x40. Every other access
 * works, so that a fault report can be checked against the lines below.
 */
import { definePlugin } from '@emuhost/sdk';
import { readRegister } from './regs.js';

export default definePlugin({
  kind: 'device',
  pci: { vendorId: 0x1234, deviceId: 0xfa17, classCode: 0xff0000 },
  create(ctx) {
    const tick = ctx.clock.timer('tick', () => {
      throw new RangeError('the tick went wrong');
    });
    const regs = ctx.mmio('regs', 0x100, {
      read: (offset) => readRegister(offset),
      write: (offset) => {
        if (offset === 0x14) tick.armIn(10);
      },
    });
    ctx.pci?.bar(0, { kind: 'memory', size: 0x100 }, regs);
    ctx.pci?.onConfigWrite((offset) => {
      if (offset === 0x40) throw new TypeError('config 0x40 is read-only here');
    });
    return {};
  },
});
