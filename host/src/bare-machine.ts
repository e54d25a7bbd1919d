/**
 * `bare`: the smallest useful machine, written as a machine plugin. RAM at 0, PCI memory
 * below it, a root bus `pci.0` (first slot 1) with configuration mechanism #1, an `ioapic`
 * whose inputs 16..19 take the bus's INTx lines, and the x86 MSI window. The pc and q35
 * machines are plugins of their own; this one ships in the host for tests and conformance
 * kits, which need some machine to place a device in.
 */
import { definePlugin, type GuestPhysAddr } from '@emuhost/sdk';
import { inProcessPlugin } from './in-process.js';

export const bareMachineDefinition = definePlugin({
  kind: 'machine',
  create(ctx) {
    const ioapic = ctx.interruptController('ioapic', 24);
    const pciMemory = ctx.container('pci-memory', 2 ** 53);
    ctx.place(ctx.system, ctx.ram('ram', ctx.ramSize), 0);
    ctx.place(ctx.system, pciMemory, 0, -1);
    ctx.pciHost({
      name: 'pci.0',
      memory: pciMemory,
      io: ctx.io,
      firstSlot: 1,
      setIrq: (line, level) => ioapic.setInput(16 + line, level),
    });
    ctx.msiWindow(0xfee00000 as GuestPhysAddr);
    return { defaultPciBus: 'pci.0' };
  },
});

export const bareMachine = () =>
  inProcessPlugin(
    {
      id: 'bare',
      version: '1.0.0',
      kind: 'machine',
      sdk: '^1.0.0',
      entry: '<in-process>',
      capabilities: [],
    },
    bareMachineDefinition,
  );
