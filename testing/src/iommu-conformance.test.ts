import { inProcessPlugin } from '@emuhost/host';
import {
  definePlugin,
  type GuestPhysAddr,
  type IommuEntry,
  type IommuPerm,
  type IommuPluginDefinition,
  iova,
} from '@emuhost/sdk';
import { describe, expect, it } from 'vitest';
import {
  type IommuCase,
  type IommuConformanceOptions,
  iommuCases,
  iommuConformance,
} from './iommu-conformance.js';

/**
 * A register-programmed test IOMMU: write IOVA page, GPA page, perm to its registers, then
 * 1 to "commit" (which invalidates, unless `forgetsInvalidation`).
 */
function regIommu(flaw?: 'forgets-invalidation' | 'ignores-perm' | 'no-state') {
  const def: IommuPluginDefinition = definePlugin({
    kind: 'iommu',
    create(ctx, state) {
      const table = new Map<number, { gpa: number; perm: IommuPerm }>(
        state as [number, { gpa: number; perm: IommuPerm }][],
      );
      const regs = [0, 0, 0];
      const r = ctx.mmio('regs', 0x100, {
        read: (o) => regs[o >> 2] ?? 0,
        write: (o, _s, v) => {
          const i = o >> 2;
          if (i < 3) regs[i] = Number(v);
          else if (i === 3) {
            const page = regs[0]! / 4096;
            if (regs[2] === 0) table.delete(page);
            else
              table.set(page, {
                gpa: regs[1]!,
                perm: (['none', 'read', 'write', 'read-write'] as const)[regs[2]!]!,
              });
            if (flaw !== 'forgets-invalidation')
              ctx.host.invalidate({ iova: iova(regs[0]!), len: 4096 });
          }
          return undefined;
        },
      });
      ctx.platform.map(r, 0xfed00000 as GuestPhysAddr);
      return {
        translate(a): IommuEntry | { kind: 'fault'; reason: 'not-present' } {
          const e = table.get(Math.floor(a / 4096));
          if (e === undefined) return { kind: 'fault', reason: 'not-present' };
          return {
            kind: 'entry',
            iova: iova(a - (a % 4096)),
            translated: e.gpa as GuestPhysAddr,
            pageSize: 4096,
            perm: flaw === 'ignores-perm' ? 'read-write' : e.perm,
          };
        },
        ...(flaw !== 'no-state' && { saveState: () => [...table] }),
      };
    },
  });
  return inProcessPlugin(
    {
      id: 'regmmu',
      version: '1.0.0',
      kind: 'iommu',
      sdk: '^1.0.0',
      entry: 'x',
      capabilities: ['platform'],
    },
    def,
  );
}

const program = (flaw?: Parameters<typeof regIommu>[0]): IommuConformanceOptions => ({
  plugin: () => regIommu(flaw),
  map: (kit, m) => {
    const d = kit.driver;
    d.writel(0xfed00000, m.iova);
    d.writel(0xfed00004, m.gpa);
    d.writel(0xfed00008, { read: 1, write: 2, 'read-write': 3 }[m.perm]);
    d.writel(0xfed0000c, 1);
  },
  unmap: (kit, m) => {
    kit.driver.writel(0xfed00000, m.iova);
    kit.driver.writel(0xfed00008, 0);
    kit.driver.writel(0xfed0000c, 1);
  },
});

iommuConformance(program());

describe('the IOMMU suite catches what it is for', () => {
  it.each([
    ['forgets-invalidation', 'invalidates when told'],
    ['ignores-perm', 'enforces permissions'],
    ['no-state', 'state round trip'],
  ] as const)('an IOMMU with flaw %s fails "%s"', async (flaw, name: IommuCase) => {
    await expect(iommuCases(program(flaw))[name]()).rejects.toThrow(/expected/);
  });
});
