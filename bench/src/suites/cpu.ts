/**
 * The CPU suite: the rv64 plugin (loaded as a bundle at the trusted level, as `-cpu rv64`
 * runs) on bare machines: 64 MiB of RAM at 0x80000000 and a sifive,test exit device.
 *
 * - `cpu.mips`, `cpu.mips.fp`: the C workloads in bench/guest (int.elf: loads, stores,
 *   branches, ALU, multiply, calls; fp.elf: double-precision arithmetic through the exact
 *   softfloat), each run whole on a fresh machine (its code compiled as it gets hot, as a
 *   guest's would be) after one untimed run that warms the realm's JavaScript; the median of
 *   the timed runs. MIPS are host wall-clock: a loaded machine lowers them.
 * - `cpu.ratio.qemu`: emuhost's MIPS over QEMU's on int.elf, where `qemu-system-riscv64` is on
 *   PATH (QEMU's time on nop.elf, its startup, subtracted).
 * - `cpu.tlb.hit.ns`: a guest loop of 8-byte loads that hit the soft TLB (tier 2), per load,
 *   and as a ratio to a raw typed-array load timed in the same rounds.
 * - `cpu.regs.*`: a 64-bit add/shift/compare kernel with the three register representations
 *   the issue asked to measure (BigInt, int32 halves, doubles): the figure behind the choice of
 *   int32 halves for the interpreter (doubles are inexact past 2^53, so they are a bound).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createMachine, type Machine } from '@emuhost/core';
import { addCpu, type LoadedPlugin, loadBundled, PluginHost } from '@emuhost/host';
import type { GuestPhysAddr } from '@emuhost/sdk';
import type { BenchCase } from '../harness.js';
import { costRatio, type Metric } from '../metrics.js';
import type { Suite } from '../suite.js';

/** bench/guest, found from this file upwards (it may run from a bundle in node_modules). */
function guestDir(): string {
  for (let d = import.meta.dirname; ; d = dirname(d)) {
    if (existsSync(join(d, 'bench/guest/int.elf'))) return join(d, 'bench/guest');
    if (existsSync(join(d, 'guest/int.elf'))) return join(d, 'guest');
    if (dirname(d) === d) throw new Error('cpu suite: bench/guest not found');
  }
}

const GUEST = guestDir();
const RAM_BASE = 0x80000000;
const RAM_SIZE = 64 << 20;
const TEST_DEV = 0x100000;
const TIMED_RUNS = 3;

interface ElfImage {
  readonly entry: number;
  readonly segments: readonly { addr: number; data: Uint8Array }[];
}

/** The PT_LOAD segments of a little-endian ELF64 file (all the bench ELFs need). */
function readElf(file: string): ElfImage {
  const b = new Uint8Array(readFileSync(file));
  const d = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (d.getUint32(0) !== 0x7f454c46 || b[4] !== 2) throw new Error(`${file}: not an ELF64 file`);
  const phoff = Number(d.getBigUint64(32, true));
  const phentsize = d.getUint16(54, true);
  const segments = [];
  for (let i = 0; i < d.getUint16(56, true); i++) {
    const p = phoff + i * phentsize;
    if (d.getUint32(p, true) !== 1) continue;
    const off = Number(d.getBigUint64(p + 8, true));
    const filesz = Number(d.getBigUint64(p + 32, true));
    if (filesz > 0)
      segments.push({
        addr: Number(d.getBigUint64(p + 24, true)),
        data: b.subarray(off, off + filesz),
      });
  }
  return { entry: Number(d.getBigUint64(24, true)), segments };
}

interface Bare {
  readonly m: Machine;
  exitCode: number | undefined;
}

/** A bare machine running `plugin` from `entry`, with `image` loaded. */
function bare(plugin: LoadedPlugin, image: ElfImage, jit = true): Bare {
  const m = createMachine({ name: 'bench-cpu', wasmRam: true });
  const state: Bare = { m, exitCode: undefined };
  m.systemMemory.addSubregion(m.memorySystem.createRam('ram', RAM_SIZE), RAM_BASE);
  const test = m.memorySystem.createMmio('sifive-test', 0x1000, {
    read: () => 0,
    write: (offset, _size, value) => {
      const v = Number(value);
      if (offset !== 0) return undefined;
      if ((v & 0xffff) === 0x5555) state.exitCode = 0;
      else if ((v & 0xffff) === 0x3333) state.exitCode = v >>> 16;
      if (state.exitCode !== undefined) m.cpus.stop();
      return undefined;
    },
  });
  m.systemMemory.addSubregion(test, TEST_DEV);
  for (const s of image.segments) m.memory.loadImage(s.addr as GuestPhysAddr, s.data);
  addCpu(m, plugin, { id: 'cpu0', index: 0, props: { resetvec: image.entry, jit } });
  return state;
}

interface WorkloadRun {
  readonly exitCode: number | undefined;
  readonly instructions: number;
  readonly ms: number;
  /** CPU time of the process (every thread: compilers, GC) over the run. */
  readonly cpuMs: number;
}

