import { type DmaError, type DmaMapping, type GuestPhysAddr, iova } from '@emuhost/sdk';
import { describe, expect, it } from 'vitest';
import { DeviceGuard } from '../guard.js';
import { createKernelHooks, type DmaTraceEvent, type IommuFaultEvent } from '../hooks.js';
import { createMemorySystem } from '../memory/memory-system.js';
import { mmio } from '../memory/test-util.js';
import { DmaRegistry } from './registry.js';
import { type PageMapIommu, pageMapIommu } from './test-iommu.js';

const MiB = 1 << 20;

function setup(opts: { bounceLimit?: number; iotlbCapacity?: number } = {}) {
  const hooks = createKernelHooks();
  const ms = createMemorySystem({ hooks });
  const system = ms.createContainer('system', 2 ** 32);
  const memory = ms.createAddressSpace<GuestPhysAddr>('memory', system);
  const ram = ms.createRam('ram', 16 * MiB);
  system.addSubregion(ram, 0);
  const registry = new DmaRegistry(memory, hooks, opts);
  const ctx = registry.createContext({ device: 'dev0', bus: 'pci.0', requesterId: 0x10 });
  const addMmu = (name = 'mmu') => {
    let mmu: PageMapIommu | undefined;
    registry.addIommu(name, (host) => {
      mmu = pageMapIommu(host);
      return mmu;
    });
    return () => mmu!;
  };
  return { hooks, ms, system, memory, ram, registry, ctx, addMmu };
}

/** `setup` plus an MMIO device at 0xe0000000 (a bounce target) and an IOMMU bound to the bus. */
function setupTranslated(opts: Parameters<typeof setup>[0] = {}) {
  const s = setup(opts);
  const dev = mmio(s.ms, 'bar', 0x1000, { valid: { max: 8 }, impl: { max: 8 } });
  s.system.addSubregion(dev.region, 0xe0000000);
  const mmu = s.addMmu();
  s.registry.bind({ bus: 'pci.0' }, 'mmu');
  return { ...s, dev, mmu };
}

const err = (r: unknown) => r as DmaError;

