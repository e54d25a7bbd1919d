/**
 * The flattened device tree (DTB) format, as the Devicetree Specification (chapter 5) and
 * libfdt define it: the header layout, the structure-block tokens and the alignments.
 *
 * Layout written by `toDtb` (dtc's, for version 17):
 *
 *   0x00  header (40 bytes, ten big-endian u32)
 *   0x28  memory reservation block: {u64 address, u64 size}*, ended by {0, 0}   (8-aligned)
 *         structure block: tokens, each 4-aligned                               (4-aligned)
 *         strings block: NUL-terminated property names, no alignment
 */

export const FDT_MAGIC = 0xd00dfeed;

/** The version written, and the oldest version a reader of it must understand. */
export const FDT_VERSION = 17;
export const FDT_LAST_COMP_VERSION = 16;

/** Version 16 is the oldest this library reads: older blobs store full paths in node names. */
export const FDT_OLDEST_READABLE = 16;

/** Header size for version 17 (v16 lacks the last field, `size_dt_struct`). */
export const FDT_HEADER_SIZE = 40;
export const FDT_V16_HEADER_SIZE = 36;

/** Byte offsets of the header fields. */
export const HEADER = {
  magic: 0,
  totalsize: 4,
  offDtStruct: 8,
  offDtStrings: 12,
  offMemRsvmap: 16,
  version: 20,
  lastCompVersion: 24,
  bootCpuidPhys: 28,
  sizeDtStrings: 32,
  sizeDtStruct: 36,
} as const;

/** Structure-block tokens. */
export const FDT_BEGIN_NODE = 0x1;
export const FDT_END_NODE = 0x2;
export const FDT_PROP = 0x3;
export const FDT_NOP = 0x4;
export const FDT_END = 0x9;

/** One memory reservation entry: two u64. */
export const FDT_RESERVE_ENTRY_SIZE = 16;

/**
 * Node nesting a reader accepts (Linux's unflattening uses the same limit, FDT_MAX_DEPTH): a
 * bound keeps a hostile blob from exhausting the host's stack in recursive consumers.
 */
export const FDT_MAX_DEPTH = 64;

/** Rounds `n` up to a multiple of `to` (a power of two). */
export function align(n: number, to: number): number {
  return (n + to - 1) & ~(to - 1);
}
