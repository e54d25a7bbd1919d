/**
 * The translation structures in guest memory (VT-d spec chapter 3 and section 9): the
 * legacy-mode root table (one 16-byte entry per bus), the context tables (one 16-byte entry
 * per device/function) and the second-level page tables (3 or 4 levels of 512 8-byte
 * entries, with 2 MiB and 1 GiB leaves). All reads go through the IOMMU's own untranslated
 * DMA context; a read that fails is a table-access fault, never an exception.
 */
import { type GuestPhysAddr, type IommuEntry, type IommuFaultReason, iova } from '@emuhost/sdk';
import { FR } from './faults.js';
import { addrField, hawHiMask, sagawBits } from './registers.js';
import type { CachedContext, Vtd } from './vtd.js';

/** A refused translation before it is recorded: the spec's fault reason and the kernel's. */
export interface WalkFault {
  readonly kind: 'walk-fault';
  /** The VT-d fault reason code (FRCD.FR). */
  readonly fr: number;
  readonly reason: IommuFaultReason;
  /** FPD of the context entry that applied (false when none was read). */
  readonly fpd: boolean;
}

const fault = (fr: number, reason: IommuFaultReason, fpd = false): WalkFault => ({
  kind: 'walk-fault',
  fr,
  reason,
  fpd,
});

const scratch = new Uint8Array(16);
const view = new DataView(scratch.buffer);

const scratch8 = scratch.subarray(0, 8);

/** Reads `n` (2 or 4) little-endian dwords at `addr`; undefined when the read fails. */
function readDwords(v: Vtd, addr: number, n: 2 | 4): number[] | undefined {
  if (!readEntry(v, addr, n === 4 ? scratch : scratch8)) return undefined;
  const out = [view.getUint32(0, true), view.getUint32(4, true)];
  if (n === 4) out.push(view.getUint32(8, true), view.getUint32(12, true));
  return out;
}

/** Reads a table entry into `buf` (a view of `scratch`); false when the read fails. */
const readEntry = (v: Vtd, addr: number, buf: Uint8Array): boolean =>
  v.ctx.memory.read(iova(addr), buf) === 'ok';

/** Bytes a level's entry maps: 4 KiB at level 1, 2 MiB at 2, 1 GiB at 3, 512 GiB at 4. */
const LEVEL_BYTES = [0, 2 ** 12, 2 ** 21, 2 ** 30, 2 ** 39] as const;

/**
 * Root entry → context entry for a requester (bus = rid[15:8], devfn = rid[7:0]), checked
 * in the spec's order: root read (8h), present (1h), reserved (Ah), context read (9h),
 * present (2h), reserved (Bh), then AW and TT against what CAP/ECAP report (3h).
 */
export function readContext(v: Vtd, rid: number): CachedContext | WalkFault {
  const haw = v.cfg.haw;
  const above = ~hawHiMask(haw) >>> 0;
  const bus = (rid >>> 8) & 0xff;
  const devfn = rid & 0xff;
  const re = readDwords(v, v.s.root + bus * 16, 4);
  if (re === undefined) return fault(FR.ROOT_TABLE_INV, 'bad-table');
  const [rlo, rhi, rlo2, rhi2] = re as [number, number, number, number];
  if ((rlo & 1) === 0) return fault(FR.ROOT_P, 'no-context');
  if ((rlo & 0xffe) !== 0 || (rhi & above) !== 0 || rlo2 !== 0 || rhi2 !== 0)
    return fault(FR.ROOT_RSVD, 'bad-table');
  const ce = readDwords(v, addrField(rlo, rhi, haw) + devfn * 16, 4);
  if (ce === undefined) return fault(FR.CTX_TABLE_INV, 'bad-table');
  const [clo, chi, cw2, cw3] = ce as [number, number, number, number];
  const fpd = (clo & 2) !== 0;
  if ((clo & 1) === 0) return fault(FR.CTX_P, 'no-context', fpd);
  if ((clo & 0xff0) !== 0 || (chi & above) !== 0 || (cw2 & 0xff000080) !== 0 || cw3 !== 0)
    return fault(FR.CTX_RSVD, 'bad-table');
  const aw = cw2 & 7;
  if (((sagawBits(v.cfg.awBits) >>> aw) & 1) === 0) return fault(FR.CTX_INV, 'no-context', fpd);
  const tt = (clo >>> 2) & 3;
  if (tt !== 0 && tt !== 2) return fault(FR.CTX_INV, 'no-context', fpd);
  return {
    did: (cw2 >>> 8) & 0xffff,
    fpd,
    passThrough: tt === 2,
    levels: aw === 2 ? 4 : 3,
    slptptr: addrField(clo, chi, haw),
  };
}

/**
 * Walks the second-level tables for `addr`. Permissions are the AND of R and W over every
 * level; an entry with neither R nor W is not present. The access is checked at each level,
 * so a walk stops at the first entry that refuses it (5h write, 6h read). Reserved bits in a
 * present entry fault with Ch; a table that cannot be read with 3h (the top one, through
 * SLPTPTR) or 7h (a lower one).
 */
export function walk(
  v: Vtd,
  c: CachedContext,
  addr: number,
  isWrite: boolean,
): IommuEntry | WalkFault {
  const haw = v.cfg.haw;
  const limit = v.cfg.awBits === 48 && c.levels === 4 ? 2 ** 48 : 2 ** 39;
  if (addr >= limit) return fault(FR.ADDR_BEYOND_MGAW, 'out-of-range', c.fpd);
  // Common reserved bits: SNP (11; SC = 0), address bits 51:HAW, TM (62; DT = 0).
  const rsvdHi = ((0xfffff & ~hawHiMask(haw)) | (1 << 30)) >>> 0;
  const denied = isWrite ? FR.WRITE : FR.READ;
  let table = c.slptptr;
  let r = true;
  let w = true;
  for (let level: number = c.levels; level >= 1; level--) {
    const levelBytes = LEVEL_BYTES[level]!;
    const index = Math.floor(addr / levelBytes) % 512;
    if (!readEntry(v, table + index * 8, scratch8))
      return fault(level === c.levels ? FR.CTX_INV : FR.PAGING_INV, 'bad-table', c.fpd);
    const lo = view.getUint32(0, true);
    const hi = view.getUint32(4, true);
    const er = (lo & 1) !== 0;
    const ew = (lo & 2) !== 0;
    if (!er && !ew) return fault(denied, 'not-present', c.fpd);
    const ps = level > 1 && (lo & 0x80) !== 0;
    let rsvdLo = 0x800;
    if (level === 4) rsvdLo |= 0x80;
    else if (ps && level === 3) rsvdLo |= 0x3ffff000;
    else if (ps && level === 2) rsvdLo |= 0x1ff000;
    if ((lo & rsvdLo) !== 0 || (hi & rsvdHi) !== 0)
      return fault(FR.PAGING_RSVD, 'bad-table', c.fpd);
    r &&= er;
    w &&= ew;
    if (isWrite ? !w : !r) return fault(denied, 'permission', c.fpd);
    if (level === 1 || ps) {
      const pageSize = levelBytes;
      return {
        kind: 'entry',
        iova: iova(Math.floor(addr / pageSize) * pageSize),
        translated: addrField(lo, hi, haw) as GuestPhysAddr,
        pageSize,
        perm: r && w ? 'read-write' : r ? 'read' : 'write',
      };
    }
    table = addrField(lo, hi, haw);
  }
  // Unreachable: level 1 is always a leaf.
  return fault(FR.PAGING_INV, 'bad-table', c.fpd);
}
