/**
 * The iommu suite: the IOMMU plugins that ship in plugins/ (vtd, tce), loaded as bundled
 * plugins at the trusted level into bare machines, with their tables programmed in guest RAM
 * the way a guest driver does. Device DMA goes through contexts made straight from the
 * kernel's DMA registry (what a PCI device on pci.0 gets), so no device model is timed.
 *
 * - A translation that misses the kernel's IOTLB, as in the dma suite: `readU64LE` round-robin
 *   over twice as many pages as the IOTLB holds, so every access misses and the model walks
 *   its tables (VT-d: context-cache hit, then a 3-level second-level walk; TCE: one table
 *   entry). Against the same 8-byte read of the same bytes with no IOMMU.
 * - VT-d with the root and context entries read too: a device-selective context-cache
 *   invalidation (one 4-byte CCMD write) before every access, minus that write timed alone.
 * - A 4 KiB read through VT-d with the IOTLB warm, against `Uint8Array.prototype.set`.
 *
 * VT-d is programmed with @emuhost/testing's guest driver (`VtdGuest`), as its own tests do.
 * The RISC-V IOMMU's cases (the same miss walk and warm 4 KiB read) are in iommu-riscv.ts.
 */
import type { DmaContextImpl } from '@emuhost/core';
import { bareMachine, Emulator, type LoadedPlugin, loadBundled, PluginHost } from '@emuhost/host';
import { type GuestPhysAddr, type Iova, iova } from '@emuhost/sdk';
import { createDriver, VTD_BASE, VTD_REGS, VtdGuest } from '@emuhost/testing';
import type { BenchCase } from '../harness.js';
import { costRatio, type Metric, speedRatio } from '../metrics.js';
import type { Suite } from '../suite.js';
import {
  RISCV_MISS_IOVA_BASE,
  riscvMachine,
  riscvMissCase,
  riscvReadCases,
} from './iommu-riscv.js';

const MiB = 1 << 20;
const RAM_SIZE = 64 * MiB;
const PAGE = 4096;
const BENCH_BUS = 'pci.0';
/** No IOMMU is bound to this bus: its contexts are identity. */
const IDENTITY_BUS = 'bench.identity';

/** Data pages for the warm 4 KiB reads: 4K-aligned, spread over the low 16 MiB. */
const READ_GPAS: readonly number[] = [0, 1, 2, 3, 4, 5, 6, 7].map((k) => k * 2 * MiB + k * PAGE);
const READ_MASK = READ_GPAS.length - 1;
/** Their IOVAs under VT-d: contiguous pages just below 4 GiB (clear of 0xFEEx_xxxx). */
const READ_IOVA_BASE = 0xfff0_0000;
/** The miss walks' IOVA window (VT-d); each page lands every 16 KiB in the low 16 MiB. */
const MISS_IOVA_BASE = 0x1_0000_0000;
const MISS_GPA_STRIDE = 16 * 1024;
/** The TCE window is [0, 1 GiB) by default; the miss walk maps pages from 256 MiB. */
const TCE_IOVA_BASE = 0x1000_0000;
/** Tables (VT-d root, context and page tables; the TCE table) from 32 MiB up. */
const TABLES_BASE = 32 * MiB;

/** Offsets of the 8-byte loads inside a page: `i & LOAD_OFF_MASK` visits every aligned one. */
const LOAD_OFF_MASK = 0xff8;
/** One iteration of each kind lasts tens of microseconds or more (see BenchCase.inner). */
const INNER_4K = 256;

/** Requester ids (bus 0): warm IOTLB, round-robin misses, context-cache misses. */
const RID_HIT = 0x08;
const RID_MISS = 0x10;
const RID_COLD = 0x18;
const DID = 1;

/** The dma suite's target for a 4 KiB read through an IOMMU with the IOTLB warm. */
const IOMMU_COPY_TARGET = 0.6;

// VT-d status bits (VT-d spec 10.4); the registers are @emuhost/testing's VTD_REGS.
const GSTS_TES = 0x80000000;
const FSTS_PPF = 0x2;
/** CCMD high half: ICC (bit 63) and CIRG = 3 (device-selective, bits 62:61), FM = 0. */
const CCMD_HI_DEVICE_INVALIDATE = (0x80000000 | (3 << 29)) >>> 0;

// TCE registers (plugins/tce/src/index.ts).
const TCE_BASE = 0xfed80000;
const TCE_WINDOW = 0x4000_0000;

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`iommu suite: ${what}; timing it would time an error path`);
}

