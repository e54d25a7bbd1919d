/**
 * tce: a flat translation-control-entry table, as sPAPR (POWER) platforms give each PCI host
 * bridge. One DMA window per bus (`window_base`, `window_size`, pages of 2^`page_shift`
 * bytes); the table lives in guest memory, one 8-byte big-endian entry per page of the
 * window: bits 63..page_shift the guest-physical page, bit 0 read, bit 1 write (TCE_PCI_READ
 * and TCE_PCI_WRITE). An entry with neither bit is not present.
 *
 * On sPAPR the guest updates entries with the H_PUT_TCE hypercall. There are no hypercalls
 * without a CPU, so a small register block stands in for it (4-byte accesses, at `base`):
 *
 *   0x00 TABLE_LO / 0x04 TABLE_HI  guest-physical address of the table (set by firmware)
 *   0x08 IOBA_LO  / 0x0c IOBA_HI   the I/O bus address (IOVA) of the entry to set
 *   0x10 TCE_LO   / 0x14 TCE_HI    the entry's new value
 *   0x18 PUT        write 1: H_PUT_TCE(ioba, tce): store the entry, invalidate its page
 *   0x1c STATUS     RO: 0 H_SUCCESS; 1 H_PARAMETER (IOBA outside the window or unaligned,
 *                   reserved TCE bits set); 2 H_HARDWARE (the table could not be written)
 *   0x20 WINDOW_LO / 0x24 WINDOW_HI / 0x28 WINDOW_SIZE_LO / 0x2c WINDOW_SIZE_HI / 0x30 PAGE_SHIFT  RO
 *
 * Every update invalidates the page it changed, so the kernel's IOTLB never serves a stale
 * entry written through PUT (writes to the table behind the hypercall's back are the guest's
 * problem, as on sPAPR, and are seen only after the next PUT of that page).
 */
import {
  definePlugin,
  type GuestPhysAddr,
  type IommuEntry,
  type IommuFault,
  iova,
} from '@emuhost/sdk';

interface State {
  table: number;
  ioba: number;
  tce: bigint;
  status: number;
}

const H_SUCCESS = 0;
const H_PARAMETER = 1;
const H_HARDWARE = 2;

const lo = (v: number) => v % 2 ** 32;
const hi = (v: number) => Math.floor(v / 2 ** 32);
const setLo = (v: number, x: number) => hi(v) * 2 ** 32 + x;
const setHi = (v: number, x: number) => (x % 2 ** 21) * 2 ** 32 + lo(v);

/** A TCE's low two bits: its permission. */
const PERMS = ['none', 'read', 'write', 'read-write'] as const;

export default definePlugin({
  kind: 'iommu',
  options: {
    base: { type: 'number', default: 0xfed80000, description: 'where the register block is' },
    window_base: { type: 'number', default: 0, description: 'first IOVA of the DMA window' },
    window_size: {
      type: 'number',
      default: 0x40000000,
      description: 'size of the DMA window in bytes',
    },
    page_shift: {
      type: 'number',
      default: 12,
      description: 'log2 of the TCE page size (12: 4 KiB, 16: 64 KiB)',
    },
  },
  stateVersion: 1,
  create(ctx, saved) {
    const winBase = ctx.options.window_base as number;
    const winSize = ctx.options.window_size as number;
    const shift = ctx.options.page_shift as number;
    const page = 2 ** shift;
    /** Clears a TCE's offset and permission bits: the real page number. */
    const pageMask = ~BigInt(page - 1);
    if (shift < 12 || shift > 30 || winBase % page !== 0 || winSize % page !== 0 || winSize <= 0) {
      throw new Error(
        `tce: window 0x${winBase.toString(16)}+0x${winSize.toString(16)} is not made of 2^${shift}-byte pages`,
      );
    }
    const s: State =
      saved === undefined
        ? { table: 0, ioba: 0, tce: 0n, status: H_SUCCESS }
        : { ...(saved as State), tce: BigInt((saved as State).tce) };
    const entryAddr = (io: number) => s.table + ((io - winBase) / page) * 8;

    const put = (): number => {
      const io = s.ioba;
      if (io < winBase || io >= winBase + winSize || io % page !== 0) return H_PARAMETER;
      if ((s.tce & BigInt(page - 1) & ~3n) !== 0n) return H_PARAMETER;
      if (ctx.memory.writeU64BE(iova(entryAddr(io)), s.tce) !== 'ok') return H_HARDWARE;
      ctx.host.invalidate({ iova: iova(io), len: page });
      return H_SUCCESS;
    };

    const regs = ctx.mmio(
      'regs',
      0x100,
      {
        read(o) {
          switch (o) {
            case 0x00:
              return lo(s.table);
            case 0x04:
              return hi(s.table);
            case 0x08:
              return lo(s.ioba);
            case 0x0c:
              return hi(s.ioba);
            case 0x10:
              return Number(s.tce & 0xffffffffn);
            case 0x14:
              return Number(s.tce >> 32n);
            case 0x1c:
              return s.status;
            case 0x20:
              return lo(winBase);
            case 0x24:
              return hi(winBase);
            case 0x28:
              return lo(winSize);
            case 0x2c:
              return hi(winSize);
            case 0x30:
              return shift;
            default:
              return 0;
          }
        },
        write(o, _size, value) {
          const v = Number(value);
          if (o === 0x00) s.table = setLo(s.table, v);
          else if (o === 0x04) s.table = setHi(s.table, v);
          else if (o === 0x08) s.ioba = setLo(s.ioba, v);
          else if (o === 0x0c) s.ioba = setHi(s.ioba, v);
          else if (o === 0x10) s.tce = (s.tce & ~0xffffffffn) | BigInt(v);
          else if (o === 0x14) s.tce = (BigInt(v) << 32n) | (s.tce & 0xffffffffn);
          else if (o === 0x18 && v === 1) s.status = put();
        },
      },
      { valid: { min: 4, max: 4 } },
    );
    ctx.platform.map(regs, ctx.options.base as GuestPhysAddr);

    return {
      translate(a, _access, _req): IommuEntry | IommuFault {
        if (a < winBase || a >= winBase + winSize) return { kind: 'fault', reason: 'out-of-range' };
        const pageStart = a - ((a - winBase) % page);
        const e = ctx.memory.readU64BE(iova(entryAddr(pageStart)));
        if (typeof e !== 'bigint')
          return {
            kind: 'fault',
            reason: 'bad-table',
            detail: `TCE table unreadable: ${e.result}`,
          };
        const perm = PERMS[Number(e & 3n)]!;
        if (perm === 'none') return { kind: 'fault', reason: 'not-present' };
        return {
          kind: 'entry',
          iova: iova(pageStart),
          translated: Number(e & pageMask) as GuestPhysAddr,
          pageSize: page,
          perm,
        };
      },
      reset() {
        Object.assign(s, { table: 0, ioba: 0, tce: 0n, status: H_SUCCESS });
        ctx.host.invalidate();
      },
      saveState: () => ({ ...s, tce: s.tce.toString() }),
    };
  },
});
