/**
 * The RISC-V Linux `Image` header (Documentation/arch/riscv/boot-image-header.rst): what
 * tells a loader this is a kernel it can place at RAM base + text_offset and jump to.
 *
 * Debian ships it as `vmlinuz` (7.x) or `vmlinux-*` (6.x), but both are this uncompressed
 * Image with an EFI stub ("MZ" at 0). A compressed file, or anything else, has no "RSC\x05"
 * at 0x38, and the check says so rather than letting the CPU jump into it.
 */

export interface RiscvImageHeader {
  /** Where the Image expects to sit above the start of RAM, in bytes (0x200000 on rv64). */
  textOffset: bigint;
  /** The size the Image occupies once running (with bss), in bytes. */
  imageSize: bigint;
  flags: bigint;
  /** Header version as "major.minor". */
  version: string;
  /** Offset of the PE header (the EFI stub), 0 if none. */
  peOffset: number;
}

export type ImageCheck =
  | { readonly ok: true; readonly header: RiscvImageHeader }
  | { readonly ok: false; readonly why: string };

const MAGIC2 = 0x05435352; // "RSC\x05" little-endian
const MAGIC2_AT = 0x38;
const HEADER_SIZE = 0x40;

/** Reads the header from the first 64 bytes of a file. */
export function checkRiscvImage(head: Uint8Array): ImageCheck {
  if (head.length < HEADER_SIZE) {
    return {
      ok: false,
      why: `${head.length} bytes is shorter than the 64-byte RISC-V Image header`,
    };
  }
  const v = new DataView(head.buffer, head.byteOffset, HEADER_SIZE);
  const magic2 = v.getUint32(MAGIC2_AT, true);
  if (magic2 !== MAGIC2) {
    const found = Array.from(head.subarray(MAGIC2_AT, MAGIC2_AT + 4), (b) =>
      b.toString(16).padStart(2, '0'),
    ).join(' ');
    const gzip = head[0] === 0x1f && head[1] === 0x8b ? ' (the file is gzip-compressed)' : '';
    return {
      ok: false,
      why: `not a RISC-V Image: bytes at 0x38 are ${found}, not "RSC\\x05" (52 53 43 05)${gzip}`,
    };
  }
  const version = v.getUint32(0x20, true);
  return {
    ok: true,
    header: {
      textOffset: v.getBigUint64(0x08, true),
      imageSize: v.getBigUint64(0x10, true),
      flags: v.getBigUint64(0x18, true),
      version: `${version >>> 16}.${version & 0xffff}`,
      peOffset: v.getUint32(0x3c, true),
    },
  };
}