/** A pattern in every word, which also faults every page in before anything is timed. */
function fillPattern(bytes: Uint8Array): void {
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  for (let i = 0; i < words.length; i++) words[i] = Math.imul(i ^ 0x5bd1e995, 0x9e3779b1);
}

const equalBytes = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** A bare machine with patterned RAM, its RAM bytes and a driver; tables from 32 MiB up. */
function bareRig() {
  const emu = new Emulator({ machine: bareMachine(), ramSize: RAM_SIZE, log: () => {} });
  const ram = emu.machine.memory.findRange(0 as GuestPhysAddr, false);
  check(ram?.bytes != null && ram.start === 0 && ram.end >= RAM_SIZE, 'RAM at 0');
  const bytes = ram!.bytes!.subarray(0, RAM_SIZE);
  fillPattern(bytes);
  const d = createDriver(emu);
  let next = TABLES_BASE;
  const alloc = (size: number) => {
    const a = next;
    next += Math.ceil(size / PAGE) * PAGE;
    check(next <= RAM_SIZE, 'tables fit in RAM');
    bytes.fill(0, a, next);
    return a;
  };
  const identity = emu.machine.dma.createContext({
    device: 'bench-identity',
    bus: IDENTITY_BUS,
    requesterId: 0,
  });
  check(identity.iommu === null, 'the identity context has no IOMMU');
  return { emu, bytes, d, alloc, identity };
}

/** The miss walks' pages: IOVA offsets from the window base and where each lands. */
function missPages(capacity: number) {
  // Twice the IOTLB's capacity: FIFO eviction then always drops the page needed next.
  const pages = 2 * capacity;
  check(pages * MISS_GPA_STRIDE <= TABLES_BASE, 'the miss walk fits below the tables');
  return Array.from({ length: pages }, (_, j) => ({ off: j * PAGE, gpa: j * MISS_GPA_STRIDE }));
}

// ---- VT-d -------------------------------------------------------------------------------

function vtdMachine(plugin: LoadedPlugin) {
  const rig = bareRig();
  const { emu, d } = rig;
  emu.addIommu(plugin, { id: 'vtd0' });
  emu.machine.dma.bind({ bus: BENCH_BUS }, 'vtd0');
  const ctx = (device: string, requesterId: number) =>
    emu.machine.dma.createContext({ device, bus: BENCH_BUS, requesterId });
  const hit = ctx('bench-vtd-hit', RID_HIT);
  const miss = ctx('bench-vtd-miss', RID_MISS);
  const cold = ctx('bench-vtd-cold', RID_COLD);
  check(hit.iommu?.name === 'vtd0' && miss.iommu === hit.iommu, 'contexts bound to vtd0');

  // Programmed as a guest driver does: root table latched (SRTP), translation on (TE), then
  // one context entry per requester and read-only 4 KiB pages, each change invalidated.
  const g = new VtdGuest(d, rig.alloc);
  g.init();
  check((g.readl(VTD_REGS.GSTS) & GSTS_TES) !== 0, 'VT-d translation enabled (GSTS.TES)');
  for (const rid of [RID_HIT, RID_MISS, RID_COLD]) g.attach(rid, DID);
  for (let k = 0; k < READ_GPAS.length; k++)
    g.map(DID, READ_IOVA_BASE + k * PAGE, READ_GPAS[k]!, 'read');
  const pages = missPages(miss.iotlb.capacity);
  for (const p of pages) g.map(DID, MISS_IOVA_BASE + p.off, p.gpa, 'read');
  const reg = (o: number) => VTD_BASE + o;
  // CCMD's low half (DID, SID) persists; writing the high half alone runs the command.
  d.writel(reg(VTD_REGS.CCMD), (RID_COLD << 16) | DID);
  const noFaults = () => (g.readl(VTD_REGS.FSTS) & FSTS_PPF) === 0;
  return {
    ...rig,
    hit,
    miss,
    cold,
    pages,
    ccmdHi: reg(VTD_REGS.CCMD + 4) as GuestPhysAddr,
    noFaults,
  };
}

// ---- TCE --------------------------------------------------------------------------------