describe('identity DMA (no IOMMU)', () => {
  it('reads, writes and fills guest-physical memory directly', () => {
    const { ctx, ram } = setup();
    expect(ctx.write(iova(0x1000), Uint8Array.of(1, 2, 3, 4))).toBe('ok');
    expect([...ram.bytes!.subarray(0x1000, 0x1004)]).toEqual([1, 2, 3, 4]);
    const b = new Uint8Array(4);
    expect(ctx.read(iova(0x1000), b)).toBe('ok');
    expect([...b]).toEqual([1, 2, 3, 4]);
    expect(ctx.fill(iova(0x1002), 0xee, 4)).toBe('ok');
    expect([...ram.bytes!.subarray(0x1000, 0x1007)]).toEqual([1, 2, 0xee, 0xee, 0xee, 0xee, 0]);
  });

  it('typed loads and stores in both byte orders', () => {
    const { ctx } = setup();
    const a = iova(0x2000);
    expect(ctx.writeU32LE(a, 0x11223344)).toBe('ok');
    expect(ctx.readU32BE(a)).toBe(0x44332211);
    expect(ctx.readU16LE(a)).toBe(0x3344);
    expect(ctx.readU8(a)).toBe(0x44);
    expect(ctx.writeU64BE(a, 0x0102030405060708n)).toBe('ok');
    expect(ctx.readU64LE(a)).toBe(0x0807060504030201n);
    expect(ctx.writeU16BE(a, 0xabcd)).toBe('ok');
    expect(ctx.readU16LE(a)).toBe(0xcdab);
    expect(ctx.writeU8(a, 0x1ff)).toBe('ok');
    expect(ctx.readU8(a)).toBe(0xff);
  });

  it('reports unassigned memory as a decode error the device sees', () => {
    const { ctx } = setup();
    expect(ctx.read(iova(0x2000000), new Uint8Array(4))).toEqual({
      result: 'decode-error',
      addr: 0x2000000,
      completed: 0,
    });
    expect(err(ctx.readU32LE(iova(2 ** 53))).result).toBe('decode-error');
    expect(err(ctx.writeU64LE(iova(-8), 1n)).result).toBe('decode-error');
  });

  it('refuses everything while bus mastering is off, and after revocation', () => {
    const { ctx, ram, registry } = setup();
    ctx.setBusMaster(false);
    expect(err(ctx.write(iova(0), Uint8Array.of(9))).result).toBe('bus-master-disabled');
    expect(err(ctx.readU64LE(iova(0))).result).toBe('bus-master-disabled');
    expect(err(ctx.map(iova(0), 16, 'read')).result).toBe('bus-master-disabled');
    expect(ctx.canAccess(iova(0), 16, 'read')).toBe(false);
    expect(ram.bytes![0]).toBe(0);
    ctx.setBusMaster(true);
    expect(ctx.write(iova(0), Uint8Array.of(9))).toBe('ok');
    registry.releaseContext(ctx);
    expect(err(ctx.write(iova(0), Uint8Array.of(7))).result).toBe('revoked');
    ctx.setBusMaster(true);
    expect(err(ctx.readU8(iova(0))).result).toBe('revoked');
    expect(ram.bytes![0]).toBe(9);
  });

  it('reaches another device’s MMIO (peer to peer), with its requester ID', () => {
    const { ms, system, ctx } = setup();
    const peer = mmio(ms, 'peer', 0x100, { valid: { max: 8 }, impl: { max: 8 } });
    const seen: unknown[] = [];
    const ops = peer.region.ops!;
    const region = ms.createMmio('peer-bar', 0x100, {
      read: (o, s, a) => {
        seen.push(a.requesterId);
        return ops.read(o, s, a);
      },
      write: (o, s, v, a) => {
        seen.push(a.requesterId);
        return ops.write(o, s, v, a);
      },
    });
    system.addSubregion(region, 0xe0000000);
    expect(ctx.writeU32LE(iova(0xe0000010), 0xcafe)).toBe('ok');
    expect(ctx.readU32LE(iova(0xe0000010))).toBe(0xcafe);
    const buf = new Uint8Array(8);
    expect(ctx.read(iova(0xe0000010), buf)).toBe('ok');
    expect([...buf.subarray(0, 2)]).toEqual([0xfe, 0xca]);
    expect(seen.every((r) => r === 0x10)).toBe(true);
  });
});

describe('the re-entrancy guard covers DMA', () => {
  function selfDevice() {
    const s = setup();
    const guard = new DeviceGuard('dev0', s.hooks);
    const ctx = s.registry.createContext({
      device: 'dev0',
      bus: 'pci.0',
      requesterId: 0x18,
      guard,
    });
    let inner: unknown;
    const region = s.ms.createMmio(
      'self-bar',
      0x100,
      {
        read: (o) => {
          if (o === 0) inner = ctx.readU32LE(iova(0xe0000004));
          return 1;
        },
        write: () => undefined,
      },
      {},
      { guard },
    );
    s.system.addSubregion(region, 0xe0000000);
    return { ...s, guard, ctx, inner: () => inner };
  }

  it('a callback that throws has its translated DMA writes to RAM undone (write, fill, typed store, SG)', () => {
    const d = selfDevice();
    const ram = d.ram.bytes!;
    ram.fill(0x11, 0x1000, 0x1100);
    const before = ram.slice(0x1000, 0x1100);
    const mmu = d.addMmu();
    d.registry.bind({ device: 'dev0' }, 'mmu');
    mmu().map(0x40000, 0x1000);
    const ok = d.guard.run('dma', () => {
      expect(d.ctx.write(iova(0x40000), Uint8Array.of(1, 2, 3))).toBe('ok');
      expect(d.ctx.fill(iova(0x40010), 0xee, 8)).toBe('ok');
      expect(d.ctx.writeU32BE(iova(0x40020), 0xdeadbeef)).toBe('ok');
      expect(
        d.ctx.writeSg([{ addr: iova(0x40030), len: 4 }], Uint8Array.of(9, 9, 9, 9)),
      ).toMatchObject({
        transferred: 4,
      });
      throw new Error('device bug');
    });
    expect(ok).toBe(false);
    expect(d.guard.quarantined).toBe(true);
    expect(ram.slice(0x1000, 0x1100)).toEqual(before);
  });

  it('blocks DMA from a device’s MMIO callback into its own registers', () => {
    const d = selfDevice();
    const blocked: unknown[] = [];
    d.hooks.guard.reentrancyBlocked.tap('t', (e) => void blocked.push(e));
    expect(d.memory.load(0xe0000000 as GuestPhysAddr, 4)).toBe(1);
    expect(err(d.inner()).result).toBe('reentrancy-blocked');
    expect(blocked).toHaveLength(1);
  });

  it('blocks DMA from a device’s timer into its own registers', () => {
    const d = selfDevice();
    let r: unknown;
    d.guard.run('timer', () => {
      r = d.ctx.readU32LE(iova(0xe0000000));
    });
    expect(err(r).result).toBe('reentrancy-blocked');
    // Outside any callback of the device it is not re-entry.
    expect(d.ctx.readU32LE(iova(0xe0000008))).toBe(1);
  });
});

