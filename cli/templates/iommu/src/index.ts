/**
 * my-iommu: a page-table IOMMU, the starting point for an IOMMU plugin.
 *
 * The guest keeps one flat table in its memory: entry i (8 bytes, little-endian) translates
 * IOVA page i (4 KiB) of every requester: bits 63..12 the guest-physical page, bit 0 read,
 * bit 1 write. Registers (at `base`, default 0xfed00000; 4-byte accesses):
 *   0x00 TABLE_LO / 0x04 TABLE_HI   guest-physical address of the table
 *   0x08 ENTRIES                    number of entries (IOVAs past them fault out-of-range)
 *   0x0c INVALIDATE                 write an IOVA page number to drop its cached translation;
 *                                   0xffffffff drops all
 *   0x10 FAULTS                     RO: how many translations were refused
 *
 * The kernel caches translations; the guest must write INVALIDATE after narrowing or
 * removing an entry (widening needs nothing), as on hardware.
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
  entries: number;
  faults: number;
}

export default definePlugin({
  kind: 'iommu',
  options: {
    base: { type: 'number', default: 0xfed00000, description: 'where the registers are' },
  },
  stateVersion: 1,
  create(ctx, saved) {
    const s: State = saved === undefined ? { table: 0, entries: 0, faults: 0 } : (saved as State);
    const fault = (reason: IommuFault['reason'], probe: boolean): IommuFault => {
      if (!probe) s.faults++;
      return { kind: 'fault', reason };
    };
    const regs = ctx.mmio(
      'regs',
      0x1000,
      {
        read: (o) =>
          o === 0x00
            ? s.table % 2 ** 32
            : o === 0x04
              ? Math.floor(s.table / 2 ** 32)
              : o === 0x08
                ? s.entries
                : o === 0x10
                  ? s.faults
                  : 0,
        write: (o, _size, value) => {
          const v = Number(value);
          if (o === 0x00) s.table = Math.floor(s.table / 2 ** 32) * 2 ** 32 + (v & ~7);
          else if (o === 0x04) s.table = (v % 2 ** 21) * 2 ** 32 + (s.table % 2 ** 32);
          else if (o === 0x08) s.entries = v;
          else if (o === 0x0c)
            ctx.host.invalidate(v === 0xffffffff ? {} : { iova: iova(v * 4096), len: 4096 });
          return undefined;
        },
      },
      { valid: { min: 4, max: 4 } },
    );
    ctx.platform.map(regs, ctx.options.base as GuestPhysAddr);

    return {
      translate(a, _access, req): IommuEntry | IommuFault {
        const page = Math.floor(a / 4096);
        if (page >= s.entries) return fault('out-of-range', req.probe);
        const e = ctx.memory.readU64LE(iova(s.table + page * 8));
        if (typeof e !== 'bigint') return fault('bad-table', req.probe);
        const perm = (['none', 'read', 'write', 'read-write'] as const)[Number(e & 3n)]!;
        if (perm === 'none') return fault('not-present', req.probe);
        return {
          kind: 'entry',
          iova: iova(page * 4096),
          translated: Number(e & ~0xfffn) as GuestPhysAddr,
          pageSize: 4096,
          perm,
        };
      },
      saveState: () => ({ ...s }),
    };
  },
});