function tceMachine(plugin: LoadedPlugin) {
  const rig = bareRig();
  const { emu, d } = rig;
  emu.addIommu(plugin, { id: 'tce0' });
  emu.machine.dma.bind({ bus: BENCH_BUS }, 'tce0');
  const miss = emu.machine.dma.createContext({
    device: 'bench-tce-miss',
    bus: BENCH_BUS,
    requesterId: RID_MISS,
  });
  check(miss.iommu?.name === 'tce0', 'context bound to tce0');
  check(d.readl(TCE_BASE + 0x28) === TCE_WINDOW && d.readl(TCE_BASE + 0x30) === 12, 'TCE window');
  const table = rig.alloc((TCE_WINDOW / PAGE) * 8);
  d.writel(TCE_BASE + 0x00, table);
  d.writel(TCE_BASE + 0x04, 0);
  const pages = missPages(miss.iotlb.capacity);
  // H_PUT_TCE(ioba, gpa | TCE_PCI_READ) through the register block, as the tce tests do.
  for (const p of pages) {
    d.writel(TCE_BASE + 0x08, TCE_IOVA_BASE + p.off);
    d.writel(TCE_BASE + 0x0c, 0);
    d.writel(TCE_BASE + 0x10, p.gpa | 1);
    d.writel(TCE_BASE + 0x14, 0);
    d.writel(TCE_BASE + 0x18, 1);
    check(d.readl(TCE_BASE + 0x1c) === 0, `H_PUT_TCE of page ${p.off / PAGE}`);
  }
  return { ...rig, miss, pages };
}

// ---- cases ------------------------------------------------------------------------------

interface MissPage {
  readonly off: number;
  readonly gpa: number;
}

/** The same `readU64LE` at `base + page offset + i & LOAD_OFF_MASK`, round-robin over pages. */
function load64Case(
  name: string,
  ctx: DmaContextImpl,
  base: number,
  pages: readonly MissPage[],
  bySource: 'iova' | 'gpa',
): BenchCase {
  const addrs: Iova[] = pages.map((p) => iova(bySource === 'iova' ? base + p.off : p.gpa));
  const n0 = addrs.length;
  return {
    name,
    inner: n0,
    run(n) {
      let s = 0;
      let j = 0;
      for (let i = 0; i < n; i++) {
        const v = ctx.readU64LE(iova(addrs[j]! + (i & LOAD_OFF_MASK)));
        s = (s + (typeof v === 'bigint' ? Number(v & 0xffn) : -1)) | 0;
        if (++j === n0) j = 0;
      }
      return s;
    },
  };
}

/** Checks `readU64LE` through `ctx` at a sample of pages against the bytes at their GPAs. */
function checkLoads(
  what: string,
  ctx: DmaContextImpl,
  bytes: Uint8Array,
  base: number,
  pages: readonly MissPage[],
): void {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let j = 0; j < pages.length; j += 37) {
    const off = (j * 8) & LOAD_OFF_MASK;
    const p = pages[j]!;
    const v = ctx.readU64LE(iova(base + p.off + off));
    check(v === dv.getBigUint64(p.gpa + off, true), `${what} readU64LE at page ${j}`);
  }
  // Forget the checked pages, or the first walk would find them cached.
  ctx.flushIotlb();
}

/** 4 KiB reads through VT-d (IOTLB hits) and the raw copy of the same bytes. */
function vtdReadCases(ctx: DmaContextImpl, bytes: Uint8Array): BenchCase[] {
  const dst = new Uint8Array(PAGE);
  const views = READ_GPAS.map((a) => bytes.subarray(a, a + PAGE));
  const iovas = READ_GPAS.map((_, k) => iova(READ_IOVA_BASE + k * PAGE));
  for (let k = 0; k < READ_GPAS.length; k++) {
    const r = ctx.read(iovas[k]!, dst);
    check(r === 'ok' && equalBytes(dst, views[k]!), `VT-d DMA read of 4 KiB at page ${k}`);
  }
  return [
    {
      name: 'vtd.read.4096.baseline',
      inner: INNER_4K,
      run(n) {
        let s = 0;
        for (let i = 0; i < n; i++) {
          dst.set(views[i & READ_MASK]!);
          s = (s + dst[i & 0xff]!) | 0;
        }
        return s;
      },
    },
    {
      name: 'vtd.read.4096.ours',
      inner: INNER_4K,
      run(n) {
        let s = 0;
        for (let i = 0; i < n; i++) {
          const r = ctx.read(iovas[i & READ_MASK]!, dst);
          s = (s + dst[i & 0xff]! + (r === 'ok' ? 0 : 1)) | 0;
        }
        return s;
      },
    },
  ];
}

/**
 * VT-d misses with the context cache cold: a device-selective context-cache invalidation
 * (CCMD, 4-byte MMIO write of the high half) before each access, which also drops the
 * requester's IOTLB; and the invalidation alone, to subtract.
 */
