/**
 * Reading a flattened device tree blob: the machine's own, or a user's `-dtb FILE`, which is
 * untrusted input. Every way a blob can be wrong is a `DtbError` with a stable `kind` and the
 * byte offset where it was found; nothing else escapes (no RangeError from a stray offset).
 *
 * `readDtb` returns the result; `parseDtb` throws it as an `EmuhostError` with code `E_DTB`.
 * Versions 16 and 17 are read (16 has no `size_dt_struct`: its structure block runs to its
 * FDT_END token). NOP tokens are dropped, since the tree has no place for them.
 */
import { EmuhostError } from '@emuhost/sdk';
import {
  align,
  FDT_BEGIN_NODE,
  FDT_END,
  FDT_END_NODE,
  FDT_HEADER_SIZE,
  FDT_MAGIC,
  FDT_MAX_DEPTH,
  FDT_NOP,
  FDT_OLDEST_READABLE,
  FDT_PROP,
  FDT_RESERVE_ENTRY_SIZE,
  FDT_V16_HEADER_SIZE,
  FDT_VERSION,
  HEADER,
} from './format.js';
import type { Fdt, FdtNode, FdtReservation } from './tree.js';
import { latin1String } from './values.js';

/** Why a blob was refused. Kinds never change meaning. */
export type DtbErrorKind =
  /** The first word is not 0xd00dfeed. */
  | 'bad-magic'
  /** The blob is shorter than its header says, or a block or token runs past its end. */
  | 'truncated'
  /** Version below 16, or a last compatible version above 17. */
  | 'bad-version'
  /** The header's offsets and sizes do not describe blocks inside the blob. */
  | 'bad-layout'
  /** A structure-block token that is none of BEGIN_NODE, END_NODE, PROP, NOP, END. */
  | 'bad-token'
  /** Tokens in an impossible order: a property outside a node or after a child, unbalanced nodes. */
  | 'bad-structure'
  /** A property name offset outside the strings block, or a name without its NUL. */
  | 'bad-string'
  /** Nodes nested deeper than FDT_MAX_DEPTH. */
  | 'too-deep';

export interface DtbError {
  readonly kind: DtbErrorKind;
  /** Byte offset in the blob where the problem was found. */
  readonly offset: number;
  readonly message: string;
}

export type DtbResult =
  | { readonly ok: true; readonly fdt: Fdt; readonly version: number }
  | { readonly ok: false; readonly error: DtbError };

/** Reads a blob; never throws. */
export function readDtb(blob: Uint8Array): DtbResult {
  try {
    return new Reader(blob).read();
  } catch (e) {
    if (e instanceof Refusal) return { ok: false, error: e.error };
    throw e;
  }
}

/** Reads a blob; throws EmuhostError `E_DTB` ("<kind>: <why>", at the offset) if it is bad. */
export function parseDtb(blob: Uint8Array): Fdt {
  const r = readDtb(blob);
  if (r.ok) return r.fdt;
  throw new EmuhostError('E_DTB', `${r.error.kind}: ${r.error.message}`, { addr: r.error.offset });
}

/** Carries a DtbError out of the reader's nested calls; never leaves this module. */
class Refusal {
  constructor(readonly error: DtbError) {}
}

function refuse(kind: DtbErrorKind, offset: number, message: string): never {
  throw new Refusal({ kind, offset, message });
}

const hex = (n: number) => `0x${n.toString(16)}`;

class Reader {
  private readonly view: DataView;

  constructor(private readonly blob: Uint8Array) {
    this.view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  }

