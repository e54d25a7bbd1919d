import { fileURLToPath } from 'node:url';
import { Emulator } from '@emuhost/host';
import { createDriver, loadPluginDir } from '@emuhost/testing';
import { describe, expect, it } from 'vitest';
import { pamNibble, pamSegment } from './pam.js';

const dir = fileURLToPath(new URL('..', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../../../host/src/__fixtures__/dma-copy', import.meta.url));

async function boot(ramSize = 128 << 20) {
  const emu = new Emulator({ machine: await loadPluginDir(dir), ramSize, log: () => {} });
  return { emu, d: createDriver(emu) };
}

describe('the pc machine', () => {
  it('enumerates as QEMU -machine pc -nodefaults does, and places -device from slot 2', async () => {
    const { emu, d } = await boot();
    emu.addDevice(await loadPluginDir(FIXTURE));
    const found = d
      .pciDevices()
      .map((x) => [x.devfn.toString(16), x.vendorId.toString(16), x.deviceId.toString(16)]);
    expect(found).toEqual([
      ['0', '8086', '1237'],
      ['8', '8086', '7000'],
      ['9', '8086', '7010'],
      ['b', '8086', '7113'],
      ['10', '1234', 'beef'],
    ]);
    const host = d.pciDevices()[0]!;
    expect(host.configRead(0x08, 4)).toBe(0x06000002);
    expect(host.configRead(0x72, 1)).toBe(0x02);
    expect(host.configRead(0x57, 1)).toBe(16);
    expect(d.pciDevices()[1]!.configRead(0x0e, 1)).toBe(0x80);
    expect(d.pciDevices()[1]!.configRead(0x60, 4)).toBe(0x80808080);
  });

  it('steers PCI INTx to the ISA IRQ the PIIX3 route register names, as ioapic inputs', async () => {
    const { emu, d } = await boot();
    emu.addDevice(await loadPluginDir(FIXTURE));
    const isa = d.pciDevices()[1]!;
    const dev = d.pciFind(0x1234, 0xbeef)!;
    const bar = dev.iomap(0);
    dev.enable();
    const copy = () => {
      d.writel(bar.addr + 12, 1);
      d.clockStep(10_000);
    };
    // Slot 2, INTA: bus line (2 + 0) % 4 = 2, PIRQC, route register 0x62. Disabled by default.
    copy();
    expect([...emu.machine.interruptControllers.get('ioapic')!.levels].every((l) => l === 0)).toBe(
      true,
    );
    isa.configWrite(0x62, 1, 11);
    expect(d.irqLevel(11)).toBe(1);
    d.writel(bar.addr + 16, 0);
    expect(d.irqLevel(11)).toBe(0);
    copy();
    isa.configWrite(0x62, 1, 10);
    expect([d.irqLevel(10), d.irqLevel(11)]).toEqual([1, 0]);
    isa.configWrite(0x62, 1, 0x80);
    expect(d.irqLevel(10)).toBe(0);
  });

  it('routes reads and writes of each PAM segment independently, as the datasheet says', async () => {
    const { d } = await boot();
    const host = d.pciDevices()[0]!;
    const setPam = (i: number, mode: number) => {
      const { offset, shift } = pamNibble(i);
      const v = host.configRead(offset, 1);
      host.configWrite(offset, 1, (v & ~(0xf << shift)) | (mode << shift));
    };
    const fill = (i: number, b: number) => {
      const { start, size } = pamSegment(i);
      d.memwrite(start, new Uint8Array(size).fill(b));
    };
    const all = (i: number, b: number) => {
      const { start, size } = pamSegment(i);
      return d.memread(start, size).every((x) => x === b);
    };
    for (let i = 0; i < 13; i++) {
      setPam(i, 1); // RE: reads from RAM (all zero), writes to the PCI side (lost)
      expect(all(i, 0)).toBe(true);
      fill(i, 0x11);
      expect(all(i, 0)).toBe(true);
      setPam(i, 3); // RE | WE
      fill(i, 0x42);
      expect(all(i, 0x42)).toBe(true);
      setPam(i, 2); // WE only: reads come from the PCI side, not our mask
      expect(all(i, 0x42)).toBe(false);
      fill(i, 0x82);
      setPam(i, 1);
      expect(all(i, 0x82)).toBe(true);
      setPam(i, 0);
      expect(all(i, 0x82)).toBe(false);
    }
  });

  it('shows the PCI side in the SMRAM window unless D_OPEN, and resets chipset registers', async () => {
    const { emu, d } = await boot();
    const host = d.pciDevices()[0]!;
    d.writel(0xa0000, 0x12345678);
    expect(d.readl(0xa0000)).toBe(0);
    host.configWrite(0x72, 1, 0x42);
    d.writel(0xa0000, 0x12345678);
    expect(d.readl(0xa0000)).toBe(0x12345678);
    host.configWrite(0x59, 1, 0x30);
    emu.reset();
    expect(host.configRead(0x72, 1)).toBe(0x02);
    expect(host.configRead(0x59, 1)).toBe(0);
    expect(d.readl(0xa0000)).toBe(0);
  });

  it('puts RAM past 3.5 GiB above 4 GiB', async () => {
    const { emu } = await boot(4 * 2 ** 30);
    const ranges = emu.machine.memory.flatView().ranges.filter((r) => r.region.name === 'pc.ram');
    expect(ranges.at(-1)!.end).toBe(4 * 2 ** 30 + (4 * 2 ** 30 - 0xe0000000));
  });
});
