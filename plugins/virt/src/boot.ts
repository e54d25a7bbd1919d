/**
 * Booting as QEMU's virt does (hw/riscv/boot.c): firmware (`-bios`, OpenSBI's fw_dynamic) at
 * the start of RAM, the kernel (`-kernel`, a raw image: Debian's `Image`) at the first 2 MiB
 * boundary after the firmware, the initrd half way into RAM (at most 512 MiB after the kernel),
 * the device tree at the end of RAM aligned down to 2 MiB, and a reset vector in the mask ROM
 * at 0x1000 that starts the firmware with a0 = hartid, a1 = the device tree, a2 = the
 * fw_dynamic info telling OpenSBI where the kernel is and that it runs in S-mode.
 */
import { MEMMAP } from './memory-map.js';

const MiB = 1024 * 1024;

export interface BootLayout {
  /** Where the hart starts after the ROM: the firmware, or the kernel without one. */
  readonly start: number;
  readonly kernel?: { readonly addr: number; readonly size: number };
  readonly initrd?: { readonly start: number; readonly end: number };
}

const alignUp = (v: number, a: number) => Math.ceil(v / a) * a;
const alignDown = (v: number, a: number) => Math.floor(v / a) * a;

/** Where the firmware, kernel and initrd go, for RAM of `ramSize` bytes at DRAM base. */
export function layout(
  ramSize: number,
  bios: Uint8Array | undefined,
  kernel: Uint8Array | undefined,
  initrd: Uint8Array | undefined,
  elf?: { readonly low: number; readonly high: number },
): BootLayout {
  const dram = MEMMAP.dram.base;
  const firmwareEnd = dram + (bios?.length ?? 0);
  // riscv_calc_kernel_start_addr: 64-bit harts align the kernel to 2 MiB after the firmware.
  // An ELF kernel goes where its segments say; it starts at its lowest address.
  const kernelAddr = elf?.low ?? alignUp(firmwareEnd, 2 * MiB);
  const start = bios !== undefined ? dram : kernelAddr;
  if (kernel === undefined) return { start };
  const k = { addr: kernelAddr, size: elf !== undefined ? elf.high - elf.low : kernel.length };
  if (initrd === undefined) return { start, kernel: k };
  const at = kernelAddr + Math.min(Math.floor(ramSize / 2), 512 * MiB);
  return { start, kernel: k, initrd: { start: at, end: at + initrd.length } };
}

/** The device tree's address: its size below the end of RAM, aligned down to 2 MiB. */
export function fdtAddress(ramSize: number, fdtSize: number): number {
  return alignDown(MEMMAP.dram.base + ramSize - fdtSize, 2 * MiB);
}

const FW_DYNAMIC_MAGIC = 0x4942534f; // "OSBI"
const FW_DYNAMIC_VERSION = 2;
const NEXT_MODE_S = 1;

/**
 * The mask ROM's contents: QEMU's reset vector (`riscv_setup_rom_reset_vec`, RV64) followed
 * by the fw_dynamic info. `start` is where the hart jumps, `fdt` goes to a1, `next` is the
 * kernel entry OpenSBI jumps to in S-mode.
 */
export function resetRom(start: number, fdt: number, next: number): Uint8Array {
  const rom = new Uint8Array(10 * 4 + 6 * 8);
  const v = new DataView(rom.buffer);
  const words = [
    0x00000297, // 1: auipc t0, %pcrel_hi(fw_dyn)
    0x02828613, //    addi  a2, t0, %pcrel_lo(1b)
    0xf1402573, //    csrr  a0, mhartid
    0x0202b583, //    ld    a1, 32(t0)
    0x0182b283, //    ld    t0, 24(t0)
    0x00028067, //    jr    t0
  ];
  for (const [i, w] of words.entries()) v.setUint32(i * 4, w, true);
  v.setBigUint64(24, BigInt(start), true);
  v.setBigUint64(32, BigInt(fdt), true);
  // fw_dyn: struct fw_dynamic_info { magic, version, next_addr, next_mode, options, boot_hart }
  const info = [FW_DYNAMIC_MAGIC, FW_DYNAMIC_VERSION, next, NEXT_MODE_S, 0, 0];
  for (const [i, x] of info.entries()) v.setBigUint64(40 + i * 8, BigInt(x), true);
  return rom;
}