  read(): DtbResult {
    const b = this.blob;
    if (b.length < 4) refuse('truncated', 0, `${b.length} bytes is not even a magic number`);
    const magic = this.view.getUint32(HEADER.magic);
    if (magic !== FDT_MAGIC) {
      refuse(
        'bad-magic',
        0,
        `magic ${hex(magic)} is not ${hex(FDT_MAGIC)}: not a device tree blob`,
      );
    }
    if (b.length < FDT_V16_HEADER_SIZE) {
      refuse('truncated', b.length, `${b.length} bytes is shorter than a header`);
    }
    const version = this.view.getUint32(HEADER.version);
    const lastComp = this.view.getUint32(HEADER.lastCompVersion);
    if (version < FDT_OLDEST_READABLE) {
      refuse('bad-version', HEADER.version, `version ${version} is older than 16`);
    }
    if (lastComp > FDT_VERSION) {
      refuse('bad-version', HEADER.lastCompVersion, `readers must understand version ${lastComp}`);
    }
    const headerSize = version >= 17 ? FDT_HEADER_SIZE : FDT_V16_HEADER_SIZE;
    if (b.length < headerSize) refuse('truncated', b.length, `shorter than a v${version} header`);
    const totalsize = this.view.getUint32(HEADER.totalsize);
    if (totalsize > b.length) {
      refuse('truncated', b.length, `header says ${totalsize} bytes, the blob has ${b.length}`);
    }
    if (totalsize < headerSize) refuse('bad-layout', HEADER.totalsize, `totalsize ${totalsize}`);

    const offRsv = this.view.getUint32(HEADER.offMemRsvmap);
    const offStruct = this.view.getUint32(HEADER.offDtStruct);
    const offStrings = this.view.getUint32(HEADER.offDtStrings);
    const sizeStrings = this.view.getUint32(HEADER.sizeDtStrings);
    const structEnd =
      version >= 17 ? offStruct + this.view.getUint32(HEADER.sizeDtStruct) : totalsize;
    const blockIn = (off: number, end: number) =>
      off >= headerSize && off <= end && end <= totalsize;
    if (!blockIn(offRsv, offRsv))
      refuse('bad-layout', HEADER.offMemRsvmap, `reservations at ${hex(offRsv)}`);
    if (!blockIn(offStruct, structEnd)) {
      refuse(
        'bad-layout',
        HEADER.offDtStruct,
        `structure block ${hex(offStruct)}..${hex(structEnd)}`,
      );
    }
    if (!blockIn(offStrings, offStrings + sizeStrings)) {
      refuse(
        'bad-layout',
        HEADER.offDtStrings,
        `strings block ${hex(offStrings)}+${hex(sizeStrings)}`,
      );
    }

    const reservations = this.reservations(offRsv, totalsize);
    const root = this.structure(offStruct, structEnd, offStrings, offStrings + sizeStrings);
    const bootCpuId = this.view.getUint32(HEADER.bootCpuidPhys);
    return { ok: true, version, fdt: { root, reservations, bootCpuId } };
  }

  private reservations(start: number, end: number): FdtReservation[] {
    const out: FdtReservation[] = [];
    for (let at = start; ; at += FDT_RESERVE_ENTRY_SIZE) {
      if (at + FDT_RESERVE_ENTRY_SIZE > end) {
        refuse('truncated', at, 'the memory reservation block has no {0, 0} terminator');
      }
      const address = this.view.getBigUint64(at);
      const size = this.view.getBigUint64(at + 8);
      if (address === 0n && size === 0n) return out;
      out.push({ address, size });
    }
  }

  private structure(start: number, end: number, strStart: number, strEnd: number): FdtNode {
    const stack: FdtNode[] = [];
    let root: FdtNode | undefined;
    let at = start;
    const word = (): number => {
      if (at + 4 > end) refuse('truncated', at, 'the structure block ends without FDT_END');
      const w = this.view.getUint32(at);
      at += 4;
      return w;
    };
    for (;;) {
      const tokenAt = at;
      const token = word();
      switch (token) {
        case FDT_BEGIN_NODE: {
          const nameEnd = this.blob.indexOf(0, at);
          if (nameEnd < 0 || nameEnd >= end)
            refuse('truncated', at, 'a node name runs past the block');
          const n: FdtNode = {
            name: latin1String(this.blob, at, nameEnd),
            props: [],
            children: [],
          };
          at = align(nameEnd + 1, 4);
          const parent = stack[stack.length - 1];
          if (parent) parent.children.push(n);
          else if (root) refuse('bad-structure', tokenAt, 'a second root node');
          else root = n;
          if (stack.length >= FDT_MAX_DEPTH)
            refuse('too-deep', tokenAt, `nodes nest deeper than ${FDT_MAX_DEPTH}`);
          stack.push(n);
          break;
        }
        case FDT_PROP: {
          const len = word();
          const nameOff = word();
          const owner = stack[stack.length - 1];
          if (!owner) refuse('bad-structure', tokenAt, 'a property outside any node');
          if (owner.children.length > 0) {
            refuse('bad-structure', tokenAt, `a property of "${owner.name}" after its child nodes`);
          }
          if (len > end - at)
            refuse('truncated', at, `a ${len}-byte property value runs past the block`);
          // A copy, and a plain Uint8Array even from a Node Buffer (whose slice is a view).
          const value = new Uint8Array(this.blob.subarray(at, at + len));
          at = align(at + len, 4);
          owner.props.push({ name: this.string(strStart + nameOff, strEnd, tokenAt), value });
          break;
        }
        case FDT_NOP:
          break;
        case FDT_END_NODE:
          if (!stack.pop()) refuse('bad-structure', tokenAt, 'FDT_END_NODE without an open node');
          break;
        case FDT_END:
          if (!root) refuse('bad-structure', tokenAt, 'FDT_END before any node');
          if (stack.length > 0)
            refuse('bad-structure', tokenAt, `FDT_END inside "${stack.at(-1)!.name}"`);
          return root;
        default:
          refuse('bad-token', tokenAt, `token ${hex(token)} is not a structure-block token`);
      }
    }
  }

  private string(at: number, end: number, tokenAt: number): string {
    if (at >= end)
      refuse('bad-string', tokenAt, `name offset ${hex(at)} is outside the strings block`);
    const nul = this.blob.indexOf(0, at);
    if (nul < 0 || nul >= end) refuse('bad-string', at, 'a property name without its NUL');
    return latin1String(this.blob, at, nul);
  }
}
