/**
 * The IOMMU conformance suite. The IOMMU-specific part, programming it as a guest driver
 * would (tables in guest memory, registers over MMIO, and the invalidation the guest owes),
 * comes from the plugin's test as `map` and `unmap`; the suite then checks the contract
 * through a real requester's DMA context:
 *
 * - translates mapped pages: a transfer across two non-contiguous pages lands where mapped;
 * - faults unmapped pages: with an `iommu-fault` and a reason;
 * - enforces permissions: a read-only mapping refuses writes;
 * - invalidates when told: after `unmap` (and its invalidation) the old page faults;
 * - state round trip: saved state is plain data, and a new instance saves the same;
 * - hot reload keeps translating: its code reloaded (the same code) under a requester with a
 *   live mapping, it translates as before, revokes nothing, and still obeys its guest.
 */
import {
  bareMachine,
  Emulator,
  type LoadedPlugin,
  type RunningIommu,
  removeIommu,
} from '@emuhost/host';
import {
  type DmaError,
  type DmaMapping,
  type GuestPhysAddr,
  type IommuPerm,
  iova,
  type OptionValue,
} from '@emuhost/sdk';
import { describe, expect } from 'vitest';
import { createDriver, type Driver } from './driver.js';
import { type PluginSource, resolvePlugin } from './load.js';
import { registerCases } from './skips.js';

export type IommuCase =
  | 'translates mapped pages'
  | 'faults unmapped pages'
  | 'enforces permissions'
  | 'invalidates when told'
  | 'state round trip'
  | 'hot reload keeps translating';

export interface IommuMapping {
  readonly requesterId: number;
  readonly iova: number;
  readonly gpa: number;
  readonly perm: Exclude<IommuPerm, 'none'>;
}

/** What the plugin's test gets to program the IOMMU with. */
export interface IommuKit {
  readonly emulator: Emulator;
  readonly driver: Driver;
  readonly iommu: RunningIommu;
  /** Allocates guest RAM (for tables), aligned; from 16 MiB up. */
  alloc(size: number, align?: number): number;
}

export interface IommuConformanceOptions {
  readonly plugin: PluginSource;
  readonly options?: Readonly<Record<string, OptionValue>>;
  /** Runs once the IOMMU exists, before any mapping (e.g. set up root tables, enable translation). */
  setup?(kit: IommuKit): void;
  /** Makes `iova` (one page) translate to `gpa` for the requester, as a guest driver would. */
  map(kit: IommuKit, m: IommuMapping): void;
  /** Removes the mapping, including whatever invalidation the guest owes. */
  unmap(kit: IommuKit, m: { readonly requesterId: number; readonly iova: number }): void;
  /** Translation granule in bytes. Default 4096. */
  readonly pageSize?: number;
  readonly skip?: Partial<Record<IommuCase, string>>;
}

const REQUESTER = 0x10;

export function iommuConformance(opts: IommuConformanceOptions): void {
  describe('IOMMU conformance', () => {
    registerCases<IommuCase>(iommuCases(opts), opts.skip);
  });
}