function runWorkload(plugin: LoadedPlugin, image: ElfImage): WorkloadRun {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const b = bare(plugin, image);
  while (b.exitCode === undefined) {
    const out = b.m.cpus.run({ untilNs: b.m.clock.now + 100_000_000 });
    if (out.reason === 'idle') break;
  }
  const c = process.cpuUsage(c0);
  return {
    exitCode: b.exitCode,
    instructions: b.m.cpus.instructions,
    ms: performance.now() - t0,
    cpuMs: (c.user + c.system) / 1000,
  };
}

const medianOf = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** MIPS of a workload: a warm-up run, then the median of TIMED_RUNS fresh machines. */
function mips(plugin: LoadedPlugin, file: string, expectExit: number) {
  const image = readElf(join(GUEST, file));
  const runs: WorkloadRun[] = [];
  for (let i = 0; i <= TIMED_RUNS; i++) {
    const r = runWorkload(plugin, image);
    if (r.exitCode !== expectExit)
      throw new Error(`cpu suite: ${file} exited with ${r.exitCode}, not ${expectExit}`);
    if (i > 0) runs.push(r);
  }
  const value = medianOf(runs.map((r) => r.instructions / r.ms / 1000));
  const cpu = medianOf(runs.map((r) => r.instructions / r.cpuMs / 1000));
  return { value, cpu, instructions: runs[0]!.instructions };
}

/** QEMU's MIPS on a workload, or undefined where QEMU is not installed. */
function qemuMips(file: string, instructions: number, expectExit: number): number | undefined {
  const time = (elf: string, exit: number): number | undefined => {
    const ts: number[] = [];
    for (let i = 0; i < TIMED_RUNS; i++) {
      const t0 = performance.now();
      const r = spawnSync(
        'qemu-system-riscv64',
        [
          '-M',
          'virt',
          '-bios',
          'none',
          '-kernel',
          join(GUEST, elf),
          '-nographic',
          '-display',
          'none',
        ],
        { stdio: 'ignore', timeout: 120_000 },
      );
      if (r.error !== undefined) return undefined;
      if (r.status !== exit) throw new Error(`cpu suite: QEMU exited ${r.status} on ${elf}`);
      ts.push(performance.now() - t0);
    }
    return Math.min(...ts);
  };
  const startup = time('nop.elf', 0);
  if (startup === undefined) return undefined;
  const total = time(file, expectExit)!;
  return instructions / Math.max(total - startup, 1) / 1000;
}

// ---- the soft TLB: a guest loop of loads --------------------------------------------------

