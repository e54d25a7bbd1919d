/**
 * A test device: BAR0 holds src (0x00), dst (0x04), len (0x08); writing 1 to 0x0c copies len
 * bytes from src to dst through the device's DMA context after 1 µs of virtual time, then
 * writes the result code to 0x10 (0 ok, 1 failed) and raises INTx.
 */
import { definePlugin, iova } from '@emuhost/sdk';

export default definePlugin({
  kind: 'device',
  pci: { vendorId: 0x1234, deviceId: 0xbeef, classCode: 0xff0000 },
  options: { delay_ns: { type: 'number', default: 1000, description: 'time a copy takes' } },
  stateVersion: 1,
  create(ctx, state) {
    const regs = new Uint32Array(5);
    if (state !== undefined) regs.set(state as number[]);
    const timer = ctx.clock.timer('copy', () => {
      const buf = new Uint8Array(regs[2]!);
      const r1 = ctx.dma.read(iova(regs[0]!), buf);
      const r2 = r1 === 'ok' ? ctx.dma.write(iova(regs[1]!), buf) : r1;
      regs[4] = r2 === 'ok' ? 0 : 1;
      ctx.irq.raise();
    });
    const bar = ctx.mmio(
      'regs',
      0x1000,
      {
        read: (offset) => regs[offset >> 2] ?? 0,
        write: (offset, _size, value) => {
          const i = offset >> 2;
          if (i === 3 && Number(value) === 1) timer.armIn(ctx.options.delay_ns as number);
          else if (i < 3) regs[i] = Number(value);
          else if (i === 4) ctx.irq.lower();
          return undefined;
        },
      },
      { valid: { min: 4, max: 4 }, impl: { min: 4, max: 4 } },
    );
    ctx.pci!.bar(0, { kind: 'memory', size: 0x1000 }, bar);
    return {
      reset: () => regs.fill(0),
      saveState: () => [...regs],
    };
  },
});
