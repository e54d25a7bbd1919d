/**
 * A `-kernel` that is a RISC-V ELF file (a bare-metal program, a `vmlinux`): its loadable
 * segments go where their physical addresses say, and the machine starts it at the lowest of
 * them, as QEMU's `riscv_load_kernel` does (it uses the image's low address, not the ELF
 * entry, so that fw_dynamic jumps to the same place for every kind of image).
 */
import { EmuhostError } from '@emuhost/sdk';

export interface ElfKernel {
  /** Lowest and one past the highest physical address loaded. */
  readonly low: number;
  readonly high: number;
  /** What to copy where (bss as zero bytes, so that a reset clears it again). */
  readonly pieces: readonly (readonly [addr: number, bytes: Uint8Array])[];
}

const PT_LOAD = 1;
const EM_RISCV = 243;

/** The ELF's pieces, or undefined when `image` is not an ELF file. */
export function elfKernel(image: Uint8Array): ElfKernel | undefined {
  if (
    image.length < 64 ||
    image[0] !== 0x7f ||
    image[1] !== 0x45 ||
    image[2] !== 0x4c ||
    image[3] !== 0x46
  )
    return undefined;
  const bad = (what: string): never => {
    throw new EmuhostError('E_BAD_ARGUMENT', `the -kernel ELF file ${what}`);
  };
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (image[4] !== 2 || image[5] !== 1) bad('is not 64-bit little-endian');
  if (v.getUint16(18, true) !== EM_RISCV)
    bad(`is for machine ${v.getUint16(18, true)}, not RISC-V`);
  const phoff = Number(v.getBigUint64(32, true));
  const phentsize = v.getUint16(54, true);
  const phnum = v.getUint16(56, true);
  if (phoff + phnum * phentsize > image.length) bad('is truncated (program headers)');
  const pieces: [number, Uint8Array][] = [];
  let low = Number.POSITIVE_INFINITY;
  let high = 0;
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    if (v.getUint32(p, true) !== PT_LOAD) continue;
    const offset = Number(v.getBigUint64(p + 8, true));
    const paddr = Number(v.getBigUint64(p + 24, true));
    const filesz = Number(v.getBigUint64(p + 32, true));
    const memsz = Number(v.getBigUint64(p + 40, true));
    if (memsz === 0) continue;
    if (offset + filesz > image.length || filesz > memsz) bad(`has a segment past its end (${i})`);
    if (!Number.isSafeInteger(paddr + memsz)) bad(`loads at an address past 2^53 (${i})`);
    pieces.push([paddr, image.subarray(offset, offset + filesz)]);
    if (memsz > filesz) pieces.push([paddr + filesz, new Uint8Array(memsz - filesz)]);
    low = Math.min(low, paddr);
    high = Math.max(high, paddr + memsz);
  }
  if (pieces.length === 0) bad('has nothing to load');
  return { low, high, pieces };
}