export function iommuCases(opts: IommuConformanceOptions): Record<IommuCase, () => Promise<void>> {
  let cached: Promise<LoadedPlugin> | undefined;
  const page = opts.pageSize ?? 4096;
  const setup = async () => {
    cached ??= resolvePlugin(opts.plugin);
    const p = await cached;
    const emulator = new Emulator({ machine: bareMachine(), ramSize: 64 << 20, log: () => {} });
    const iommu = emulator.addIommu(p, {
      id: 'mmu',
      ...(opts.options !== undefined && { options: opts.options }),
    });
    let next = 16 << 20;
    const kit: IommuKit = {
      emulator,
      driver: createDriver(emulator),
      iommu,
      alloc: (size, align = 4096) => {
        const a = Math.ceil(next / align) * align;
        next = a + size;
        return a;
      },
    };
    opts.setup?.(kit);
    const m = emulator.machine;
    const ctx = m.dma.createContext({ device: 'requester', bus: 'pci.0', requesterId: REQUESTER });
    m.dma.bind({ bus: 'pci.0' }, 'mmu');
    const map = (io: number, gpa: number, perm: IommuMapping['perm'] = 'read-write') =>
      opts.map(kit, { requesterId: REQUESTER, iova: io, gpa, perm });
    return { kit, m, ctx, map, p };
  };
  const gp = (n: number) => n as GuestPhysAddr;
  return {
    'translates mapped pages': async () => {
      const { m, ctx, map } = await setup();
      map(0x40000000, 0x100000);
      map(0x40000000 + page, 0x300000);
      const data = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
      expect(ctx.write(iova(0x40000000 + page - 16), data)).toBe('ok');
      const a = new Uint8Array(16);
      const b = new Uint8Array(16);
      m.memory.read(gp(0x100000 + page - 16), a);
      m.memory.read(gp(0x300000), b);
      expect([...a, ...b]).toEqual([...data]);
      const back = new Uint8Array(32);
      expect(ctx.read(iova(0x40000000 + page - 16), back)).toBe('ok');
      expect(back).toEqual(data);
    },
    'faults unmapped pages': async () => {
      const { ctx, map } = await setup();
      map(0x40000000, 0x100000);
      const r = ctx.readU32LE(iova(0x40000000 + 8 * page)) as DmaError;
      expect(r.result).toBe('iommu-fault');
      expect(r.reason).toBeDefined();
    },
    'enforces permissions': async () => {
      const { m, ctx, map } = await setup();
      map(0x40000000, 0x100000, 'read');
      m.memory.store(gp(0x100000), 4, 0x12345678);
      expect(ctx.readU32LE(iova(0x40000000))).toBe(0x12345678);
      expect((ctx.writeU32LE(iova(0x40000000), 0) as DmaError).result).toBe('iommu-fault');
      expect(m.memory.load(gp(0x100000), 4)).toBe(0x12345678);
    },
    'invalidates when told': async () => {
      const { kit, ctx, map } = await setup();
      map(0x40000000, 0x100000);
      expect(ctx.readU32LE(iova(0x40000000))).toBe(0);
      opts.unmap(kit, { requesterId: REQUESTER, iova: 0x40000000 });
      expect((ctx.readU32LE(iova(0x40000000)) as DmaError).result).toBe('iommu-fault');
    },
    'state round trip': async () => {
      const { kit, m, ctx, map, p } = await setup();
      map(0x40000000, 0x100000);
      m.memory.store(gp(0x100000), 4, 0xfeedf00d);
      const saved = kit.iommu.saveState();
      expect(structuredClone(saved)).toEqual(saved);
      const other = new Emulator({ machine: bareMachine(), ramSize: 64 << 20, log: () => {} });
      const again = other.addIommu(p, {
        id: 'mmu',
        state: saved,
        ...(opts.options !== undefined && { options: opts.options }),
      });
      expect(again.saveState()).toEqual(saved);
      // In place of the old one, an instance made from the state translates what it did.
      removeIommu(kit.emulator, 'mmu');
      kit.emulator.addIommu(p, {
        id: 'mmu',
        state: saved,
        ...(opts.options !== undefined && { options: opts.options }),
      });
      m.dma.bind({ bus: 'pci.0' }, 'mmu');
      expect(ctx.readU32LE(iova(0x40000000)), 'translated after the restore').toBe(0xfeedf00d);
    },
    'hot reload keeps translating': async () => {
      const { kit, m, ctx, map, p } = await setup();
      map(0x40000000, 0x100000);
      map(0x40000000 + page, 0x300000);
      const live = ctx.map(iova(0x40000000), 16, 'write');
      expect('result' in live, 'a live mapping through the IOMMU').toBe(false);
      const saved = kit.iommu.saveState();
      const report = kit.emulator.reloadIommu('mmu', p);
      expect(report.warnings, 'a reload onto the same code loses nothing').toEqual([]);
      expect(report.revoked, 'the same translations: live mappings survive').toBe(0);
      expect(kit.iommu.saveState()).toEqual(saved);
      expect((live as DmaMapping).valid).toBe(true);
      expect(ctx.writeU32LE(iova(0x40000000 + page), 0xc0ffee)).toBe('ok');
      expect(m.memory.load(gp(0x300000), 4)).toBe(0xc0ffee);
      // The new code still answers its guest: an unmap and its invalidation take effect.
      opts.unmap(kit, { requesterId: REQUESTER, iova: 0x40000000 + page });
      expect((ctx.readU32LE(iova(0x40000000 + page)) as DmaError).result).toBe('iommu-fault');
      (live as DmaMapping).release(0);
    },
  };
}