describe('translated DMA', () => {
  it('splits a transfer across non-contiguous IOMMU pages and reassembles it', () => {
    const { ctx, ram, registry, addMmu } = setup();
    const mmu = addMmu();
    registry.bind({ bus: 'pci.0' }, 'mmu');
    mmu().map(0x10000, 0x5000);
    mmu().map(0x11000, 0x3000);
    const data = Uint8Array.from({ length: 0x1800 }, (_, i) => i & 0xff);
    expect(ctx.write(iova(0x10800), data)).toBe('ok');
    expect([...ram.bytes!.subarray(0x5800, 0x6000)]).toEqual([...data.subarray(0, 0x800)]);
    expect([...ram.bytes!.subarray(0x3000, 0x4000)]).toEqual([...data.subarray(0x800)]);
    const back = new Uint8Array(0x1800);
    expect(ctx.read(iova(0x10800), back)).toBe('ok');
    expect(back).toEqual(data);
    // A typed access straddling the two pages.
    expect(ctx.writeU32LE(iova(0x10ffe), 0xa1b2c3d4)).toBe('ok');
    expect([
      ram.bytes![0x5ffe],
      ram.bytes![0x5fff],
      ram.bytes![0x3000],
      ram.bytes![0x3001],
    ]).toEqual([0xd4, 0xc3, 0xb2, 0xa1]);
    expect(ctx.readU32LE(iova(0x10ffe))).toBe(0xa1b2c3d4);
    expect(ctx.writeU64BE(iova(0x10ffc), 0x1122334455667788n)).toBe('ok');
    expect(ctx.readU64BE(iova(0x10ffc))).toBe(0x1122334455667788n);
  });

  it('stops at an unmapped page: an IOMMU fault with its reason, how far it got, and an event', () => {
    const { ctx, ram, registry, addMmu, hooks } = setup();
    const mmu = addMmu();
    registry.bind({ bus: 'pci.0' }, 'mmu');
    mmu().map(0x10000, 0x5000);
    const faults: IommuFaultEvent[] = [];
    hooks.iommu.fault.tap('t', (e) => void faults.push(e));
    const r = ctx.write(iova(0x10f00), new Uint8Array(0x200).fill(7));
    expect(r).toEqual({
      result: 'iommu-fault',
      reason: 'not-present',
      addr: 0x11000,
      completed: 0x100,
    });
    expect(ram.bytes![0x5fff]).toBe(7);
    expect(faults).toEqual([
      {
        iommu: 'mmu',
        device: 'dev0',
        requesterId: 0x10,
        iova: 0x11000,
        access: 'write',
        reason: 'not-present',
      },
    ]);
    expect(registry.iommu('mmu').recentFaults).toHaveLength(1);
  });

  it('refuses an access the page does not permit', () => {
    const { ctx, ram, registry, addMmu } = setup();
    const mmu = addMmu();
    registry.bind({ bus: 'pci.0' }, 'mmu');
    mmu().map(0x10000, 0x5000, 'read');
    ram.bytes![0x5000] = 0x42;
    expect(ctx.readU8(iova(0x10000))).toBe(0x42);
    expect(ctx.writeU8(iova(0x10000), 1)).toMatchObject({
      result: 'iommu-fault',
      reason: 'permission',
    });
    expect(ram.bytes![0x5000]).toBe(0x42);
  });

  it('keeps using a cached translation until the model invalidates it, as hardware does', () => {
    const { ctx, ram, registry, addMmu } = setup();
    const mmu = addMmu();
    registry.bind({ bus: 'pci.0' }, 'mmu');
    mmu().map(0x10000, 0x5000);
    expect(ctx.writeU8(iova(0x10000), 1)).toBe('ok');
    mmu().map(0x10000, 0x7000); // remapped without invalidation
    expect(ctx.writeU8(iova(0x10000), 2)).toBe('ok');
    expect([ram.bytes![0x5000], ram.bytes![0x7000]]).toEqual([2, 0]);
    mmu().host.invalidate({ iova: iova(0x10000), len: 0x1000 });
    expect(ctx.writeU8(iova(0x10000), 3)).toBe('ok');
    expect([ram.bytes![0x5000], ram.bytes![0x7000]]).toEqual([2, 3]);
    mmu().unmap(0x10000);
    mmu().host.invalidate();
    expect(err(ctx.readU8(iova(0x10000))).reason).toBe('not-present');
  });

  it('needs no invalidation when a mapping is widened', () => {
    const { ctx, registry, addMmu } = setup();
    const mmu = addMmu();
    registry.bind({ bus: 'pci.0' }, 'mmu');
    mmu().map(0x10000, 0x5000, 'read');
    expect(ctx.readU8(iova(0x10000))).toBe(0);
    mmu().map(0x10000, 0x5000, 'read-write');
    expect(ctx.writeU8(iova(0x10000), 5)).toBe('ok');
  });

  it('caches large pages and hits the IOTLB on the next access', () => {
    const { ctx, ram, registry, addMmu } = setup();
    const mmu = addMmu();
    registry.bind({ bus: 'pci.0' }, 'mmu');
    mmu().map(0x40000000, 0x200000, 'read-write', 2 ** 21);
    expect(ctx.writeU32LE(iova(0x40123450), 0xfeed)).toBe('ok');
    expect(ctx.readU32LE(iova(0x401ffff0))).toBe(0);
    expect(ctx.readU32LE(iova(0x40123450))).toBe(0xfeed);
    expect(ram.bytes![0x323450]).toBe(0xed);
    expect(mmu().translations).toHaveLength(1);
    expect(ctx.iotlb.stats()).toMatchObject({ entries: 1, misses: 1 });
  });

  it('bounds the IOTLB, evicting the oldest entry', () => {
    const { ctx, registry, addMmu } = setup({ iotlbCapacity: 4 });
    const mmu = addMmu();
    registry.bind({ bus: 'pci.0' }, 'mmu');
    for (let p = 0; p < 6; p++) mmu().map(0x100000 + p * 0x1000, p * 0x1000);
    for (let p = 0; p < 6; p++) expect(ctx.readU8(iova(0x100000 + p * 0x1000))).toBe(0);
    expect(ctx.iotlb.stats()).toMatchObject({ entries: 4, evictions: 2 });
  });

  it('contains a model that throws or answers nonsense', () => {
    const { ctx, registry } = setup();
    registry.addIommu('bad', () => ({
      translate: (a) => {
        if (a < 0x1000) throw new Error('oops');
        return {
          kind: 'entry',
          iova: iova(0),
          translated: 0 as GuestPhysAddr,
          pageSize: 4096,
          perm: 'read-write',
        };
      },
    }));
    registry.bind({ device: 'dev0' }, 'bad');
    expect(ctx.readU8(iova(0x10))).toMatchObject({ result: 'iommu-fault', reason: 'model-error' });
    expect(ctx.readU8(iova(0x5000))).toMatchObject({
      result: 'iommu-fault',
      reason: 'model-error',
    });
  });

  it.each([3 * 2 ** 32, 2 ** 32 + 4096, 2 ** 52 + 4096, 6000])(
    'refuses an entry whose page size %d is not a power of two',
    (pageSize) => {
      const { ctx, registry } = setup();
      registry.addIommu('odd', () => ({
        translate: () => ({
          kind: 'entry',
          iova: iova(0),
          translated: 0 as GuestPhysAddr,
          pageSize,
          perm: 'read-write',
        }),
      }));
      registry.bind({ device: 'dev0' }, 'odd');
      expect(ctx.readU8(iova(0x10))).toMatchObject({
        result: 'iommu-fault',
        reason: 'model-error',
      });
    },
  );

  it('canAccess probes without recording a fault', () => {
    const { ctx, registry, addMmu, hooks } = setup();
    const mmu = addMmu();
    registry.bind({ bus: 'pci.0' }, 'mmu');
    mmu().map(0x10000, 0x5000, 'read');
    let faults = 0;
    hooks.iommu.fault.tap('t', () => void faults++);
    expect(ctx.canAccess(iova(0x10000), 0x1000, 'read')).toBe(true);
    expect(ctx.canAccess(iova(0x10000), 0x1000, 'write')).toBe(false);
    expect(ctx.canAccess(iova(0x10000), 0x1001, 'read')).toBe(false);
    expect(faults).toBe(0);
    expect(mmu().translations.every((t) => t.req.probe)).toBe(true);
  });

  it('canAccess sees no memory where a bus master-aborts (unassigned), even over RAM', () => {
    const { ctx, ms, system } = setup();
    // A PCI hole at 0xc0000000 (nothing beneath), and one over RAM at 0x8000 (a PAM window).
    system.addSubregion(ms.createUnassigned('hole', 0x1000), 0xc0000000, { priority: -1 });
    system.addSubregion(ms.createUnassigned('over-ram', 0x1000), 0x8000, { priority: 1 });
    expect(ctx.canAccess(iova(0xc0000000), 4, 'read')).toBe(false);
    expect(ctx.canAccess(iova(0x8000), 4, 'write')).toBe(false);
    expect(ctx.canAccess(iova(0x7ff0), 0x20, 'read')).toBe(false);
    expect(ctx.canAccess(iova(0x9000), 0x10, 'read')).toBe(true);
    // An access there ends with a decode error and reads 0, as QEMU's unassigned memory.
    const b = Uint8Array.of(1, 2, 3, 4);
    expect(ctx.read(iova(0x8000), b)).toMatchObject({ result: 'decode-error' });
    expect([...b]).toEqual([0, 0, 0, 0]);
  });
});

