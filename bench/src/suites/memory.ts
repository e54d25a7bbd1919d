/**
 * The memory suite: the per-access paths of `AddressSpace` (core/src/memory), each against
 * the raw JavaScript operation it wraps, timed in the same run.
 *
 * - Bulk RAM read/write vs `Uint8Array.prototype.set` of the same bytes: the copy is the
 *   natural limit, so the ratio says how much of it the address-space layer leaves.
 * - 4-byte RAM load vs `DataView.getUint32` on the same bytes.
 * - 4-byte MMIO load vs calling the device's read callback directly, with 1, 10 and 1,000
 *   regions mapped; with many, accesses go round-robin so the most-recently-used range
 *   misses every time and the flat view's binary search runs.
 *
 * Baseline and ours always touch the same memory at the same addresses in the same order,
 * so neither gets a cache or branch-prediction advantage the other cannot have. They are
 * always separate function literals: V8 keeps type feedback per literal, and a shared loop
 * would make the baseline pay for the polymorphism of ours (or the reverse).
 *
 * All cases share `AddressSpace.load`, and the MMIO ones use addresses above 2^30, which V8
 * cannot keep as small integers. The harness primes every case before timing any, so the
 * RAM load is timed in that mixed state too, as it runs in a machine that has both.
 */
import { type AddressSpace, CPU_ATTRS, createMemorySystem, DeviceGuard } from '@emuhost/core';
import type { MmioAccessRules, MmioOps } from '@emuhost/sdk';
import type { BenchCase } from '../harness.js';
import { costRatio, type Metric, speedRatio } from '../metrics.js';
import type { Suite } from '../suite.js';

const MiB = 1 << 20;
const RAM_SIZE = 64 * MiB;

/**
 * Where bulk accesses go, cycled per operation: 4K-aligned, spread over RAM (different pages,
 * different 2 MiB regions) but few enough to stay cached, since the point is our overhead
 * around the copy, not DRAM bandwidth.
 */
const RAM_ADDRS: readonly number[] = [0, 1, 2, 3, 4, 5, 6, 7].map((k) => k * 8 * MiB + k * 4096);
const ADDR_MASK = RAM_ADDRS.length - 1;

/** Where the 4-byte RAM loads go: every aligned word of one page, in turn. */
const LOAD_BASE = RAM_ADDRS[3]!;
const PAGE_MASK = 0xfff;

/** Targets: copies within 80% of the raw copy, MMIO dispatch within 5x a direct call. */
const COPY_TARGET = 0.8;
const DISPATCH_TARGET = 5;

/** One iteration of each kind lasts tens of microseconds (see BenchCase.inner). */
const INNER_4K = 256;
const INNER_64K = 16;
const INNER_SMALL = 10_000;

const MMIO_BASE = 0xfe00_0000;
const MMIO_SIZE = 0x1000;
/** Regions leave holes between them, as real maps do; holes do not become ranges. */
const MMIO_STRIDE = 0x2000;
/** A typical block of 32-bit registers. */
const MMIO_RULES: MmioAccessRules = {
  valid: { min: 4, max: 4 },
  impl: { min: 4, max: 4 },
  endianness: 'little',
};
/** The device has 16 registers; offsets cycle through them. */
const REG_OFFSET_MASK = 0x3f;

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`memory suite: ${what}; timing it would time an error path`);
}

/** 64 MiB of RAM at 0 in a 4 GiB space, filled with a pattern. */
function ramMachine() {
  const ms = createMemorySystem();
  const root = ms.createContainer('system', 2 ** 32);
  const ram = ms.createRam('ram', RAM_SIZE);
  root.addSubregion(ram, 0);
  const as = ms.createAddressSpace<number>('memory', root);
  const bytes = ram.bytes!;
  // Writing every word also faults every page in now, so neither side pays first-touch
  // page faults while timed (a fresh Uint8Array is lazily mapped zero pages).
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  for (let i = 0; i < words.length; i++) words[i] = Math.imul(i, 0x9e3779b1);
  return { as, bytes };
}

function readCases(as: AddressSpace<number>, bytes: Uint8Array, size: number, inner: number) {
  const dst = new Uint8Array(size);
  // The baseline copies from views made up front: the fastest a copy out of guest RAM can
  // be. `AddressSpace.read` has to make its view per call.
  const views = RAM_ADDRS.map((a) => bytes.subarray(a, a + size));
  for (let k = 0; k < RAM_ADDRS.length; k++) {
    const r = as.read(RAM_ADDRS[k]!, dst);
    check(r === 'ok' && dst.every((b, i) => b === views[k]![i]), `read of ${size} bytes`);
  }
  const baseline: BenchCase = {
    name: `ram.read.${size}.baseline`,
    inner,
    run(n) {
      let s = 0;
      for (let i = 0; i < n; i++) {
        dst.set(views[i & ADDR_MASK]!);
        s = (s + dst[i & 0xff]!) | 0;
      }
      return s;
    },
  };
  const ours: BenchCase = {
    name: `ram.read.${size}.ours`,
    inner,
    run(n) {
      let s = 0;
      for (let i = 0; i < n; i++) {
        const r = as.read(RAM_ADDRS[i & ADDR_MASK]!, dst);
        s = (s + dst[i & 0xff]! + (r === 'ok' ? 0 : 1)) | 0;
      }
      return s;
    },
  };
  return [baseline, ours];
}

