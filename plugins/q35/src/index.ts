/**
 * q35: what a qtest client sees of QEMU's `-machine q35 -nodefaults`.
 *
 * - RAM at 0 (up to 2 GiB below 4 GiB, the rest above), the PCI Express address space below
 *   it at priority -1 (opaque where no BAR answers);
 * - 00.0 Q35 host bridge / MCH (8086:29c0) with configuration mechanism #1 at 0xcf8/0xcfc;
 * - 1f.0 ICH9 LPC (8086:2918), 1f.2 ICH9 AHCI (8086:2922), 1f.3 ICH9 SMBus (8086:2930);
 * - an `ioapic` whose inputs 16..19 take the bus's INTx lines A..D (the PIRQs in APIC mode)
 *   and inputs 0..15 the ISA IRQs of platform devices (`isa-irq-N`), the MSI window at
 *   0xfee00000; `-device` devices from slot 1;
 * - an IOMMU slot: an IOMMU added to the machine maps its registers at 0xfed90000 and
 *   translates `pcie.0` (VT-d, as `-device intel-iommu`).
 */
import { type ContainerHandle, definePlugin, type GuestPhysAddr } from '@emuhost/sdk';

const GiB = 2 ** 30;
/** Q35 keeps the PCI hole from 2 GiB when RAM is larger (QEMU's default for large RAM: 2 GiB or 2.75 GiB). */
const MAX_LOW_RAM = 0x80000000;
/** ISA IRQs 0..15 (QEMU's ISA_NUM_IRQS). */
const ISA_IRQS = 16;

export default definePlugin({
  kind: 'machine',
  create(ctx) {
    const ioapic = ctx.interruptController('ioapic', 24);
    const ram = ctx.ram('pc.ram', ctx.ramSize);
    const pcie = ctx.container('pcie', 2 ** 53) as ContainerHandle;
    const low = Math.min(ctx.ramSize, MAX_LOW_RAM);
    ctx.place(ctx.system, ctx.alias('ram-below-4g', ram, 0, low), 0);
    if (ctx.ramSize > low)
      ctx.place(ctx.system, ctx.alias('ram-above-4g', ram, low, ctx.ramSize - low), 4 * GiB);
    ctx.place(ctx.system, pcie, 0, -1);
    // Opaque where no BAR answers (a master abort), as on pc.
    const unassigned =
      ctx.unassigned?.('pcie-unassigned', 2 ** 53) ??
      ctx.mmio('pcie-unassigned', 2 ** 53, {
        read: () => 'decode-error',
        write: () => 'decode-error',
      });
    ctx.place(pcie, unassigned, 0, -1000);

    const bus = ctx.pciHost({
      name: 'pcie.0',
      memory: pcie,
      io: ctx.io,
      firstSlot: 1,
      setIrq: (line, level) => ioapic.setInput(16 + line, level),
    });
    bus.addFunction(0x00, 'mch', {
      vendorId: 0x8086,
      deviceId: 0x29c0,
      revision: 0x02,
      classCode: 0x060000,
    });
    bus.addFunction(0xf8, 'ich9-lpc', {
      vendorId: 0x8086,
      deviceId: 0x2918,
      revision: 0x02,
      classCode: 0x060100,
    });
    bus.addFunction(0xfa, 'ich9-ahci', {
      vendorId: 0x8086,
      deviceId: 0x2922,
      revision: 0x02,
      classCode: 0x010601,
    });
    bus.addFunction(0xfb, 'ich9-smbus', {
      vendorId: 0x8086,
      deviceId: 0x2930,
      revision: 0x02,
      classCode: 0x0c0500,
    });
    ctx.msiWindow(0xfee00000 as GuestPhysAddr);
    // ISA devices (platform devices' `isa-irq-N` outputs) drive ioapic input N, as the ICH9
    // LPC bridge's ISA IRQs do; each input is the OR of the devices holding it high.
    const isaHolders = Array.from({ length: ISA_IRQS }, () => new Set<string>());
    return {
      defaultPciBus: 'pcie.0',
      iommu: { base: 0xfed90000 as GuestPhysAddr, bus: 'pcie.0' },
      platformIrq(device, name) {
        const m = /^isa-irq-(\d+)$/.exec(name);
        const holders = m === null ? undefined : isaHolders[Number(m[1])];
        if (holders === undefined) return undefined;
        const irq = Number(m![1]);
        return (level) => {
          if (level) holders.add(device);
          else holders.delete(device);
          ioapic.setInput(irq, holders.size > 0 ? 1 : 0);
        };
      },
    };
  },
});