const LOADS = 32;
const itype = (op: number, f3: number, rd: number, rs1: number, imm: number) =>
  ((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;

/** `auipc a0, 0x10`; then forever: 32 `ld` from a0 (TLB hits after the first) and a jump back. */
function loadLoop(): ElfImage {
  const words = [0x00010517]; // auipc a0, 0x10: a0 = 0x80010000
  for (let i = 0; i < LOADS; i++) words.push(itype(0x03, 3, 5 + (i % 3), 10, (i * 8) & 0x7ff));
  const back = -4 * LOADS;
  // jal x0, back: J-type immediate bits [20|10:1|11|19:12].
  const j =
    (((back >>> 20) & 1) << 31) |
    (((back >>> 1) & 0x3ff) << 21) |
    (((back >>> 11) & 1) << 20) |
    (((back >>> 12) & 0xff) << 12) |
    0x6f;
  words.push(j);
  const data = new Uint8Array(new Int32Array(words).buffer);
  return { entry: RAM_BASE, segments: [{ addr: RAM_BASE, data }] };
}

// ---- register representations ---------------------------------------------------------------

const KERNEL_N = 64;
const TWO64 = 2 ** 64;
const seedValues = Array.from({ length: KERNEL_N }, (_, i) => i * 0x9e3779b9 + 12345);

/** The kernel: x = x + y; y = x >> 3 (logical); count x < y (unsigned). */
function regsCases(): BenchCase[] {
  const bigs = seedValues.map((v) => BigInt.asUintN(64, BigInt(v) << 20n));
  const halves = new Int32Array(KERNEL_N * 2);
  bigs.forEach((b, i) => {
    halves[2 * i] = Number(b & 0xffffffffn) | 0;
    halves[2 * i + 1] = Number(b >> 32n) | 0;
  });
  const doubles = Float64Array.from(seedValues);
  return [
    {
      name: 'regs.bigint',
      inner: KERNEL_N,
      run(n) {
        let c = 0;
        for (let k = 0; k < n; k++) {
          const i = k % KERNEL_N;
          const x = BigInt.asUintN(64, bigs[i]! + bigs[(i + 1) % KERNEL_N]!);
          const y = x >> 3n;
          if (x < y) c++;
          bigs[i] = y;
        }
        return c;
      },
    },
    {
      name: 'regs.halves',
      inner: KERNEL_N,
      run(n) {
        let c = 0;
        const h = halves;
        for (let k = 0; k < n; k++) {
          const i = k % KERNEL_N;
          const j = (i + 1) % KERNEL_N;
          const al = h[2 * i]!;
          const l = (al + h[2 * j]!) | 0;
          const u = (h[2 * i + 1]! + h[2 * j + 1]! + (l >>> 0 < al >>> 0 ? 1 : 0)) | 0;
          const yl = (l >>> 3) | (u << 29);
          const yu = u >>> 3;
          if (u >>> 0 < yu >>> 0 || (u === yu && l >>> 0 < yl >>> 0)) c++;
          h[2 * i] = yl;
          h[2 * i + 1] = yu;
        }
        return c;
      },
    },
    {
      name: 'regs.double',
      inner: KERNEL_N,
      run(n) {
        let c = 0;
        const d = doubles;
        for (let k = 0; k < n; k++) {
          const i = k % KERNEL_N;
          const x = (d[i]! + d[(i + 1) % KERNEL_N]!) % TWO64;
          const y = Math.floor(x / 8);
          if (x < y) c++;
          d[i] = y;
        }
        return c;
      },
    },
  ];
}

export const cpuSuite: Suite = {
  name: 'cpu',
  async run(ctx) {
    const host = new PluginHost();
    const plugin = await loadBundled(host, 'rv64', 'trusted');
    const out: Metric[] = [];

    ctx.log('int.elf: a warm-up run, then fresh machines');
    const int = mips(plugin, 'int.elf', 211);
    out.push({
      name: 'cpu.mips',
      value: int.value,
      unit: 'MIPS',
      better: 'higher',
      target: 150,
      detail: `bench/guest/int.elf, ${int.instructions} instructions, whole run on a fresh machine (tier 2 compiles as code gets hot), median of ${TIMED_RUNS}`,
    });
    out.push({
      name: 'cpu.mips.cputime',
      value: int.cpu,
      unit: 'MIPS',
      better: 'higher',
      detail:
        'cpu.mips over the CPU time of the process (all its threads) instead of wall time: what a machine loaded by other work does not lower',
    });
    ctx.log('fp.elf');
    const fp = mips(plugin, 'fp.elf', 161);
    out.push({
      name: 'cpu.mips.fp',
      value: fp.value,
      unit: 'MIPS',
      better: 'higher',
      detail: `bench/guest/fp.elf, ${fp.instructions} instructions; FP arithmetic through the exact softfloat (JavaScript)`,
    });

    ctx.log('QEMU on int.elf (if installed)');
    const q = qemuMips('int.elf', int.instructions, 211);
    if (q !== undefined)
      out.push({
        name: 'cpu.ratio.qemu',
        value: int.value / q,
        unit: 'ratio',
        better: 'higher',
        detail: `emuhost MIPS / qemu-system-riscv64 (TCG) MIPS on int.elf; QEMU ${q.toFixed(0)} MIPS, its startup (nop.elf) subtracted`,
      });
    else ctx.log('qemu-system-riscv64 not found: no cpu.ratio.qemu');

    ctx.log('soft TLB: a guest loop of loads, and register representations');
    const loop = bare(plugin, loadLoop());
    const perIteration = LOADS + 1;
    const raw = new Int32Array(LOADS * 2);
    const t = ctx.measure([
      {
        name: 'tlb.guest',
        inner: perIteration * 1000,
        run(n) {
          loop.m.cpus.run({ untilNs: loop.m.clock.now + n });
          return loop.m.cpus.instructions | 0;
        },
      },
      {
        name: 'tlb.raw',
        inner: LOADS * 1000,
        run(n) {
          let s = 0;
          for (let i = 0; i < n; i++) s = (s + raw[(i * 2) & (LOADS * 2 - 1)]!) | 0;
          return s;
        },
      },
      ...regsCases(),
    ]);
    out.push(
      {
        name: 'cpu.tlb.hit.ns',
        value: t.ns('tlb.guest'),
        unit: 'ns/op',
        better: 'lower',
        detail: `ns per instruction of a guest loop of ${LOADS} TLB-hitting ld and a jal (tier 2)`,
      },
      {
        name: 'cpu.tlb.hit.ratio',
        value: t.paired(costRatio, 'tlb.guest', 'tlb.raw'),
        unit: 'ratio',
        better: 'lower',
        detail: 'cpu.tlb.hit.ns over a raw Int32Array load in a JavaScript loop',
      },
      {
        name: 'cpu.regs.halves.ns',
        value: t.ns('regs.halves'),
        unit: 'ns/op',
        better: 'lower',
        detail:
          '64-bit add, logical shift, unsigned compare on int32 halves (the representation used)',
      },
      {
        name: 'cpu.regs.bigint.ratio',
        value: t.paired(costRatio, 'regs.bigint', 'regs.halves'),
        unit: 'ratio',
        better: 'lower',
        detail: 'the same kernel on BigInt (BigInt.asUintN per result), over int32 halves',
      },
      {
        name: 'cpu.regs.double.ratio',
        value: t.paired(costRatio, 'regs.double', 'regs.halves'),
        unit: 'ratio',
        better: 'lower',
        detail: 'the same kernel on doubles (inexact past 2^53: a lower bound), over int32 halves',
      },
    );
    return out;
  },
};