function vtdColdCases(v: ReturnType<typeof vtdMachine>, pages: readonly MissPage[]): BenchCase[] {
  const as = v.emu.machine.memory;
  const { cold, ccmdHi } = v;
  const addrs: Iova[] = pages.map((p) => iova(MISS_IOVA_BASE + p.off));
  const n0 = addrs.length;
  const dv = new DataView(v.bytes.buffer, v.bytes.byteOffset, v.bytes.byteLength);
  for (let j = 0; j < n0; j += 101) {
    check(as.store(ccmdHi, 4, CCMD_HI_DEVICE_INVALIDATE) === 'ok', 'CCMD write');
    check(cold.iotlb.size === 0, 'CCMD dropped the IOTLB of the requester');
    const v64 = cold.readU64LE(addrs[j]!);
    check(v64 === dv.getBigUint64(pages[j]!.gpa, true), `cold VT-d readU64LE at page ${j}`);
  }
  return [
    {
      name: 'vtd.ccmd',
      inner: n0,
      run(n) {
        let s = 0;
        for (let i = 0; i < n; i++) {
          const r = as.store(ccmdHi, 4, CCMD_HI_DEVICE_INVALIDATE);
          s = (s + (r === 'ok' ? 1 : 0)) | 0;
        }
        return s;
      },
    },
    {
      name: 'vtd.ccmd+miss.load64',
      inner: n0,
      run(n) {
        let s = 0;
        let j = 0;
        for (let i = 0; i < n; i++) {
          const r = as.store(ccmdHi, 4, CCMD_HI_DEVICE_INVALIDATE);
          const x = cold.readU64LE(iova(addrs[j]! + (i & LOAD_OFF_MASK)));
          s = (s + (typeof x === 'bigint' ? Number(x & 0xffn) : -1) + (r === 'ok' ? 0 : 1)) | 0;
          if (++j === n0) j = 0;
        }
        return s;
      },
    },
  ];
}

