/**
 * pc: what a qtest client sees of QEMU's `-machine pc -nodefaults`.
 *
 * - RAM at 0 (up to 3.5 GiB below 4 GiB; the rest above 4 GiB), the PCI address space below it
 *   at priority -1, so BARs show wherever RAM does not;
 * - 00.0 i440FX host bridge (8086:1237) with configuration mechanism #1 at 0xcf8/0xcfc, its
 *   configuration defaults, PAM (0x59..0x5f) and SMRAM (0x72, the 0xA0000 window);
 * - 01.0 PIIX3 ISA bridge (8086:7000), whose PIRQ route registers (0x60..0x63) steer PCI INTx
 *   to ISA IRQ numbers, with 01.1 IDE (8086:7010) and 01.3 PM (8086:7113) beside it;
 * - an interrupt controller `ioapic` (24 inputs; ISA IRQ n is input n), the MSI window at
 *   0xfee00000; `-device` devices from slot 2, as in QEMU;
 * - firmware (`-bios`, `-drive if=pflash`) below 4 GiB and in the ISA BIOS window under PAM
 *   control, on the PCI side (`firmware.ts`);
 * - fw_cfg's I/O ports at 0x510 with the RAM size (`fw-cfg.ts`), which libqos reads.
 */
import { type ContainerHandle, definePlugin, type GuestPhysAddr } from '@emuhost/sdk';
import { mapFirmware } from './firmware.js';
import { createFwCfg } from './fw-cfg.js';
import { createPam, PAM_CONFIG } from './pam.js';

const GiB = 2 ** 30;
/** Where the PCI hole starts when RAM is large (QEMU's pc: 3.5 GiB, below the 4 GiB mark). */
const MAX_LOW_RAM = 0xe0000000;
const SMRAM = 0x72;
const SMRAM_D_OPEN = 0x40;
const PIRQ_ROUTE = 0x60;
const PIRQ_DISABLED = 0x80;
/** ISA IRQs 0..15 (QEMU's ISA_NUM_IRQS). */
const ISA_IRQS = 16;

