/**
 * Where the virt machine puts its boot images and what its reset vector does, as QEMU 10's
 * boot code does (hw/riscv/boot.c).
 */
import { describe, expect, it } from 'vitest';
import { fdtAddress, layout, resetRom } from './boot.js';
import { checkKernelImage } from './kernel-image.js';

const MiB = 1 << 20;

describe('virt boot layout', () => {
  it('puts the kernel at the first 2 MiB boundary after the firmware, the initrd half way, the DTB at the top', () => {
    const l = layout(
      512 * MiB,
      new Uint8Array(273_472),
      new Uint8Array(36 * MiB),
      new Uint8Array(MiB),
    );
    expect(l.start).toBe(0x80000000);
    expect(l.kernel).toEqual({ addr: 0x80200000, size: 36 * MiB });
    expect(l.initrd?.start).toBe(0x80200000 + 256 * MiB);
    expect(fdtAddress(512 * MiB, 5000)).toBe(0x9fe00000);
  });

  it('caps the initrd offset at 512 MiB, and starts at the kernel without firmware', () => {
    const l = layout(4096 * MiB, undefined, new Uint8Array(10), new Uint8Array(10));
    expect(l.start).toBe(0x80000000);
    expect(l.kernel?.addr).toBe(0x80000000);
    expect(l.initrd?.start).toBe(0x80000000 + 512 * MiB);
  });

  it("writes QEMU's RV64 reset vector and fw_dynamic info", () => {
    const rom = resetRom(0x80000000, 0x9fe00000, 0x80200000);
    const v = new DataView(rom.buffer);
    expect(v.getUint32(0, true)).toBe(0x00000297); // auipc t0, 0
    expect(v.getUint32(4, true)).toBe(0x02828613); // addi a2, t0, 40: the fw_dynamic info
    expect(v.getUint32(8, true)).toBe(0xf1402573); // csrr a0, mhartid
    expect(v.getBigUint64(24, true)).toBe(0x80000000n);
    expect(v.getBigUint64(32, true)).toBe(0x9fe00000n);
    expect(v.getBigUint64(40, true)).toBe(0x4942534fn); // "OSBI"
    expect(v.getBigUint64(56, true)).toBe(0x80200000n); // next_addr
    expect(v.getBigUint64(64, true)).toBe(1n); // next_mode: S
  });
});

describe('-kernel images', () => {
  const image = (at: number, magic: number, size = 0x100) => {
    const b = new Uint8Array(size);
    new DataView(b.buffer).setUint32(at, magic, true);
    return b;
  };
  it('accepts a RISC-V Linux Image and a headerless raw binary', () => {
    expect(() => checkKernelImage(image(0x38, 0x05435352))).not.toThrow();
    expect(() => checkKernelImage(new Uint8Array([0x13, 0, 0, 0]))).not.toThrow();
  });
  it('refuses other architectures, saying what the file is', () => {
    expect(() => checkKernelImage(image(0x38, 0x644d5241))).toThrow(/arm64 Linux Image/);
    expect(() => checkKernelImage(image(0x202, 0x53726448, 0x400))).toThrow(/x86 bzImage/);
    const elf = image(0, 0x464c457f);
    new DataView(elf.buffer).setUint16(18, 62, true);
    expect(() => checkKernelImage(elf)).toThrow(/ELF file for machine 62/);
  });
});

describe('ELF kernels', () => {
  it('loads a RISC-V ELF where its segments say and starts there, as QEMU does', async () => {
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { elfKernel } = await import('./elf-kernel.js');
    const file = join(import.meta.dirname, '../../../bench/guest/int.elf');
    const elf = elfKernel(new Uint8Array(readFileSync(file)))!;
    expect(elf.low).toBe(0x80000000);
    expect(elf.high).toBeGreaterThan(elf.low);
    expect(layout(128 * MiB, undefined, new Uint8Array(1), undefined, elf).start).toBe(0x80000000);
    expect(elfKernel(new Uint8Array(100))).toBeUndefined();
  });
});