export const iommuPluginsSuite: Suite = {
  name: 'iommu',
  async run(ctx) {
    ctx.log('building and loading the bundled vtd, tce and riscv-iommu plugins (trusted)');
    const host = new PluginHost();
    const vtdPlugin = await loadBundled(host, 'vtd', 'trusted');
    const tcePlugin = await loadBundled(host, 'tce', 'trusted');
    const riscvPlugin = await loadBundled(host, 'riscv-iommu', 'trusted');

    ctx.log('bare machines with 64 MiB of RAM: vtd0 (3-level tables), tce0 (flat table)');
    const v = vtdMachine(vtdPlugin);
    const t = tceMachine(tcePlugin);
    const missIotlb = v.miss.iotlb.capacity;
    const rr = bareRig();
    const rv = riscvMachine(rr.emu, rr.d, riscvPlugin, BENCH_BUS, rr.alloc, v.pages, READ_GPAS);

    checkLoads(
      'identity',
      v.identity,
      v.bytes,
      0,
      v.pages.map((p) => ({ off: p.gpa, gpa: p.gpa })),
    );
    checkLoads('VT-d', v.miss, v.bytes, MISS_IOVA_BASE, v.pages);
    checkLoads('TCE', t.miss, t.bytes, TCE_IOVA_BASE, t.pages);
    checkLoads('RISC-V IOMMU', rv.miss, rr.bytes, RISCV_MISS_IOVA_BASE, v.pages);
    const cases = [
      ...riscvReadCases(rv.hit, rr.bytes, READ_GPAS),
      riscvMissCase(rv.miss, v.pages),
      ...vtdReadCases(v.hit, v.bytes),
      load64Case('identity.load64', v.identity, 0, v.pages, 'gpa'),
      load64Case('vtd.miss.load64', v.miss, MISS_IOVA_BASE, v.pages, 'iova'),
      ...vtdColdCases(v, v.pages),
      load64Case('tce.miss.load64', t.miss, TCE_IOVA_BASE, t.pages, 'iova'),
    ];
    check(v.noFaults(), 'VT-d recorded no fault while checking');
    const hitBefore = v.hit.iotlb.stats();
    const coldBefore = v.cold.iotlb.stats();
    const m = ctx.measure(cases);

    // What the cases claimed about the IOTLBs held while they ran.
    const hitAfter = v.hit.iotlb.stats();
    check(hitAfter.misses === hitBefore.misses, 'warm VT-d reads never missed the IOTLB');
    check(hitAfter.hits > hitBefore.hits, 'warm VT-d reads hit the IOTLB');
    for (const [what, c] of [
      ['VT-d', v.miss],
      ['TCE', t.miss],
      ['RISC-V IOMMU', rv.miss],
    ] as const) {
      const s = c.iotlb.stats();
      check(s.hits === 0 && s.misses > s.capacity, `the ${what} miss walk never hit the IOTLB`);
    }
    const coldAfter = v.cold.iotlb.stats();
    check(
      coldAfter.hits === coldBefore.hits && coldAfter.misses > coldBefore.misses,
      'the cold VT-d walk never hit the IOTLB',
    );
    check(v.noFaults(), 'VT-d recorded no fault while timed');
    check(rv.noFaults(), 'the RISC-V IOMMU recorded no fault');
    check(rv.hit.iotlb.stats().misses === READ_GPAS.length, 'warm RISC-V reads hit the IOTLB');

    const walk = `${v.pages.length} pages round-robin, ${missIotlb}-entry IOTLB`;
    const coldNs = m.paired((a, b) => a - b, 'vtd.ccmd+miss.load64', 'vtd.ccmd');
    const metrics: Metric[] = [
      {
        name: 'vtd.translate.miss.ns',
        value: m.ns('vtd.miss.load64'),
        unit: 'ns/op',
        better: 'lower',
        detail: `readU64LE via VT-d missing the IOTLB (${walk}): kernel lookup+evict+insert, context-cache hit, 3-level walk (3 table reads), the 8-byte load`,
      },
      {
        name: 'vtd.translate.miss.ratio',
        value: m.paired(costRatio, 'vtd.miss.load64', 'identity.load64'),
        unit: 'ratio',
        better: 'lower',
        detail: 'VT-d IOTLB-miss readU64LE ns / identity (no IOMMU) readU64LE ns, same bytes',
      },
      {
        name: 'vtd.translate.miss.nocontext.ns',
        value: coldNs,
        unit: 'ns/op',
        better: 'lower',
        detail:
          'as vtd.translate.miss.ns with the context cache cold too (root + context entry + 3 levels): CCMD device invalidation + readU64LE, minus the CCMD write alone',
      },
      {
        name: 'vtd.translate.miss.nocontext.ratio',
        value: costRatio(coldNs, m.ns('identity.load64')),
        unit: 'ratio',
        better: 'lower',
        detail: 'vtd.translate.miss.nocontext.ns / identity (no IOMMU) readU64LE ns',
      },
      {
        name: 'dma.vtd.read.4k.ratio',
        value: m.paired(speedRatio, 'vtd.read.4096.baseline', 'vtd.read.4096.ours'),
        unit: 'ratio',
        better: 'higher',
        target: IOMMU_COPY_TARGET,
        detail: 'Uint8Array.set ns / DMAContext.read ns, 4 KiB via VT-d, IOTLB hits',
      },
      {
        name: 'riscv-iommu.translate.miss.ns',
        value: m.ns('riscv-iommu.miss.load64'),
        unit: 'ns/op',
        better: 'lower',
        detail: `readU64LE via the RISC-V IOMMU missing the IOTLB (${walk}): kernel lookup+evict+insert, device-context cache hit (3-level DDT), Sv39 walk (3 PTE reads), the 8-byte load`,
      },
      {
        name: 'riscv-iommu.translate.miss.ratio',
        value: m.paired(costRatio, 'riscv-iommu.miss.load64', 'identity.load64'),
        unit: 'ratio',
        better: 'lower',
        detail:
          'RISC-V IOMMU IOTLB-miss readU64LE ns / identity (no IOMMU) readU64LE ns, same bytes',
      },
      {
        name: 'dma.riscv-iommu.read.4k.ratio',
        value: m.paired(speedRatio, 'riscv-iommu.read.4096.baseline', 'riscv-iommu.read.4096.ours'),
        unit: 'ratio',
        better: 'higher',
        target: IOMMU_COPY_TARGET,
        detail: 'Uint8Array.set ns / DMAContext.read ns, 4 KiB via the RISC-V IOMMU, IOTLB hits',
      },
      {
        name: 'tce.translate.miss.ns',
        value: m.ns('tce.miss.load64'),
        unit: 'ns/op',
        better: 'lower',
        detail: `readU64LE via TCE missing the IOTLB (${walk}): kernel lookup+evict+insert, one big-endian table entry read, the 8-byte load`,
      },
      {
        name: 'tce.translate.miss.ratio',
        value: m.paired(costRatio, 'tce.miss.load64', 'identity.load64'),
        unit: 'ratio',
        better: 'lower',
        detail: 'TCE IOTLB-miss readU64LE ns / identity (no IOMMU) readU64LE ns, same bytes',
      },
    ];
    return metrics;
  },
};