export default definePlugin({
  kind: 'machine',
  create(ctx) {
    const ioapic = ctx.interruptController('ioapic', 24);
    const ram = ctx.ram('pc.ram', ctx.ramSize);
    const pciSpace = ctx.container('pci', 2 ** 53) as ContainerHandle;
    const low = Math.min(ctx.ramSize, MAX_LOW_RAM);
    ctx.place(ctx.system, ctx.alias('ram-below-4g', ram, 0, low), 0);
    if (ctx.ramSize > low)
      ctx.place(ctx.system, ctx.alias('ram-above-4g', ram, low, ctx.ramSize - low), 4 * GiB);
    ctx.place(ctx.system, pciSpace, 0, -1);
    // The PCI side is opaque: where no BAR answers, an access ends there (master abort: a
    // decode error, reads as 0 like QEMU's unassigned memory) instead of falling through to
    // RAM beneath an alias of it (the PAM and SMRAM windows). A host older than SDK 1.3 has
    // no unassigned regions: MMIO that answers the same does there.
    const unassigned =
      ctx.unassigned?.('pci-unassigned', 2 ** 53) ??
      ctx.mmio('pci-unassigned', 2 ** 53, {
        read: () => 'decode-error',
        write: () => 'decode-error',
      });
    ctx.place(pciSpace, unassigned, 0, -1000);

    // The VGA window 0xA0000..0xBFFFF shows the PCI side unless SMRAM.D_OPEN.
    const smram = ctx.alias('smram-region', pciSpace, 0xa0000, 0x20000);
    ctx.place(ctx.system, smram, 0xa0000, 1);
    const pam = createPam(ctx, ram, pciSpace);
    const firmware = mapFirmware(ctx, pciSpace);
    const fwCfg = createFwCfg(ctx);

    // PIIX3 PIRQ routing: each PCI INTx line goes to the ISA IRQ its route register names.
    // ISA devices (platform devices' `isa-irq-N` outputs) drive ISA IRQ N directly, as
    // QEMU's isa_get_irq wires them. An ISA IRQ is the OR of everything driving it, and
    // reaches the IOAPIC input of the same number.
    const lineLevel = [0, 0, 0, 0];
    const route = [PIRQ_DISABLED, PIRQ_DISABLED, PIRQ_DISABLED, PIRQ_DISABLED];
    const isaLevels = new Map<number, 0 | 1>();
    /** Per ISA IRQ, the ISA devices holding it high. */
    const isaDevices = new Map<number, Set<string>>();
    const updateIsa = () => {
      const want = new Map<number, 0 | 1>();
      for (let l = 0; l < 4; l++) {
        const r = route[l]!;
        if (r & PIRQ_DISABLED || (r & 0xf) >= 16) continue;
        want.set(r & 0xf, (want.get(r & 0xf) ?? 0) || (lineLevel[l] ? 1 : 0));
      }
      for (const [irq, holders] of isaDevices) if (holders.size > 0) want.set(irq, 1);
      for (const irq of new Set([...want.keys(), ...isaLevels.keys()])) {
        const level = want.get(irq) ?? 0;
        if ((isaLevels.get(irq) ?? 0) !== level) ioapic.setInput(irq, level);
        if (level) isaLevels.set(irq, 1);
        else isaLevels.delete(irq);
      }
    };

    const bus = ctx.pciHost({
      name: 'pci.0',
      memory: pciSpace,
      io: ctx.io,
      firstSlot: 2,
      setIrq(line, level) {
        lineLevel[line] = level;
        updateIsa();
      },
    });

    const host = bus.addFunction(0x00, 'i440fx', {
      vendorId: 0x8086,
      deviceId: 0x1237,
      revision: 0x02,
      classCode: 0x060000,
    });
    const isa = bus.addFunction(0x08, 'piix3', {
      vendorId: 0x8086,
      deviceId: 0x7000,
      classCode: 0x060100,
    });
    bus.addFunction(0x09, 'piix3-ide', { vendorId: 0x8086, deviceId: 0x7010, classCode: 0x010180 });
    bus.addFunction(0x0b, 'piix4-pm', {
      vendorId: 0x8086,
      deviceId: 0x7113,
      revision: 0x03,
      classCode: 0x068000,
    });

    const hostDefaults = () => {
      host.configSet(0x57, 1, Math.min(255, Math.floor(ctx.ramSize / (8 << 20))));
      for (let o = PAM_CONFIG; o < PAM_CONFIG + 7; o++) host.configSet(o, 1, 0);
      host.configSet(SMRAM, 1, 0x02);
    };
    const applyHost = () => {
      pam.update((o) => host.configRead(o, 1));
      ctx.setEnabled(smram, (host.configRead(SMRAM, 1) & SMRAM_D_OPEN) === 0);
    };
    host.onConfigWrite((offset, size) => {
      if (offset < PAM_CONFIG + 7 && offset + size > PAM_CONFIG) applyHost();
      else if (offset <= SMRAM && offset + size > SMRAM) applyHost();
    });

    const isaDefaults = () => {
      for (let l = 0; l < 4; l++) isa.configSet(PIRQ_ROUTE + l, 1, PIRQ_DISABLED);
    };
    const applyIsa = () => {
      for (let l = 0; l < 4; l++) route[l] = isa.configRead(PIRQ_ROUTE + l, 1);
      updateIsa();
    };
    isa.onConfigWrite((offset, size) => {
      if (offset < PIRQ_ROUTE + 4 && offset + size > PIRQ_ROUTE) applyIsa();
    });

    hostDefaults();
    isaDefaults();
    applyHost();
    applyIsa();
    ctx.msiWindow(0xfee00000 as GuestPhysAddr);
    return {
      defaultPciBus: 'pci.0',
      platformIrq(device, name) {
        const m = /^isa-irq-(\d+)$/.exec(name);
        const irq = m === null ? -1 : Number(m[1]);
        if (irq < 0 || irq >= ISA_IRQS) return undefined;
        return (level) => {
          const holders = isaDevices.get(irq) ?? new Set<string>();
          isaDevices.set(irq, holders);
          if (level) holders.add(device);
          else holders.delete(device);
          updateIsa();
        };
      },
      reset() {
        firmware.reset();
        fwCfg.reset();
        hostDefaults();
        isaDefaults();
        applyHost();
        applyIsa();
      },
    };
  },
});