describe('scatter-gather lists', () => {
  it('reads and writes through a list, reporting transferred and residual', () => {
    const { ctx, ram } = setup();
    const sg = [
      { addr: iova(0x1000), len: 4 },
      { addr: iova(0x3000), len: 4 },
    ];
    expect(ctx.writeSg(sg, Uint8Array.of(1, 2, 3, 4, 5, 6))).toEqual({
      result: 'ok',
      transferred: 6,
      residual: 2,
    });
    expect([...ram.bytes!.subarray(0x3000, 0x3004)]).toEqual([5, 6, 0, 0]);
    const into = new Uint8Array(10);
    expect(ctx.readSg(sg, into)).toEqual({ result: 'ok', transferred: 8, residual: 0 });
    expect([...into]).toEqual([1, 2, 3, 4, 5, 6, 0, 0, 0, 0]);
  });

  it('stops at a fault in the middle of the list', () => {
    const { ctx, registry, addMmu } = setup();
    const mmu = addMmu();
    registry.bind({ bus: 'pci.0' }, 'mmu');
    mmu().map(0x10000, 0x5000);
    const sg = [
      { addr: iova(0x10ff0), len: 0x20 },
      { addr: iova(0x10000), len: 0x10 },
    ];
    const r = ctx.readSg(sg, new Uint8Array(0x30));
    expect(r).toEqual({
      result: { result: 'iommu-fault', reason: 'not-present', addr: 0x11000, completed: 0x10 },
      transferred: 0x10,
      residual: 0x20,
    });
  });
});