function writeCases(as: AddressSpace<number>, bytes: Uint8Array, size: number, inner: number) {
  const src = new Uint8Array(size).map((_, i) => i * 7);
  check(
    as.write(RAM_ADDRS[1]!, src) === 'ok' && bytes[RAM_ADDRS[1]! + size - 1] === src[size - 1],
    `write of ${size} bytes`,
  );
  const baseline: BenchCase = {
    name: `ram.write.${size}.baseline`,
    inner,
    run(n) {
      let s = 0;
      for (let i = 0; i < n; i++) {
        const a = RAM_ADDRS[i & ADDR_MASK]!;
        bytes.set(src, a);
        s = (s + bytes[a + (i & 0xff)]!) | 0;
      }
      return s;
    },
  };
  const ours: BenchCase = {
    name: `ram.write.${size}.ours`,
    inner,
    run(n) {
      let s = 0;
      for (let i = 0; i < n; i++) {
        const a = RAM_ADDRS[i & ADDR_MASK]!;
        const r = as.write(a, src);
        s = (s + bytes[a + (i & 0xff)]! + (r === 'ok' ? 0 : 1)) | 0;
      }
      return s;
    },
  };
  return [baseline, ours];
}

function load32Cases(as: AddressSpace<number>, bytes: Uint8Array) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  check(as.load(LOAD_BASE + 8, 4, 'little') === dv.getUint32(LOAD_BASE + 8, true), 'RAM load');
  const baseline: BenchCase = {
    name: 'ram.load32.baseline',
    inner: INNER_SMALL,
    run(n) {
      let s = 0;
      for (let i = 0; i < n; i++) {
        s = (s + dv.getUint32(LOAD_BASE + ((i << 2) & PAGE_MASK), true)) | 0;
      }
      return s;
    },
  };
  const ours: BenchCase = {
    name: 'ram.load32.ours',
    inner: INNER_SMALL,
    run(n) {
      let s = 0;
      for (let i = 0; i < n; i++) {
        // The typeof test is part of the cost: every caller must tell a value from an error.
        const v = as.load(LOAD_BASE + ((i << 2) & PAGE_MASK), 4, 'little');
        s = (s + (typeof v === 'number' ? v : -1)) | 0;
      }
      return s;
    },
  };
  return [baseline, ours];
}

/**
 * A device whose read does real work the optimizer must keep: it returns a register,
 * chosen by offset, from its own small register file.
 */
function makeDevice(seed: number): MmioOps {
  const regs = new Uint32Array(16);
  for (let i = 0; i < regs.length; i++) regs[i] = Math.imul(seed + 1, 0x9e3779b1 + i) >>> 0;
  return {
    read: (offset) => regs[(offset >>> 2) & 15]!,
    write: (offset, _size, value) => {
      regs[(offset >>> 2) & 15] = Number(value);
      return 'ok';
    },
  };
}

/**
 * `count` MMIO regions of 4 KiB, each its own device behind its own guard (as every real
 * device is), mapped at MMIO_BASE with holes between them.
 */
function mmioMachine(count: number) {
  const ms = createMemorySystem();
  const root = ms.createContainer('system', 2 ** 32);
  const devices: MmioOps[] = [];
  const bases: number[] = [];
  // One transaction: a re-render per region would make setup quadratic.
  ms.transaction(() => {
    for (let i = 0; i < count; i++) {
      const name = `dev${i}`;
      const ops = makeDevice(i);
      const guard = new DeviceGuard(name, ms.hooks);
      const base = MMIO_BASE + i * MMIO_STRIDE;
      root.addSubregion(ms.createMmio(name, MMIO_SIZE, ops, MMIO_RULES, { guard }), base);
      devices.push(ops);
      bases.push(base);
    }
  });
  const as = ms.createAddressSpace<number>('memory', root);
  for (let j = 0; j < count; j += Math.max(1, count >> 3)) {
    const want = devices[j]!.read(12, 4, CPU_ATTRS);
    check(as.load(bases[j]! + 12, 4, 'little') === want, `MMIO load from dev${j}`);
  }
  return { as, devices, bases };
}

/**
 * MMIO loads from one region, and direct calls of its read callback, over its registers in
 * turn. Its own function literals, not the round-robin ones below: the direct call should be
 * the best a caller can do, a call site that only ever sees this one callback. V8 then
 * inlines the callback into the loop, so the baseline is about one typed-array load; that
 * is what a direct call costs, and the ratio includes what dispatch loses by not inlining.
 */
