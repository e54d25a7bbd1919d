import { fileURLToPath } from 'node:url';
import { Emulator } from '@emuhost/host';
import { createDriver, loadPluginDir } from '@emuhost/testing';
import { describe, expect, it } from 'vitest';

const dir = fileURLToPath(new URL('..', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../../../host/src/__fixtures__/dma-copy', import.meta.url));
const TESTDEV = fileURLToPath(new URL('../../pc-testdev', import.meta.url));

describe('the q35 machine', () => {
  it('enumerates as QEMU -machine q35 -nodefaults does, places -device from slot 1, and names its IOMMU slot', async () => {
    const emu = new Emulator({
      machine: await loadPluginDir(dir),
      ramSize: 256 << 20,
      log: () => {},
    });
    emu.addDevice(await loadPluginDir(FIXTURE));
    const d = createDriver(emu);
    expect(
      d
        .pciDevices()
        .map((x) => [x.devfn.toString(16), x.vendorId.toString(16), x.deviceId.toString(16)]),
    ).toEqual([
      ['0', '8086', '29c0'],
      ['8', '1234', 'beef'],
      ['f8', '8086', '2918'],
      ['fa', '8086', '2922'],
      ['fb', '8086', '2930'],
    ]);
    expect(d.pciDevices()[2]!.configRead(0x0e, 1)).toBe(0x80);
    expect(emu.model.iommu).toEqual({ base: 0xfed90000, bus: 'pcie.0' });
  });

  it('delivers INTx of slot 1 INTA to ioapic input 17 and DMA into RAM', async () => {
    const emu = new Emulator({
      machine: await loadPluginDir(dir),
      ramSize: 256 << 20,
      log: () => {},
    });
    emu.addDevice(await loadPluginDir(FIXTURE));
    const d = createDriver(emu);
    const dev = d.pciFind(0x1234, 0xbeef)!;
    const bar = dev.iomap(0);
    dev.enable();
    d.memwrite(0x1000, Uint8Array.of(5, 6));
    d.writel(bar.addr, 0x1000);
    d.writel(bar.addr + 4, 0x2000);
    d.writel(bar.addr + 8, 2);
    d.writel(bar.addr + 12, 1);
    d.clockStep(10_000);
    expect([...d.memread(0x2000, 2)]).toEqual([5, 6]);
    expect(d.irqLevel(17)).toBe(1);
  });

  it('wires ISA IRQ N of platform devices to ioapic input N, the OR of their holders', async () => {
    const emu = new Emulator({
      machine: await loadPluginDir(dir),
      ramSize: 64 << 20,
      log: () => {},
    });
    const testdev = await loadPluginDir(TESTDEV);
    emu.addDevice(testdev, { platform: true, id: 't0' });
    const d = createDriver(emu);
    d.outb(0x2004, 1);
    expect(d.irqLevel(4)).toBe(1);
    d.outb(0x2004, 0);
    expect(d.irqLevel(4)).toBe(0);
    d.outb(0x2007, 1);
    expect(d.irqLevel(7)).toBe(1);
    // A second device (it now answers the ports) holds 7 too, then lets go: t0 still holds it.
    emu.addDevice(testdev, { platform: true, id: 't1' });
    d.outb(0x2007, 1);
    d.outb(0x2007, 0);
    expect(d.irqLevel(7)).toBe(1);
    // Removing the device lowers what it held.
    emu.removeDevice('t0');
    expect(d.irqLevel(7)).toBe(0);
  });
});