describe('map and release', () => {
  it('maps RAM zero-copy: writes through the view are guest writes', () => {
    const { ctx, ram } = setup();
    const m = ctx.map(iova(0x4000), 0x100, 'write') as DmaMapping;
    expect(m.direct).toBe(true);
    expect(m.shortfall).toBe(0);
    m.bytes[0] = 0x99;
    expect(ram.bytes![0x4000]).toBe(0x99);
    expect(m.release(1)).toBe('ok');
    expect(m.release(1)).toBe('ok');
  });

  it('maps less than asked at the end of RAM; the rest is a shortfall', () => {
    const { ctx } = setup();
    const m = ctx.map(iova(16 * MiB - 0x10), 0x100, 'read') as DmaMapping;
    expect(m.bytes.length).toBe(0x10);
    expect(m.shortfall).toBe(0xf0);
    m.release(0);
  });

  it('extends a mapping over contiguous IOMMU pages and stops at a discontinuity', () => {
    const { ctx, registry, addMmu } = setup();
    const mmu = addMmu();
    registry.bind({ bus: 'pci.0' }, 'mmu');
    mmu().map(0x10000, 0x5000);
    mmu().map(0x11000, 0x6000);
    mmu().map(0x12000, 0x9000);
    const m = ctx.map(iova(0x10800), 0x2000, 'read') as DmaMapping;
    expect(m.bytes.length).toBe(0x1800);
    expect(m.shortfall).toBe(0x800);
    m.release(0);
  });

  it('bounces MMIO targets: the read is copied at map time, writes reach it at release', () => {
    const { ms, system, ctx } = setup();
    const dev = mmio(ms, 'bar', 0x100, { valid: { max: 8 }, impl: { max: 8 } });
    dev.regs.set([1, 2, 3, 4], 0x10);
    system.addSubregion(dev.region, 0xe0000000);
    const r = ctx.map(iova(0xe0000010), 4, 'read') as DmaMapping;
    expect(r.direct).toBe(false);
    expect([...r.bytes]).toEqual([1, 2, 3, 4]);
    r.release(0);
    const w = ctx.map(iova(0xe0000020), 8, 'write') as DmaMapping;
    w.bytes.set([9, 8, 7, 6, 5, 4, 3, 2]);
    expect(dev.regs[0x20]).toBe(0);
    expect(w.release(4)).toBe('ok');
    expect([...dev.regs.subarray(0x20, 0x28)]).toEqual([9, 8, 7, 6, 0, 0, 0, 0]);
  });

  it('bounds bounce buffers per address space, while copying DMA never fails for budget', () => {
    const { ms, system, ctx } = setup({ bounceLimit: 0x100 });
    const dev = mmio(ms, 'bar', 0x1000, { valid: { max: 8 }, impl: { max: 8 } });
    system.addSubregion(dev.region, 0xe0000000);
    const a = ctx.map(iova(0xe0000000), 0x80, 'read') as DmaMapping;
    const b = ctx.map(iova(0xe0000100), 0x100, 'read') as DmaMapping;
    expect(b.bytes.length).toBe(0x80);
    expect(b.shortfall).toBe(0x80);
    expect(ctx.map(iova(0xe0000400), 4, 'read')).toMatchObject({ result: 'bounce-exhausted' });
    expect(ctx.read(iova(0xe0000000), new Uint8Array(0x800))).toBe('ok');
    a.release(0);
    b.release(0);
    expect((ctx.map(iova(0xe0000400), 4, 'read') as DmaMapping).bytes.length).toBe(4);
  });

  it('invalidates a live mapping when its translation is removed, and tells the holder', () => {
    const { ctx, dev, mmu } = setupTranslated();
    mmu().map(0x10000, 0x5000);
    mmu().map(0x20000, 0xe0000000);
    const told: DmaMapping[] = [];
    const m = ctx.map(iova(0x10000), 0x100, 'write', (x) => told.push(x)) as DmaMapping;
    const bounce = ctx.map(iova(0x20000), 4, 'write') as DmaMapping;
    const other = ctx.map(iova(0x10800), 0x10, 'read') as DmaMapping;
    mmu().unmap(0x10000);
    mmu().unmap(0x20000);
    mmu().host.invalidate({ iova: iova(0x10000), len: 0x800 });
    expect(told).toEqual([m]);
    expect(m.valid).toBe(false);
    expect(other.valid).toBe(true);
    expect(m.release(0x100)).toMatchObject({ result: 'revoked' });
    mmu().host.invalidate({ iova: iova(0x20000), len: 4 });
    bounce.bytes.fill(0xab);
    expect(bounce.release(4)).toMatchObject({ result: 'revoked' });
    expect(dev.regs[0]).toBe(0);
  });

  it('hands live mappings from one holder to the next (hot reload); orphans are released', () => {
    const { ctx, dev, mmu } = setupTranslated({ bounceLimit: 0x100 });
    mmu().map(0x10000, 0x5000);
    mmu().map(0x11000, 0x9000);
    mmu().map(0x20000, 0xe0000000);
    const oldTold: DmaMapping[] = [];
    const ring = ctx.map(iova(0x10000), 0x100, 'write', (x) => oldTold.push(x)) as DmaMapping;
    const bounce = ctx.map(iova(0x20000), 0x100, 'write') as DmaMapping;
    const stale = ctx.map(iova(0x11000), 0x10, 'read') as DmaMapping;
    bounce.bytes.set([5, 6, 7, 8]);

    // The holder goes; one mapping is invalidated while nobody holds it: nobody is told.
    ctx.disownMappings();
    mmu().unmap(0x11000);
    mmu().host.invalidate({ iova: iova(0x11000), len: 0x1000 });
    expect(stale.valid).toBe(false);

    const newTold: DmaMapping[] = [];
    const adopted = ctx.adoptMappings((x) => newTold.push(x));
    // The invalid orphan is not handed over but released; the bounce budget is kept for the others.
    // (Identity, not deep equality: a failing diff would print 16 MiB views of RAM.)
    const same = (a: readonly DmaMapping[], b: DmaMapping[]) =>
      a.length === b.length && a.every((x, i) => x === b[i]);
    expect(same(adopted, [ring, bounce])).toBe(true);
    expect(ctx.mappings.size).toBe(2);
    expect(ctx.adoptMappings().length).toBe(0);
    expect(ctx.releaseOrphans()).toBe(0);

    // Invalidation now reaches the new holder, never the old one.
    mmu().unmap(0x10000);
    mmu().host.invalidate({ iova: iova(0x10000), len: 0x100 });
    expect(same(newTold, [ring])).toBe(true);
    expect(oldTold.length).toBe(0);
    // A bounce buffer carries what the old holder wrote to the new one's release.
    expect(bounce.release(4)).toBe('ok');
    expect([...dev.regs.subarray(0, 4)]).toEqual([5, 6, 7, 8]);

    // Nobody adopts: released, writing nothing, and the bounce budget comes back.
    const again = ctx.map(iova(0x20000), 0x100, 'write') as DmaMapping;
    again.bytes.fill(0xee);
    ctx.disownMappings();
    expect(ctx.releaseOrphans()).toBe(2);
    expect(ctx.mappings.size).toBe(0);
    expect(dev.regs[0x10]).toBe(0);
    expect((ctx.map(iova(0x20000), 0x100, 'read') as DmaMapping).bytes.length).toBe(0x100);
  });
});

