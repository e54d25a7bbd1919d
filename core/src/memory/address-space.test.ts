import { EmuhostError } from '@emuhost/sdk';
import { describe, expect, it } from 'vitest';
import { DeviceGuard } from '../guard.js';
import { createKernelHooks, type DeviceFaultEvent, type ReentrancyEvent } from '../hooks.js';
import type { AddressSpace } from './address-space.js';
import { createMemorySystem, type MemorySystem } from './memory-system.js';
import { formatMtree } from './mtree.js';
import { mmio } from './test-util.js';

function machine(size = 0x10000) {
  const ms = createMemorySystem();
  const root = ms.createContainer('root', size);
  const as = ms.createAddressSpace<number>('memory', root);
  return { ms, root, as };
}

const bytes = (...b: number[]) => Uint8Array.from(b);

function readBytes(as: AddressSpace<number>, addr: number, len: number) {
  const b = new Uint8Array(len);
  const r = as.read(addr, b);
  return { r, b: [...b] };
}

describe('region tree rendering', () => {
  it('a higher-priority region hides a lower one; equal priority: the newest wins', () => {
    const { ms, root, as } = machine();
    const low = ms.createRam('low', 0x1000);
    const high = ms.createRam('high', 0x100);
    const tie = ms.createRam('tie', 0x100);
    root.addSubregion(low, 0, { priority: 0 });
    root.addSubregion(high, 0x800, { priority: 1 });
    root.addSubregion(tie, 0x100, { priority: 0 });
    expect(as.findRange(0x850, false)?.region.name).toBe('high');
    expect(as.findRange(0x150, false)?.region.name).toBe('tie');
    expect(as.findRange(0x50, false)?.region.name).toBe('low');
    expect(as.findRange(0x900, false)?.region.name).toBe('low');
  });

  it('a hole in a higher-priority container shows the region below it', () => {
    const { ms, root, as } = machine();
    const ram = ms.createRam('ram', 0x1000);
    const pci = ms.createContainer('pci-hole', 0x1000);
    const bar = ms.createRam('bar', 0x100);
    pci.addSubregion(bar, 0x200);
    root.addSubregion(ram, 0);
    root.addSubregion(pci, 0, { priority: 1 });
    expect(as.findRange(0x250, false)?.region.name).toBe('bar');
    expect(as.findRange(0x100, false)?.region.name).toBe('ram');
    expect(as.findRange(0x300, false)?.region.name).toBe('ram');
  });

  it('subregions are clipped to their container', () => {
    const { ms, root, as } = machine();
    const c = ms.createContainer('c', 0x100);
    c.addSubregion(ms.createRam('big', 0x1000), 0x80);
    root.addSubregion(c, 0x1000);
    expect(as.findRange(0x10ff, false)?.region.name).toBe('big');
    expect(as.findRange(0x1100, false)).toBeNull();
  });

  it('an alias is a window onto another region at an offset; writes reach the target', () => {
    const { ms, root, as } = machine();
    const ram = ms.createRam('ram', 0x1000);
    root.addSubregion(ram, 0);
    root.addSubregion(ms.createAlias('hi-alias', ram, 0x800, 0x100), 0x8000);
    expect(as.write(0x8010, bytes(1, 2, 3))).toBe('ok');
    expect([...ram.bytes!.subarray(0x810, 0x813)]).toEqual([1, 2, 3]);
    expect(readBytes(as, 0x810, 3)).toEqual({ r: 'ok', b: [1, 2, 3] });
    const r = as.findRange(0x8010, true)!;
    expect(r.regionOffset + (0x8010 - r.start)).toBe(0x810);
  });

  it('an alias of a container sees the container’s subregions', () => {
    const { ms, root, as } = machine();
    const c = ms.createContainer('c', 0x1000);
    c.addSubregion(ms.createRam('inner', 0x100), 0x400);
    root.addSubregion(ms.createAlias('ca', c, 0x300, 0x300), 0x2000);
    expect(as.findRange(0x2100, false)?.region.name).toBe('inner');
    expect(as.findRange(0x2050, false)).toBeNull();
  });

  it('disabling, moving and re-prioritizing regions re-renders', () => {
    const { ms, root, as } = machine();
    const a = ms.createRam('a', 0x100);
    const b = ms.createRam('b', 0x100);
    root.addSubregion(a, 0);
    root.addSubregion(b, 0, { priority: 1 });
    expect(as.findRange(0, false)?.region.name).toBe('b');
    b.setEnabled(false);
    expect(as.findRange(0, false)?.region.name).toBe('a');
    b.setEnabled(true);
    b.setPriority(-1);
    expect(as.findRange(0, false)?.region.name).toBe('a');
    a.setOffset(0x1000);
    expect(as.findRange(0, false)?.region.name).toBe('b');
    expect(as.findRange(0x1000, false)?.region.name).toBe('a');
    root.removeSubregion(b);
    expect(as.findRange(0, false)).toBeNull();
  });

  it('a transaction renders once, at its end, even when it throws', () => {
    const { ms, root, as } = machine();
    const v0 = as.version;
    ms.transaction(() => {
      root.addSubregion(ms.createRam('a', 0x100), 0);
      root.addSubregion(ms.createRam('b', 0x100), 0x100);
      expect(as.version).toBe(v0);
    });
    expect(as.version).toBe(v0 + 1);
    expect(() =>
      ms.transaction(() => {
        root.addSubregion(ms.createRam('c', 0x100), 0x200);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(as.findRange(0x200, false)?.region.name).toBe('c');
  });

  it('read-only and write-only decoding route the two directions independently', () => {
    // The PAM pattern: RAM visible for reads only over a device that still takes the writes.
    const { ms, root, as } = machine();
    const dev = mmio(ms, 'rom-side', 0x100, { impl: { min: 1, max: 4 } });
    const ram = ms.createRam('ram', 0x100);
    root.addSubregion(dev.region, 0);
    const shadow = ms.createAlias('shadow', ram, 0, 0x100);
    shadow.setDecodes('read');
    root.addSubregion(shadow, 0, { priority: 1 });
    ram.bytes![0] = 0x5a;
    expect(as.load(0, 1)).toBe(0x5a);
    expect(as.store(0, 1, 0x77)).toBe('ok');
    expect(ram.bytes![0]).toBe(0x5a);
    expect(dev.regs[0]).toBe(0x77);
    shadow.setDecodes('write');
    expect(as.store(1, 1, 0x66)).toBe('ok');
    expect(ram.bytes![1]).toBe(0x66);
    expect(as.load(1, 1)).toBe(0);
    expect(formatMtree(as, { flat: true })).toContain('(writes)');
  });

  it('rejects misuse with typed errors', () => {
    const { ms, root } = machine();
    const r = ms.createRam('r', 0x100);
    root.addSubregion(r, 0);
    const codeOf = (f: () => void) => {
      try {
        f();
      } catch (e) {
        return (e as EmuhostError).code;
      }
      return 'no error';
    };
    expect(codeOf(() => root.addSubregion(r, 0x100))).toBe('E_REGION_IN_USE');
    expect(codeOf(() => root.removeSubregion(ms.createRam('x', 1)))).toBe('E_REGION_NOT_CHILD');
    expect(codeOf(() => ms.createRam('bad', 0))).toBe('E_REGION_SIZE');
    expect(codeOf(() => ms.createRam('bad', 1.5))).toBe('E_REGION_SIZE');
    expect(codeOf(() => r.setOffset(-1))).toBe('E_REGION_OFFSET');
    const c = ms.createContainer('c', 0x100);
    const loop = ms.createAlias('loop', c, 0, 0x100);
    expect(codeOf(() => c.addSubregion(loop, 0))).toBe('E_REGION_IN_USE');
    expect(
      codeOf(() => ms.createMmio('m', 4, mmio(ms, 'x', 4).ops, { impl: { max: 3 as 4 } })),
    ).toBe('E_ACCESS_RULES');
    const e = new EmuhostError('E_REGION_SIZE', 'x', {
      device: 'edu',
      addr: 0xe0000000,
      len: 0x100000,
    });
    expect(e.message).toContain('device edu, at 0xe0000000+0x100000');
  });
});

describe('access results', () => {
  it('unassigned addresses are decode errors that read as zero and lose nothing', () => {
    const { ms, root, as } = machine();
    const ram = ms.createRam('ram', 0x10);
    root.addSubregion(ram, 0x10);
    ram.bytes!.fill(0xaa);
    expect(readBytes(as, 0x8, 0x10)).toEqual({
      r: 'decode-error',
      b: [0, 0, 0, 0, 0, 0, 0, 0, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa],
    });
    expect(as.write(0x1c, bytes(1, 2, 3, 4, 5, 6, 7, 8))).toBe('decode-error');
    expect([...ram.bytes!.subarray(0xc)]).toEqual([1, 2, 3, 4]);
    expect(as.load(0x100, 4)).toBe('decode-error');
    expect(as.store(0x100, 4, 1)).toBe('decode-error');
    expect(as.load64(0x100)).toBe('decode-error');
  });

  it.each([
    ['2^53', 2 ** 53],
    ['negative', -4],
    ['NaN', Number.NaN],
    ['past the space', 0x10000],
  ])('an address %s is a decode error', (_, addr) => {
    const { ms, root, as } = machine();
    root.addSubregion(ms.createRam('ram', 0x10000), 0);
    expect(as.load(addr, 4)).toBe('decode-error');
    expect(as.read(addr, new Uint8Array(4))).toBe('decode-error');
    expect(as.store64(addr, 1n)).toBe('decode-error');
  });

  it('ROM reads its contents and ignores writes', () => {
    const { ms, root, as } = machine();
    root.addSubregion(ms.createRom('bios', bytes(1, 2, 3, 4, 5, 6, 7, 8)), 0x100);
    expect(as.store(0x100, 4, 0xffffffff)).toBe('ok');
    expect(as.write(0x104, bytes(9, 9))).toBe('ok');
    expect(as.fill(0x100, 0, 8)).toBe('ok');
    expect(as.load(0x100, 4)).toBe(0x04030201);
    expect(as.load64(0x100, 'big')).toBe(0x0102030405060708n);
  });

  it('loads and stores of every size and byte order round-trip through RAM', () => {
    const { ms, root, as } = machine();
    const ram = ms.createRam('ram', 0x100);
    root.addSubregion(ram, 0);
    as.store(0, 4, 0x11223344, 'little');
    expect([...ram.bytes!.subarray(0, 4)]).toEqual([0x44, 0x33, 0x22, 0x11]);
    as.store(4, 4, 0x11223344, 'big');
    expect([...ram.bytes!.subarray(4, 8)]).toEqual([0x11, 0x22, 0x33, 0x44]);
    as.store(8, 2, 0xbeef, 'big');
    expect(as.load(8, 2, 'little')).toBe(0xefbe);
    as.store64(16, 0x0102030405060708n);
    expect(as.load(16, 4)).toBe(0x05060708);
    expect(as.load64(16, 'big')).toBe(0x0807060504030201n);
    as.store(32, 1, 0x1ff);
    expect(as.load(32, 1)).toBe(0xff);
  });

  it('a typed load across two regions is assembled from both', () => {
    const { ms, root, as } = machine();
    const a = ms.createRam('a', 0x10);
    const b = ms.createRam('b', 0x10);
    root.addSubregion(a, 0);
    root.addSubregion(b, 0x10);
    a.bytes![0xe] = 0x11;
    a.bytes![0xf] = 0x22;
    b.bytes![0] = 0x33;
    b.bytes![1] = 0x44;
    expect(as.load(0xe, 4)).toBe(0x44332211);
    expect(as.store(0xe, 4, 0xaabbccdd)).toBe('ok');
    expect(b.bytes![1]).toBe(0xaa);
    expect(as.load64(0xc)).toBe(0x0000aabbccdd0000n);
  });

  it('fill covers RAM and MMIO, and a huge fill of unassigned space ends', () => {
    const { ms, root, as } = machine();
    const ram = ms.createRam('ram', 0x10);
    const dev = mmio(ms, 'dev', 0x10);
    root.addSubregion(ram, 0);
    root.addSubregion(dev.region, 0x10);
    expect(as.fill(0x8, 0x5a, 0x10)).toBe('ok');
    expect([...ram.bytes!.subarray(8)]).toEqual(Array(8).fill(0x5a));
    expect([...dev.regs.subarray(0, 8)]).toEqual(Array(8).fill(0x5a));
    expect(as.fill(0x1000, 0, 2 ** 40)).toBe('decode-error');
  });
});

describe('straddling loads', () => {
  it('assemble their pieces in a buffer of their own, even when a piece makes a load itself', () => {
    const { ms, root, as } = machine();
    const word = (v: number) => ({ read: () => v, write: () => undefined });
    const rules = { valid: { min: 1, max: 4 }, impl: { min: 4, max: 4 } } as const;
    // 0x1004, the second piece, answers 0x22222222 after straddling loads of its own (of two
    // other regions), made while the first piece's bytes wait to be assembled.
    const nested = {
      read: () => {
        as.load(0x2002, 4);
        as.load64(0x2000);
        return 0x22222222;
      },
      write: () => undefined,
    };
    root.addSubregion(ms.createMmio('a', 4, word(0x11111111), rules), 0x1000);
    root.addSubregion(ms.createMmio('b', 4, nested, rules), 0x1004);
    root.addSubregion(ms.createMmio('c', 4, word(0xccccdddd), rules), 0x2000);
    root.addSubregion(ms.createMmio('d', 4, word(0xeeeeffff), rules), 0x2004);
    expect(as.load64(0x1000)).toBe(0x2222222211111111n);
    expect(as.load(0x1002, 4)).toBe(0x22221111);
  });
});

describe('MMIO access rules (QEMU MemoryRegionOps)', () => {
  it('calls the device once when it implements the size', () => {
    const { ms, root, as } = machine();
    const d = mmio(ms, 'd', 0x100, { impl: { min: 1, max: 8 }, valid: { max: 8 } });
    root.addSubregion(d.region, 0x1000);
    expect(as.store(0x1008, 4, 0xdeadbeef)).toBe('ok');
    expect(as.load(0x1008, 4)).toBe(0xdeadbeef);
    expect(as.load64(0x1008)).toBe(0xdeadbeefn);
    expect(d.calls).toEqual([
      { op: 'w', offset: 8, size: 4, value: 0xdeadbeef },
      { op: 'r', offset: 8, size: 4 },
      { op: 'r', offset: 8, size: 8 },
    ]);
  });

  it.each([
    [
      'little',
      [
        { op: 'r', offset: 0, size: 1 },
        { op: 'r', offset: 1, size: 1 },
      ],
      0x2211,
    ],
    [
      'big',
      [
        { op: 'r', offset: 0, size: 1 },
        { op: 'r', offset: 1, size: 1 },
      ],
      0x1122,
    ],
  ] as const)(
    'splits a 2-byte read for a 1-byte device (%s endian)',
    (endianness, calls, value) => {
      const { ms, root, as } = machine();
      const d = mmio(ms, 'd', 0x10, { impl: { max: 1 }, endianness });
      d.regs.set([0x11, 0x22]);
      root.addSubregion(d.region, 0);
      // The device answers each byte as a 1-byte value; the core combines them in the
      // region's byte order, and the guest reads it in its own (little) order.
      const v = as.load(0, 2, endianness);
      expect(d.calls).toEqual(calls);
      expect(v).toBe(endianness === 'little' ? value : 0x1122);
    },
  );

  it('splits an 8-byte access into 4-byte calls and combines them (little endian)', () => {
    const { ms, root, as } = machine();
    const d = mmio(ms, 'd', 0x10, {});
    root.addSubregion(d.region, 0);
    expect(as.store64(0, 0x1122334455667788n)).toBe('ok');
    expect(d.calls).toEqual([
      { op: 'w', offset: 0, size: 4, value: 0x55667788 },
      { op: 'w', offset: 4, size: 4, value: 0x11223344 },
    ]);
    expect(as.load64(0)).toBe(0x1122334455667788n);
  });

  it('splits an 8-byte access with the first piece most significant (big endian)', () => {
    const { ms, root, as } = machine();
    const d = mmio(ms, 'd', 0x10, { endianness: 'big' });
    root.addSubregion(d.region, 0);
    expect(as.store64(0, 0x1122334455667788n, 'big')).toBe('ok');
    expect(d.calls).toEqual([
      { op: 'w', offset: 0, size: 4, value: 0x11223344 },
      { op: 'w', offset: 4, size: 4, value: 0x55667788 },
    ]);
  });

  it('widens a narrow write with zeroes (no read-modify-write) and a narrow read', () => {
    const { ms, root, as } = machine();
    const d = mmio(ms, 'd', 0x10, { impl: { min: 4, max: 4 } });
    d.regs.set([0x11, 0x22, 0x33, 0x44, 0x55]);
    root.addSubregion(d.region, 0);
    expect(as.load(1, 1)).toBe(0x22);
    expect(as.store(0, 1, 0xab)).toBe('ok');
    expect(d.calls).toEqual([
      { op: 'r', offset: 1, size: 4 },
      { op: 'w', offset: 0, size: 4, value: 0xab },
    ]);
    expect([...d.regs.subarray(0, 4)]).toEqual([0xab, 0, 0, 0]);
  });

  it('widening a big-endian read keeps the bytes at the accessed address', () => {
    const { ms, root, as } = machine();
    const d = mmio(ms, 'd', 0x10, { impl: { min: 4 }, endianness: 'big' });
    // The recording device answers little-endian numbers; as a big-endian device its
    // 4-byte value 0x44332211 puts 0x44 at offset 0 of the widened access.
    d.regs.set([0x11, 0x22, 0x33, 0x44]);
    root.addSubregion(d.region, 0);
    expect(as.load(0, 1)).toBe(0x44);
    expect(as.load(0, 2, 'big')).toBe(0x4433);
  });

  it.each([
    ['too small', { valid: { min: 4 as const, max: 4 as const } }, 1, 0],
    ['too large', { valid: { min: 1 as const, max: 2 as const } }, 4, 0],
    ['unaligned', { valid: { max: 4 as const } }, 4, 2],
    ['refused by accepts', { valid: { accepts: (o: number) => o !== 8 } }, 4, 8],
  ])(
    'an access the guest may not make (%s) is an access error and never reaches the device',
    (_, rules, size, offset) => {
      const { ms, root, as } = machine();
      const d = mmio(ms, 'd', 0x10, rules);
      root.addSubregion(d.region, 0);
      expect(as.load(offset, size as 1 | 2 | 4)).toBe('access-error');
      expect(as.store(offset, size as 1 | 2 | 4, 1)).toBe('access-error');
      expect(d.calls).toEqual([]);
    },
  );

  it('allows any size when valid.max is unset, as QEMU does', () => {
    const { ms, root, as } = machine();
    const d = mmio(ms, 'd', 0x10, { valid: {} });
    root.addSubregion(d.region, 0);
    expect(as.load64(0)).toBe(0n);
    expect(d.calls.map((c) => c.size)).toEqual([4, 4]);
  });

  it('splits bulk accesses by valid.max and alignment (memory_access_size)', () => {
    const { ms, root, as } = machine();
    const d = mmio(ms, 'd', 0x20, { valid: { max: 8, unaligned: true }, impl: { max: 8 } });
    root.addSubregion(d.region, 0);
    expect(as.read(1, new Uint8Array(15))).toBe('ok');
    expect(d.calls.map((c) => [c.offset, c.size])).toEqual([
      [1, 1],
      [2, 2],
      [4, 4],
      [8, 8],
    ]);
  });

  it('a bulk read of a big-endian device lays its value out big-endian', () => {
    const { ms, root, as } = machine();
    const ops = { read: () => 0x11223344, write: () => undefined };
    root.addSubregion(ms.createMmio('be', 4, ops, { endianness: 'big' }), 0);
    expect(readBytes(as, 0, 4)).toEqual({ r: 'ok', b: [0x11, 0x22, 0x33, 0x44] });
    expect(as.load(0, 4, 'little')).toBe(0x44332211);
    expect(as.load(0, 4, 'big')).toBe(0x11223344);
  });

  it('a device can refuse an access', () => {
    const { ms, root, as } = machine();
    const ops = { read: () => 'access-error' as const, write: () => 'access-error' as const };
    root.addSubregion(ms.createMmio('no', 4, ops), 0);
    expect(as.load(0, 4)).toBe('access-error');
    expect(as.store(0, 4, 1)).toBe('access-error');
    expect(readBytes(as, 0, 4)).toEqual({ r: 'access-error', b: [0, 0, 0, 0] });
  });

  it('a region removed by its own callback is gone for the rest of a bulk access', () => {
    const { ms, root, as } = machine();
    let region = ms.createContainer('placeholder', 1);
    const ops = {
      read: (o: number) => {
        if (o === 0) root.removeSubregion(region);
        return 0x11;
      },
      write: () => undefined,
    };
    region = ms.createMmio('self-removing', 4, ops, { valid: { max: 1 } });
    root.addSubregion(region, 0);
    expect(readBytes(as, 0, 4)).toEqual({ r: 'ok', b: [0x11, 0x11, 0x11, 0x11] });
    expect(as.load(0, 1)).toBe('decode-error');
  });

  it('keeps port I/O in its own 64 KiB space', () => {
    const ms = createMemorySystem();
    const io = ms.createAddressSpace<number>('io', ms.createContainer('io', 0x10000));
    const d = mmio(ms, 'port', 4, { valid: { max: 4 } });
    io.root.addSubregion(d.region, 0xcf8);
    expect(io.store(0xcf8, 4, 0x80000000)).toBe('ok');
    expect(io.load(0xcf8, 4)).toBe(0x80000000);
    expect(io.load(0x10000, 1)).toBe('decode-error');
  });
});

describe('device guard', () => {
  function guarded(ms: MemorySystem) {
    const hooks = ms.hooks;
    const blocked: ReentrancyEvent[] = [];
    const faults: DeviceFaultEvent[] = [];
    hooks.guard.reentrancyBlocked.tap('test', (e) => void blocked.push(e));
    hooks.guard.deviceFault.tap('test', (e) => void faults.push(e));
    return { guard: new DeviceGuard('dev0', hooks), blocked, faults };
  }

  it('blocks a callback that reaches its own device again, and reports it', () => {
    const ms = createMemorySystem({ hooks: createKernelHooks() });
    const root = ms.createContainer('root', 0x1000);
    const as = ms.createAddressSpace<number>('memory', root);
    const { guard, blocked } = guarded(ms);
    let inner: unknown;
    const ops = {
      read: (o: number) => {
        if (o === 0) inner = as.load(4, 4);
        return 7;
      },
      write: () => undefined,
    };
    root.addSubregion(ms.createMmio('self', 8, ops, {}, { guard }), 0);
    expect(as.load(0, 4)).toBe(7);
    expect(inner).toBe('reentrancy-blocked');
    expect(blocked).toEqual([
      { device: 'dev0', via: 'mmio-read', at: { region: 'self', offset: 4 } },
    ]);
    expect(guard.engaged).toBe(false);
  });

  it('lets a region that opts out re-enter', () => {
    const ms = createMemorySystem();
    const root = ms.createContainer('root', 0x1000);
    const as = ms.createAddressSpace<number>('memory', root);
    const { guard } = guarded(ms);
    let inner: unknown;
    const ops = {
      read: (o: number) => {
        if (o === 0) inner = as.load(4, 4);
        return o + 1;
      },
      write: () => undefined,
    };
    root.addSubregion(ms.createMmio('self', 8, ops, {}, { guard, reentrant: true }), 0);
    expect(as.load(0, 4)).toBe(1);
    expect(inner).toBe(5);
    expect(guard.engaged).toBe(false);
  });

  it('quarantines a device whose callback throws; it then reads as absent (all ones)', () => {
    const ms = createMemorySystem();
    const root = ms.createContainer('root', 0x1000);
    const as = ms.createAddressSpace<number>('memory', root);
    const { guard, faults } = guarded(ms);
    const ram = ms.createRam('ram', 0x10);
    ram.bytes!.fill(0x33);
    const ops = {
      read: () => {
        throw new Error('device bug');
      },
      write: () => undefined,
    };
    root.addSubregion(ram, 0x10);
    root.addSubregion(ms.createMmio('buggy', 0x10, ops, {}, { guard }), 0);
    expect(as.load(0, 4)).toBe('device-fault');
    expect(faults).toHaveLength(1);
    expect(faults[0]).toMatchObject({
      device: 'dev0',
      site: 'mmio-read',
      at: { region: 'buggy', offset: 0 },
    });
    expect((faults[0]!.error as Error).message).toBe('device bug');
    expect(guard.quarantined).toBe(true);
    expect(as.store(0, 4, 1)).toBe('device-fault');
    expect(readBytes(as, 0xc, 8)).toEqual({
      r: 'device-fault',
      b: [0xff, 0xff, 0xff, 0xff, 0x33, 0x33, 0x33, 0x33],
    });
    guard.restart();
    expect(guard.quarantined).toBe(false);
  });

  it('guards timers and deferred work the same way', () => {
    const ms = createMemorySystem();
    const { guard, blocked, faults } = guarded(ms);
    let nested: boolean | undefined;
    expect(
      guard.run('timer', () => {
        nested = guard.run('deferred', () => {});
      }),
    ).toBe(true);
    expect(nested).toBe(false);
    expect(blocked[0]).toEqual({ device: 'dev0', via: 'deferred' });
    expect(
      guard.run('timer', () => {
        throw new Error('x');
      }),
    ).toBe(false);
    expect(faults[0]?.site).toBe('timer');
    expect(guard.run('timer', () => {})).toBe(false);
  });
});

describe('info mtree', () => {
  it('prints the tree with priorities and aliases, and the flattened view', () => {
    const { ms, root, as } = machine(0x100000);
    const ram = ms.createRam('pc.ram', 0x80000);
    root.addSubregion(ram, 0);
    root.addSubregion(ms.createAlias('ram-hi', ram, 0x1000, 0x1000), 0xf0000, { priority: 1 });
    expect(formatMtree(as)).toBe(
      [
        'address-space: memory',
        '  0000000000000000-00000000000fffff (prio 0, container): root',
        '    00000000000f0000-00000000000f0fff (prio 1, alias): ram-hi @pc.ram 0000000000001000-0000000000001fff',
        '    0000000000000000-000000000007ffff (prio 0, ram): pc.ram',
      ].join('\n'),
    );
    expect(formatMtree(as, { flat: true })).toBe(
      [
        'address-space: memory',
        '  0000000000000000-000000000007ffff (ram): pc.ram',
        '  00000000000f0000-00000000000f0fff (ram): pc.ram @0000000000001000',
      ].join('\n'),
    );
  });
});
