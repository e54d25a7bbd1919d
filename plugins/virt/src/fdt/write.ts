/**
 * `toDtb`: a device tree as a flattened blob (version 17), laid out as dtc lays it out, so a
 * blob dtc compiled comes back byte for byte from `toDtb(parseDtb(blob))`.
 *
 * The strings block is dtc's: names in order of first use (depth first, a node's properties
 * before its children), and a name that is the tail of one already stored points into it
 * (`phandle` inside `linux,phandle`) rather than being stored again. No padding after the
 * strings: the machine places the blob, and a consumer that edits it copies it anyway.
 */
import { EmuhostError } from '@emuhost/sdk';
import {
  align,
  FDT_BEGIN_NODE,
  FDT_END,
  FDT_END_NODE,
  FDT_HEADER_SIZE,
  FDT_LAST_COMP_VERSION,
  FDT_MAGIC,
  FDT_PROP,
  FDT_RESERVE_ENTRY_SIZE,
  FDT_VERSION,
  HEADER,
} from './format.js';
import type { Fdt, FdtNode, FdtReservation } from './tree.js';
import { latin1Bytes } from './values.js';

export interface DtbOptions {
  /** `boot_cpuid_phys`; overrides the tree's (default 0 for a bare root node). */
  bootCpuId?: number;
  /** Memory reservations; override the tree's. */
  reservations?: readonly FdtReservation[];
}

const U64_MAX = (1n << 64n) - 1n;

/** The blob for a tree (or a bare root node). Throws E_BAD_ARGUMENT for values it cannot hold. */
export function toDtb(tree: Fdt | FdtNode, opts: DtbOptions = {}): Uint8Array {
  const whole = 'root' in tree ? tree : undefined;
  const root = whole ? whole.root : (tree as FdtNode);
  const bootCpuId = opts.bootCpuId ?? whole?.bootCpuId ?? 0;
  const reservations = opts.reservations ?? whole?.reservations ?? [];
  if (!Number.isInteger(bootCpuId) || bootCpuId < 0 || bootCpuId > 0xffff_ffff) {
    throw new EmuhostError('E_BAD_ARGUMENT', `boot CPU id ${bootCpuId} is not a u32`);
  }

  const strings = new StringsBlock();
  const struct = new ByteSink();
  writeNode(struct, strings, root);
  struct.u32(FDT_END);

  const offMemRsvmap = align(FDT_HEADER_SIZE, 8);
  const offDtStruct = offMemRsvmap + (reservations.length + 1) * FDT_RESERVE_ENTRY_SIZE;
  const offDtStrings = offDtStruct + struct.length;
  const totalsize = offDtStrings + strings.length;

  const out = new Uint8Array(totalsize);
  const view = new DataView(out.buffer);
  view.setUint32(HEADER.magic, FDT_MAGIC);
  view.setUint32(HEADER.totalsize, totalsize);
  view.setUint32(HEADER.offDtStruct, offDtStruct);
  view.setUint32(HEADER.offDtStrings, offDtStrings);
  view.setUint32(HEADER.offMemRsvmap, offMemRsvmap);
  view.setUint32(HEADER.version, FDT_VERSION);
  view.setUint32(HEADER.lastCompVersion, FDT_LAST_COMP_VERSION);
  view.setUint32(HEADER.bootCpuidPhys, bootCpuId);
  view.setUint32(HEADER.sizeDtStrings, strings.length);
  view.setUint32(HEADER.sizeDtStruct, struct.length);
  reservations.forEach((r, i) => {
    checkReservation(r);
    view.setBigUint64(offMemRsvmap + i * FDT_RESERVE_ENTRY_SIZE, r.address);
    view.setBigUint64(offMemRsvmap + i * FDT_RESERVE_ENTRY_SIZE + 8, r.size);
  });
  // The terminating {0, 0} entry is already zero.
  out.set(struct.bytes(), offDtStruct);
  out.set(strings.bytes(), offDtStrings);
  return out;
}

function writeNode(out: ByteSink, strings: StringsBlock, n: FdtNode): void {
  out.u32(FDT_BEGIN_NODE);
  out.raw(latin1Bytes(n.name, true));
  out.pad4();
  for (const p of n.props) {
    out.u32(FDT_PROP);
    out.u32(p.value.length);
    out.u32(strings.offsetOf(p.name));
    out.raw(p.value);
    out.pad4();
  }
  for (const c of n.children) writeNode(out, strings, c);
  out.u32(FDT_END_NODE);
}

function checkReservation(r: FdtReservation): void {
  const ok = (v: bigint) => typeof v === 'bigint' && v >= 0n && v <= U64_MAX;
  if (!ok(r.address) || !ok(r.size) || (r.address === 0n && r.size === 0n)) {
    // {0, 0} would end the block early: a reader would drop it and every entry after it.
    throw new EmuhostError(
      'E_BAD_ARGUMENT',
      `memory reservation {${r.address}, ${r.size}} is not a pair of u64 other than {0, 0}`,
    );
  }
}

/** The strings block, deduplicated as dtc does: any stored tail of a name is reused. */
class StringsBlock {
  private readonly at = new Map<string, number>();
  private readonly sink = new ByteSink();

  get length(): number {
    return this.sink.length;
  }

  offsetOf(name: string): number {
    const known = this.at.get(name);
    if (known !== undefined) return known;
    const start = this.sink.length;
    this.sink.raw(latin1Bytes(name, true));
    // Every tail of the new name is now in the table too; the first (lowest) offset wins.
    for (let i = 0; i < name.length; i++) {
      const tail = name.slice(i);
      if (!this.at.has(tail)) this.at.set(tail, start + i);
    }
    return start;
  }

  bytes(): Uint8Array {
    return this.sink.bytes();
  }
}

/** A growable big-endian byte buffer. */
class ByteSink {
  private buf = new Uint8Array(1024);
  private view = new DataView(this.buf.buffer);
  length = 0;

  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, v);
    this.length += 4;
  }

  raw(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  /** Zero bytes up to the next multiple of 4. */
  pad4(): void {
    const to = align(this.length, 4);
    this.reserve(to - this.length);
    this.buf.fill(0, this.length, to);
    this.length = to;
  }

  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
}
