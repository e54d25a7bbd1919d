/**
 * What a `-kernel` image is, before it is placed: the virt machine boots a raw RISC-V kernel
 * image (Linux's `Image`, which Debian ships, EFI stub and all, as `vmlinuz`) at the first
 * 2 MiB boundary after the firmware, as QEMU does, or a RISC-V ELF file (`elf-kernel.ts`). An
 * image of another architecture is
 * refused with a message saying what it is, rather than run into an illegal instruction.
 */
import { EmuhostError } from '@emuhost/sdk';

/** Linux's RISC-V boot image header: magic2 "RSC\x05" at 0x38 (Documentation/riscv/boot-image-header.rst). */
const RISCV_MAGIC2 = 0x05435352;
const ARM64_MAGIC = 0x644d5241; // "ARM\x64" at 0x38

export function checkKernelImage(image: Uint8Array): void {
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const u32 = (o: number) => (image.length >= o + 4 ? v.getUint32(o, true) : -1);
  if (u32(0x38) === RISCV_MAGIC2) return;
  let what: string | undefined;
  if (u32(0) === 0x464c457f) {
    const machine = image.length >= 20 ? v.getUint16(18, true) : -1;
    if (machine === 243) return;
    what = `an ELF file for machine ${machine}, not RISC-V`;
  } else if (u32(0x38) === ARM64_MAGIC) what = 'an arm64 Linux Image';
  else if (image.length > 0x206 && v.getUint32(0x202, true) === 0x53726448) what = 'an x86 bzImage';
  else if (image.length >= 4 && v.getUint16(0, true) === 0x5a4d)
    what = 'a PE/COFF image without the RISC-V Linux header';
  if (what !== undefined) throw new EmuhostError('E_BAD_ARGUMENT', `the -kernel image is ${what}`);
  // No header: a bare-metal raw binary, which QEMU loads as is.
}
