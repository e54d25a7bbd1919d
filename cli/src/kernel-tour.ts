/**
 * What `npm start` runs until machine plugins exist: a tour of the kernel on a pc-shaped
 * memory map, printed as it goes. It builds the map from kernel regions directly (RAM, a
 * BIOS ROM with its low alias, a PCI hole, a small MMIO device with QEMU access rules, port
 * I/O), makes accesses a guest or test client would, and shows every result.
 */
import {
  type AddressSpace,
  createKernelHooks,
  createMemorySystem,
  DeviceGuard,
  formatMtree,
} from '@emuhost/core';
import { type GuestPhysAddr, gpa, hex, type IoPortAddr, ioPort } from '@emuhost/sdk';

export function kernelTour(log: (line: string) => void = console.log): void {
  const hooks = createKernelHooks();
  const ms = createMemorySystem({ hooks });
  hooks.guard.reentrancyBlocked.tap('emuhost:tour', (e) =>
    log(
      `  event: re-entrancy blocked on ${e.device} (${e.via} at ${e.at?.region}+${hex(e.at?.offset ?? 0)})`,
    ),
  );

  const system = ms.createContainer('system', 2 ** 32);
  const mem: AddressSpace<GuestPhysAddr> = ms.createAddressSpace('memory', system);
  const io: AddressSpace<IoPortAddr> = ms.createAddressSpace(
    'io',
    ms.createContainer('io', 0x10000),
  );

  const ram = ms.createRam('pc.ram', 128 << 20);
  const bios = ms.createRom(
    'pc.bios',
    Uint8Array.from({ length: 0x20000 }, (_, i) => i & 0xff),
  );
  const pciHole = ms.createContainer('pci', 2 ** 32 - 0xe0000000);
  const guard = new DeviceGuard('demo-dev', hooks);
  const regs = new Uint32Array(4);
  const dev = ms.createMmio(
    'demo-dev.mmio',
    0x1000,
    {
      read: (off) => {
        if (off !== 0xc) return regs[off >> 2] ?? 0;
        // A device reading its own registers through memory: the guard refuses it.
        const self = mem.load(gpa(0xe0000000), 4);
        return typeof self === 'number' ? self : 0xffffffff;
      },
      write: (off, _size, v) => {
        regs[off >> 2] = Number(v);
        return undefined;
      },
    },
    { valid: { min: 4, max: 4 }, impl: { min: 4, max: 4 } },
    { guard },
  );
  ms.transaction(() => {
    system.addSubregion(ram, 0);
    system.addSubregion(ms.createAlias('pc.bios.low', bios, 0, 0x20000), 0xe0000, { priority: 1 });
    system.addSubregion(bios, 2 ** 32 - 0x20000);
    system.addSubregion(pciHole, 0xe0000000, { priority: -1 });
    pciHole.addSubregion(dev, 0);
  });

  log('emuhost kernel tour: guest memory and address spaces only.');
  log(
    '(Machines, devices, DMA and the qtest server arrive with later issues; nothing here is simulated beyond what is shown.)\n',
  );
  log(formatMtree(mem));
  log('');
  log(formatMtree(mem, { flat: true }));
  log('');

  const show = (what: string, r: unknown) =>
    log(`  ${what.padEnd(44)} -> ${typeof r === 'number' || typeof r === 'bigint' ? hex(r) : r}`);
  log('Accesses (each returns a value or a result; none throws):');
  show('store32 0x1000 = 0xdeadbeef (RAM)', mem.store(gpa(0x1000), 4, 0xdeadbeef));
  show('load32  0x1000', mem.load(gpa(0x1000), 4));
  show('load64  0x1000 big-endian', mem.load64(gpa(0x1000), 'big'));
  show('load32  0xffff0000 (BIOS ROM)', mem.load(gpa(0xffff0000), 4));
  show('store32 0xffff0000 (ROM: ignored)', mem.store(gpa(0xffff0000), 4, 0));
  show('load32  0xf0000 (BIOS alias below 1 MiB)', mem.load(gpa(0xf0000), 4));
  show('store32 0xe0000004 = 0x1234 (MMIO)', mem.store(gpa(0xe0000004), 4, 0x1234));
  show('load32  0xe0000004 (MMIO)', mem.load(gpa(0xe0000004), 4));
  show('load8   0xe0000004 (valid.min = 4)', mem.load(gpa(0xe0000004), 1));
  show('load32  0xe000000c (device reads itself)', mem.load(gpa(0xe000000c), 4));
  show('load32  0xd0000000 (unassigned)', mem.load(gpa(0xd0000000), 4));
  show('load32  2^53 (past exact addresses)', mem.load(gpa(2 ** 53), 4));
  show('inb     0x80 (no port device)', io.load(ioPort(0x80), 1));
}