function singleDispatchCases(): BenchCase[] {
  const { as, devices, bases } = mmioMachine(1);
  const dev = devices[0]!;
  const base = bases[0]!;
  const direct: BenchCase = {
    name: 'mmio.1.direct',
    inner: INNER_SMALL,
    run(n) {
      let s = 0;
      for (let i = 0; i < n; i++) {
        const v = dev.read((i << 2) & REG_OFFSET_MASK, 4, CPU_ATTRS);
        s = (s + (typeof v === 'number' ? v : -1)) | 0;
      }
      return s;
    },
  };
  const ours: BenchCase = {
    name: 'mmio.1.ours',
    inner: INNER_SMALL,
    run(n) {
      let s = 0;
      for (let i = 0; i < n; i++) {
        const v = as.load(base + ((i << 2) & REG_OFFSET_MASK), 4, 'little');
        s = (s + (typeof v === 'number' ? v : -1)) | 0;
      }
      return s;
    },
  };
  return [direct, ours];
}

/**
 * MMIO loads over `count` regions visited round-robin, so consecutive loads never hit the
 * same range, and the same sequence of direct callback calls. The direct side visits the
 * same devices in the same order, so both pay the same for touching many register files.
 */
function roundRobinDispatchCases(count: number, withDirect: boolean): BenchCase[] {
  const { as, devices, bases } = mmioMachine(count);
  const direct: BenchCase = {
    name: `mmio.${count}.direct`,
    inner: INNER_SMALL,
    run(n) {
      let s = 0;
      let j = 0;
      for (let i = 0; i < n; i++) {
        const v = devices[j]!.read((i << 2) & REG_OFFSET_MASK, 4, CPU_ATTRS);
        s = (s + (typeof v === 'number' ? v : -1)) | 0;
        if (++j === count) j = 0;
      }
      return s;
    },
  };
  const ours: BenchCase = {
    name: `mmio.${count}.ours`,
    inner: INNER_SMALL,
    run(n) {
      let s = 0;
      let j = 0;
      for (let i = 0; i < n; i++) {
        const v = as.load(bases[j]! + ((i << 2) & REG_OFFSET_MASK), 4, 'little');
        s = (s + (typeof v === 'number' ? v : -1)) | 0;
        if (++j === count) j = 0;
      }
      return s;
    },
  };
  return withDirect ? [direct, ours] : [ours];
}

export const memorySuite: Suite = {
  name: 'memory',
  run(ctx) {
    ctx.log('building a 64 MiB RAM machine and MMIO machines of 1, 10 and 1000 regions');
    const { as, bytes } = ramMachine();
    const t = ctx.measure([
      ...readCases(as, bytes, 4096, INNER_4K),
      ...writeCases(as, bytes, 4096, INNER_4K),
      ...readCases(as, bytes, 65536, INNER_64K),
      ...load32Cases(as, bytes),
      ...singleDispatchCases(),
      ...roundRobinDispatchCases(10, false),
      ...roundRobinDispatchCases(1000, true),
    ]);
    const copy = (name: string, what: string, size: number): Metric => ({
      name,
      value: t.paired(speedRatio, `ram.${what}.${size}.baseline`, `ram.${what}.${size}.ours`),
      unit: 'ratio',
      better: 'higher',
      target: COPY_TARGET,
      detail: `Uint8Array.set ns / AddressSpace.${what} ns, ${size / 1024} KiB`,
    });
    return [
      copy('mem.ram.read.4k.ratio', 'read', 4096),
      copy('mem.ram.write.4k.ratio', 'write', 4096),
      copy('mem.ram.read.64k.ratio', 'read', 65536),
      {
        name: 'mem.ram.load32.ns',
        value: t.ns('ram.load32.ours'),
        unit: 'ns/op',
        better: 'lower',
        detail: 'AddressSpace.load(addr, 4) on RAM',
      },
      {
        name: 'mem.ram.load32.ratio',
        value: t.paired(costRatio, 'ram.load32.ours', 'ram.load32.baseline'),
        unit: 'ratio',
        better: 'lower',
        detail: 'AddressSpace.load ns / DataView.getUint32 ns',
      },
      {
        name: 'mem.mmio.dispatch.ns',
        value: t.ns('mmio.1.ours'),
        unit: 'ns/op',
        better: 'lower',
        detail: 'AddressSpace.load(addr, 4) on MMIO, 1 region',
      },
      {
        name: 'mem.mmio.dispatch.ratio',
        value: t.paired(costRatio, 'mmio.1.ours', 'mmio.1.direct'),
        unit: 'ratio',
        better: 'lower',
        target: DISPATCH_TARGET,
        detail: 'AddressSpace.load ns / direct read() ns, 1 region',
      },
      {
        name: 'mem.mmio.dispatch.10regions.ns',
        value: t.ns('mmio.10.ours'),
        unit: 'ns/op',
        better: 'lower',
        detail: 'same, 10 regions round-robin (MRU misses)',
      },
      {
        name: 'mem.mmio.dispatch.1000regions.ns',
        value: t.ns('mmio.1000.ours'),
        unit: 'ns/op',
        better: 'lower',
        detail: 'same, 1000 regions round-robin (MRU misses)',
      },
      {
        name: 'mem.mmio.dispatch.1000regions.ratio',
        value: t.paired(costRatio, 'mmio.1000.ours', 'mmio.1000.direct'),
        unit: 'ratio',
        better: 'lower',
        detail: 'AddressSpace.load ns / direct read() ns, 1000 regions round-robin',
      },
    ];
  },
};
