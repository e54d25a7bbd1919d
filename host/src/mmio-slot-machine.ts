/**
 * `slots`: a machine for virtio-mmio device tests, written as a machine plugin: RAM at
 * 0x8000_0000, a `plic`, and two virtio-mmio slots at 0x1000_1000 and 0x1000_2000 on PLIC
 * sources 1 and 2, as QEMU's virt lays them out. A slot is free again when its device goes,
 * so a reload (which releases the old instance's slot before the new one asks) lands in the
 * same place.
 */
import { definePlugin, type GuestPhysAddr } from '@emuhost/sdk';
import { inProcessPlugin } from './in-process.js';

const SLOTS = 2;

export const mmioSlotMachine = () =>
  inProcessPlugin(
    {
      id: 'slots',
      version: '1.0.0',
      kind: 'machine',
      sdk: '^1.4.0',
      entry: '<in-process>',
      capabilities: [],
    },
    definePlugin({
      kind: 'machine',
      create(ctx) {
        const plic = ctx.interruptController('plic', 16);
        ctx.place(ctx.system, ctx.ram('ram', ctx.ramSize), 0x80000000);
        const taken = new Set<number>();
        return {
          platformSlot(_device, kind) {
            if (kind !== 'virtio-mmio') return undefined;
            let n = 0;
            while (n < SLOTS && taken.has(n)) n++;
            if (n === SLOTS) return undefined;
            taken.add(n);
            return {
              base: (0x10001000 + 0x1000 * n) as GuestPhysAddr,
              size: 0x1000,
              irq: (level) => plic.setInput(1 + n, level),
              release: () => taken.delete(n),
            };
          },
        };
      },
    }),
  );
