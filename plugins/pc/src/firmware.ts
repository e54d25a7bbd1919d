/**
 * Firmware on the PC's PCI side, as QEMU's pc maps it (hw/i386/pc_sysfw.c, x86.c):
 *
 * - `-bios FILE`: ROM `pc.bios` ending at 4 GiB, and `isa-bios`, an alias of its last
 *   min(size, 128 KiB), ending at 1 MiB (the ISA BIOS window 0xE0000..0xFFFFF) at priority 1.
 * - `-drive if=pflash`: flash devices stacked down from 4 GiB (unit 0 on top), with
 *   `isa-bios` a ROM copy of unit 0's last 128 KiB at 1 MiB. A BIOS given too is ignored.
 *
 * Both go into the PCI address space, not system memory: the CPU sees them where no RAM
 * hides it (above the PCI hole's start) and, below 1 MiB, where the PAM segments send
 * accesses to the PCI side. PAM's RAM aliases over them make shadowing work with no special
 * case: RE reads the RAM copy, WE writes it, and a read with RE clear reads the ROM.
 */
import type { ContainerHandle, MachineContext, MmioOps, RegionHandle } from '@emuhost/sdk';

const FOUR_GIB = 2 ** 32;
const ONE_MIB = 0x100000;
const ISA_BIOS_MAX = 128 * 1024;
const BIOS_ALIGN = 64 * 1024;
const FLASH_SECTOR = 4096;

export interface Firmware {
  /** Machine reset: flash back in read-array mode. */
  reset(): void;
}

export function mapFirmware(ctx: MachineContext, pciSpace: ContainerHandle): Firmware {
  const fw = ctx.firmware;
  const pflash = fw?.pflash ?? [];
  if (pflash.length > 0) {
    if (fw?.bios !== undefined) ctx.log.warn('-bios is ignored with a pflash drive, as in QEMU');
    let top = FOUR_GIB;
    const flashes = pflash.map((image, i) => {
      if (image.length === 0 || image.length % FLASH_SECTOR !== 0)
        throw new Error(
          `pflash${i}: size ${image.length} is not a positive multiple of ${FLASH_SECTOR} bytes`,
        );
      top -= image.length;
      const f = createPflash(ctx, `system.flash${i}`, image);
      ctx.place(pciSpace, f.region, top);
      return f;
    });
    const unit0 = pflash[0]!;
    const isaSize = Math.min(unit0.length, ISA_BIOS_MAX);
    const isa = ctx.rom('isa-bios', unit0.subarray(unit0.length - isaSize));
    ctx.place(pciSpace, isa, ONE_MIB - isaSize, 1);
    return {
      reset() {
        for (const f of flashes) f.reset();
      },
    };
  }
  const bios = fw?.bios;
  if (bios !== undefined) {
    if (bios.length === 0 || bios.length % BIOS_ALIGN !== 0)
      throw new Error(
        `could not load PC BIOS: size ${bios.length} is not a positive multiple of 64 KiB`,
      );
    const rom = ctx.rom('pc.bios', bios);
    ctx.place(pciSpace, rom, FOUR_GIB - bios.length);
    const isaSize = Math.min(bios.length, ISA_BIOS_MAX);
    const isa = ctx.alias('isa-bios', rom, bios.length - isaSize, isaSize);
    ctx.place(pciSpace, isa, ONE_MIB - isaSize, 1);
  }
  return { reset() {} };
}

/** Intel/Sharp status register bits. */
const SR_READY = 0x80;
const SR_ERASE_ERROR = 0x20;
const SR_PROGRAM_ERROR = 0x10;
const SR_LOCKED = 0x02;

export interface Pflash {
  /** The device: ROM contents under a command register that decodes writes. */
  readonly region: RegionHandle;
  /** Back to read-array mode, status clear. */
  reset(): void;
}

/**
 * A minimal CFI flash of the Intel/Sharp command set (QEMU's pflash_cfi01, 8 bits wide), write
 * protected. The array is a kernel ROM region; over it, a command region decodes writes only
 * while in read-array mode (QEMU's "romd" mode: reads go straight to the array), and reads
 * too in the modes where they answer with the status register.
 *
 * Commands: 0xff/0xf0 read array; 0x70 read status; 0x50 clear status; 0x10/0x40 program and
 * 0x20 + 0xd0 block erase are accepted and refused as on a locked block (status SR.7 | SR.4 or
 * SR.5 | SR.1), so writes never change the array. Not implemented: read identifier (0x90),
 * CFI query (0x98), buffered program (0xe8), block lock commands and suspend; like QEMU's
 * unknown commands they return to read-array mode.
 */
export function createPflash(ctx: MachineContext, name: string, image: Uint8Array): Pflash {
  const container = ctx.container(name, image.length);
  const array = ctx.rom(`${name}.array`, image);
  let mode: 'array' | 'status' | 'program' | 'erase' = 'array';
  let status = SR_READY;
  const setMode = (m: typeof mode) => {
    mode = m;
    ctx.setDecodes(cmd, m === 'array' ? 'write' : 'read-write');
  };
  const ops: MmioOps = {
    read: () => status,
    write: (_offset, _size, value) => {
      const v = typeof value === 'bigint' ? Number(value & 0xffn) : value & 0xff;
      switch (mode) {
        case 'program':
          status |= SR_PROGRAM_ERROR | SR_LOCKED;
          setMode('status');
          return;
        case 'erase':
          status |= v === 0xd0 ? SR_ERASE_ERROR | SR_LOCKED : SR_ERASE_ERROR | SR_PROGRAM_ERROR;
          setMode('status');
          return;
      }
      switch (v) {
        case 0x70:
          setMode('status');
          return;
        case 0x50:
          status = SR_READY;
          setMode('array');
          return;
        case 0x10:
        case 0x40:
          setMode('program');
          return;
        case 0x20:
          setMode('erase');
          return;
        default: // 0xff, 0xf0 and what is not implemented
          setMode('array');
      }
    },
  };
  const cmd = ctx.mmio(`${name}.cmd`, image.length, ops, {
    valid: { min: 1, max: 8, unaligned: true },
    impl: { min: 1, max: 4 },
  });
  ctx.place(container, array, 0);
  ctx.place(container, cmd, 0, 1);
  ctx.setDecodes(cmd, 'write');
  return {
    region: container,
    reset() {
      status = SR_READY;
      setMode('array');
    },
  };
}
