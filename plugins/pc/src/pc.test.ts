import { fileURLToPath } from 'node:url';
import { Emulator } from '@emuhost/host';
import { iova } from '@emuhost/sdk';
import { createDriver, loadPluginDir } from '@emuhost/testing';
import { describe, expect, it } from 'vitest';
import { pamNibble, pamSegment } from './pam.js';

const dir = fileURLToPath(new URL('..', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../../../host/src/__fixtures__/dma-copy', import.meta.url));
const TESTDEV = fileURLToPath(new URL('../../pc-testdev', import.meta.url));

async function boot(ramSize = 128 << 20, firmware?: { bios?: Uint8Array; pflash?: Uint8Array[] }) {
  const emu = new Emulator({
    machine: await loadPluginDir(dir),
    ramSize,
    log: () => {},
    ...(firmware !== undefined && { firmware }),
  });
  return { emu, d: createDriver(emu) };
}

/** What i440fx-test writes: byte i is i & 0xff. */
const blob = (size: number) => Uint8Array.from({ length: size }, (_, i) => i & 0xff);

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

  it('DMA sees no memory in the PCI hole or where PAM shows the PCI side (master abort)', async () => {
    const { emu, d } = await boot();
    const dma = emu.addDevice(await loadPluginDir(FIXTURE)).slot.pci!.dma;
    d.pciFind(0x1234, 0xbeef)!.enable();
    expect(dma.canAccess(iova(0x100000), 0x1000, 'write')).toBe(true);
    expect(dma.canAccess(iova(0xd0000000), 4, 'read')).toBe(false);
    // PAM segments 0xc0000.. read the PCI side at reset, and RAM lies beneath.
    expect(dma.canAccess(iova(0xc0000), 4, 'read')).toBe(false);
    expect(dma.read(iova(0xd0000000), new Uint8Array(4))).toMatchObject({
      result: 'decode-error',
    });
  });

  it('wires ISA devices to ISA IRQ N; an IRQ a PCI line shares is the OR of both', async () => {
    const { emu, d } = await boot();
    emu.addDevice(await loadPluginDir(FIXTURE));
    emu.addDevice(await loadPluginDir(TESTDEV), { platform: true, id: 'testdev' });
    const isa = d.pciDevices()[1]!;
    const dev = d.pciFind(0x1234, 0xbeef)!;
    const bar = dev.iomap(0);
    dev.enable();
    isa.configWrite(0x62, 1, 10); // the PCI device's INTA -> ISA IRQ 10
    d.outb(0x200a, 1); // pc-testdev drives ISA IRQ 10 too
    expect(d.irqLevel(10)).toBe(1);
    d.writel(bar.addr + 12, 1);
    d.clockStep(10_000);
    d.outb(0x200a, 0);
    expect(d.irqLevel(10), 'the PCI line still holds it').toBe(1);
    d.writel(bar.addr + 16, 0);
    expect(d.irqLevel(10)).toBe(0);
    // A device that goes away lowers what it held.
    d.outb(0x2003, 1);
    expect(d.irqLevel(3)).toBe(1);
    emu.removeDevice('testdev');
    expect(d.irqLevel(3)).toBe(0);
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

  it('maps -bios as ROM ending at 4 GiB and its last 128 KiB at 1 MiB, under PAM', async () => {
    const bios = blob(0x40000);
    const { d } = await boot(128 << 20, { bios });
    expect(d.memread(2 ** 32 - bios.length, bios.length)).toEqual(bios);
    const isa = d.memread(0xe0000, 0x20000);
    expect(isa).toEqual(bios.subarray(bios.length - 0x20000));
    // ROM: a write reaches nothing.
    d.writel(0xfffffff0, 0x12345678);
    expect(d.readl(0xfffffff0)).toBe(0xf3f2f1f0);
    // Shadowing, as a BIOS does: WE only (reads still the ROM), copy, then RE only.
    const host = d.pciDevices()[0]!;
    host.configWrite(0x59, 1, 0x20); // segment 0 (0xF0000..0xFFFFF): WE
    d.memwrite(0xf0000, new Uint8Array(0x10000).fill(0x5a));
    expect(d.readl(0xf0000)).toBe(0x03020100);
    host.configWrite(0x59, 1, 0x10); // RE: the RAM copy
    expect(d.readl(0xf0000)).toBe(0x5a5a5a5a);
    expect(d.readl(0xe0000)).toBe(0x03020100); // other segments still the ROM
    host.configWrite(0x59, 1, 0x00);
    expect(d.readl(0xf0000)).toBe(0x03020100);
    // A BIOS smaller than 128 KiB shows whole, ending at 1 MiB; below it is RAM or PCI.
    const small = await boot(128 << 20, { bios: blob(0x10000) });
    expect(small.d.memread(0xf0000, 0x10000)).toEqual(blob(0x10000));
    expect(small.d.readl(0xe0000)).toBe(0);
  });

  it('maps pflash as a CFI flash in read-array mode ending at 4 GiB; writes are commands', async () => {
    const image = blob(0x20000);
    const { emu, d } = await boot(128 << 20, { pflash: [image], bios: blob(0x10000) });
    const base = 2 ** 32 - image.length;
    expect(d.memread(base, image.length)).toEqual(image);
    expect(d.memread(0xe0000, 0x20000)).toEqual(image);
    d.writeb(base, 0x70); // read status: ready
    expect(d.readb(base + 0x100)).toBe(0x80);
    d.writeb(base, 0xff); // read array
    expect(d.readb(base + 0x100)).toBe(0x00);
    d.writeb(base + 4, 0x40); // program: refused as on a locked block, array unchanged
    d.writeb(base + 4, 0x99);
    expect(d.readb(base + 4)).toBe(0x80 | 0x10 | 0x02);
    d.writeb(base, 0x20); // block erase, confirmed: refused too
    d.writeb(base, 0xd0);
    expect(d.readb(base)).toBe(0x80 | 0x20 | 0x10 | 0x02);
    d.writeb(base, 0x50); // clear status, back to read-array
    expect(d.memread(base, image.length)).toEqual(image);
    d.writeb(base, 0x70);
    emu.reset(); // reset: read-array mode
    expect(d.readl(base)).toBe(0x03020100);
  });

  it('stacks pflash units down from 4 GiB, unit 0 on top', async () => {
    const u0 = blob(0x10000).fill(0xaa);
    const u1 = blob(0x8000).fill(0xbb);
    const { d } = await boot(128 << 20, { pflash: [u0, u1] });
    expect(d.readb(2 ** 32 - 1)).toBe(0xaa);
    expect(d.readb(2 ** 32 - 0x10000 - 1)).toBe(0xbb);
    expect(d.readb(0xfffff)).toBe(0xaa);
  });
});
