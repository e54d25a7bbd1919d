/**
 * The RISC-V IOMMU's part of the iommu suite: the riscv-iommu plugin in a bare machine,
 * programmed with @emuhost/testing's guest driver as Linux's driver does (a 3-level device
 * directory, one device context per requester with Sv39 page tables, read-only 4 KiB pages).
 *
 * - A translation that misses the kernel's IOTLB: `readU64LE` round-robin over twice as many
 *   pages as the IOTLB holds, so every access misses and the model walks (device-context
 *   cache hit, then 3 Sv39 levels). Against the same 8-byte read of the same bytes with no
 *   IOMMU (the iommu suite's `identity.load64`).
 * - A 4 KiB read with the IOTLB warm, against `Uint8Array.prototype.set` of the same bytes.
 */
import type { DmaContextImpl } from '@emuhost/core';
import type { Emulator, LoadedPlugin } from '@emuhost/host';
import { type Iova, iova } from '@emuhost/sdk';
import { type Driver, RiscvIommuGuest } from '@emuhost/testing';
import type { BenchCase } from '../harness.js';

const PAGE = 4096;
const LOAD_OFF_MASK = 0xff8;
const INNER_4K = 256;
const RID_HIT = 0x28;
const RID_MISS = 0x30;
const PSCID = 1;
/** The miss walk's IOVA window, and the warm reads' (both canonical for Sv39, below 2^38). */
const MISS_IOVA_BASE = 0x40_0000_0000 / 2;
const READ_IOVA_BASE = 0x1000_0000;

export interface RiscvRig {
  readonly hit: DmaContextImpl;
  readonly miss: DmaContextImpl;
  /** Whether the IOMMU wrote no fault record. */
  noFaults(): boolean;
}

/**
 * Adds the IOMMU as `riv0` bound to `bus` of `emu`, maps `missPages` (IOVA offset → GPA) and
 * the warm pages `readGpas` for two requesters, and returns their contexts.
 */
export function riscvMachine(
  emu: Emulator,
  d: Driver,
  plugin: LoadedPlugin,
  bus: string,
  alloc: (size: number) => number,
  missPages: readonly { readonly off: number; readonly gpa: number }[],
  readGpas: readonly number[],
): RiscvRig {
  emu.addIommu(plugin, { id: 'riv0' });
  emu.machine.dma.bind({ bus }, 'riv0');
  const g = new RiscvIommuGuest(d, (size) => alloc(size), { ddtLevels: 3, fscMode: 8 });
  g.init();
  if ((g.readl(0x4c) & (1 << 16)) === 0) throw new Error('iommu suite: RISC-V fault queue is off');
  for (const rid of [RID_HIT, RID_MISS]) g.attach(rid, PSCID);
  for (const p of missPages) g.map(PSCID, MISS_IOVA_BASE + p.off, p.gpa, 'read');
  for (const [k, gpa] of readGpas.entries()) g.map(PSCID, READ_IOVA_BASE + k * PAGE, gpa, 'read');
  const ctx = (device: string, requesterId: number) =>
    emu.machine.dma.createContext({ device, bus, requesterId });
  return {
    hit: ctx('bench-riscv-hit', RID_HIT),
    miss: ctx('bench-riscv-miss', RID_MISS),
    noFaults: () => g.readl(0x34) === 0,
  };
}

export const RISCV_MISS_IOVA_BASE = MISS_IOVA_BASE;

/** The miss walk: `readU64LE` round-robin over the mapped pages. */
export function riscvMissCase(ctx: DmaContextImpl, pages: readonly { off: number }[]): BenchCase {
  const addrs: Iova[] = pages.map((p) => iova(MISS_IOVA_BASE + p.off));
  const n0 = addrs.length;
  return {
    name: 'riscv-iommu.miss.load64',
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

/** 4 KiB reads through the IOMMU with the IOTLB warm, and the raw copy of the same bytes. */
export function riscvReadCases(
  ctx: DmaContextImpl,
  bytes: Uint8Array,
  readGpas: readonly number[],
): BenchCase[] {
  const dst = new Uint8Array(PAGE);
  const views = readGpas.map((a) => bytes.subarray(a, a + PAGE));
  const iovas = readGpas.map((_, k) => iova(READ_IOVA_BASE + k * PAGE));
  const mask = readGpas.length - 1;
  for (let k = 0; k < readGpas.length; k++) {
    const r = ctx.read(iovas[k]!, dst);
    if (r !== 'ok' || !dst.every((x, i) => x === views[k]![i]))
      throw new Error(`iommu suite: RISC-V IOMMU DMA read of 4 KiB at page ${k}`);
  }
  return [
    {
      name: 'riscv-iommu.read.4096.baseline',
      inner: INNER_4K,
      run(n) {
        let s = 0;
        for (let i = 0; i < n; i++) {
          dst.set(views[i & mask]!);
          s = (s + dst[i & 0xff]!) | 0;
        }
        return s;
      },
    },
    {
      name: 'riscv-iommu.read.4096.ours',
      inner: INNER_4K,
      run(n) {
        let s = 0;
        for (let i = 0; i < n; i++) {
          const r = ctx.read(iovas[i & mask]!, dst);
          s = (s + dst[i & 0xff]! + (r === 'ok' ? 0 : 1)) | 0;
        }
        return s;
      },
    },
  ];
}