describe('binding IOMMUs', () => {
  it('the most specific binding wins: device, then requester-ID range, then bus', () => {
    const { registry, addMmu } = setup();
    addMmu('bus-mmu');
    addMmu('range-mmu');
    addMmu('dev-mmu');
    const a = registry.createContext({ device: 'a', bus: 'pci.0', requesterId: 0x08 });
    const b = registry.createContext({ device: 'b', bus: 'pci.0', requesterId: 0x20 });
    const c = registry.createContext({ device: 'c', bus: 'pci.1', requesterId: 0x20 });
    registry.bind({ bus: 'pci.0' }, 'bus-mmu');
    registry.bind({ bus: 'pci.0', requesterIds: [0x18, 0x2f] }, 'range-mmu');
    registry.bind({ device: 'a' }, 'dev-mmu');
    expect([a.iommu?.name, b.iommu?.name, c.iommu]).toEqual(['dev-mmu', 'range-mmu', null]);
    registry.bind({ device: 'a' }, null);
    expect(a.iommu).toBeNull();
    registry.unbind({ device: 'a' });
    expect(a.iommu?.name).toBe('bus-mmu');
    expect(() => registry.bind({ bus: 'pci.0' }, 'nope')).toThrow(/E_UNKNOWN_ID/);
    expect(() =>
      registry.addIommu('bus-mmu', () => ({
        translate: () => ({ kind: 'fault', reason: 'blocked' as never }),
      })),
    ).toThrow(/E_DUPLICATE_ID/);
  });

  it('swapping keeps the device’s handle valid; mappings that still land in place survive', () => {
    const { ctx, ram, registry, addMmu, hooks } = setup();
    const first = addMmu('first');
    const second = addMmu('second');
    first().map(0x10000, 0x5000);
    first().map(0x11000, 0x6000);
    second().map(0x10000, 0x5000);
    second().map(0x11000, 0x9000);
    const rebinds: unknown[] = [];
    hooks.iommu.rebind.tap('t', (e) => void rebinds.push(e));
    registry.bind({ bus: 'pci.0' }, 'first');
    const same = ctx.map(iova(0x10000), 0x100, 'write') as DmaMapping;
    const moved = ctx.map(iova(0x11000), 0x100, 'write') as DmaMapping;
    registry.bind({ bus: 'pci.0' }, 'second');
    expect([same.valid, moved.valid]).toEqual([true, false]);
    expect(ctx.writeU8(iova(0x11000), 0x77)).toBe('ok');
    expect(ram.bytes![0x9000]).toBe(0x77);
    registry.bind({ bus: 'pci.0' }, null);
    expect(same.valid).toBe(false);
    expect(ctx.writeU8(iova(0x11000), 0x66)).toBe('ok');
    expect(ram.bytes![0x11000]).toBe(0x66);
    expect(rebinds).toEqual([
      { device: 'dev0', requesterId: 0x10, from: null, to: 'first', revokedMappings: 0 },
      { device: 'dev0', requesterId: 0x10, from: 'first', to: 'second', revokedMappings: 1 },
      { device: 'dev0', requesterId: 0x10, from: 'second', to: null, revokedMappings: 1 },
    ]);
  });
});

describe('tracing', () => {
  it('reports each translated piece with who, IOVA, translated address, length and result', () => {
    const { ctx, registry, addMmu, hooks } = setup();
    const mmu = addMmu();
    registry.bind({ bus: 'pci.0' }, 'mmu');
    mmu().map(0x10000, 0x5000);
    mmu().map(0x11000, 0x3000);
    const events: DmaTraceEvent[] = [];
    hooks.dma.transfer.tap('t', (e) => void events.push(e));
    ctx.read(iova(0x10ff0), new Uint8Array(0x20));
    expect(events).toEqual([
      {
        device: 'dev0',
        requesterId: 0x10,
        access: 'read',
        iova: 0x10ff0,
        translated: 0x5ff0,
        len: 0x10,
        result: 'ok',
        iommu: 'mmu',
      },
      {
        device: 'dev0',
        requesterId: 0x10,
        access: 'read',
        iova: 0x11000,
        translated: 0x3000,
        len: 0x10,
        result: 'ok',
        iommu: 'mmu',
      },
    ]);
  });
});
