/**
 * The soft TLB's flushes: sfence.vma of one page drops that page's entry and the superpage
 * entries that may cover it (same 1 GiB), and nothing else; the WebAssembly tier's tag
 * follows the JavaScript one for pages in the wasm memory only.
 */
import { describe, expect, it } from 'vitest';
import { Tlb } from './tlb.js';

const GiB = 2 ** 30;
const empty = new DataView(new ArrayBuffer(8));

function tlb(wasm?: ArrayBuffer) {
  return new Tlb(empty, new ArrayBuffer(8192), 0, wasm);
}

/** Whether virtual address `va` (below 2^31 here) hits. */
const hits = (t: Tlb, va: number) => {
  const e = (va >>> 12) & 255;
  return t.tag[2 * e] === (va & -4096) && t.tag[2 * e + 1] === 0;
};

describe('Tlb', () => {
  it('sfence of a page drops superpage entries in its GiB, keeps the others', () => {
    const t = tlb();
    t.set(0x0020_1000, 0, empty, 0, 0x8020_1000, true); // superpage, GiB 0
    t.set(GiB + 0x5000, 0, empty, 0, 0x9000_5000, true); // superpage, GiB 1
    t.set(0x0030_7000, 0, empty, 0, 0x8030_7000, false); // 4 KiB page, GiB 0
    t.flushPage(0x0010_0000, 0);
    expect(hits(t, 0x0020_1000)).toBe(false);
    expect(hits(t, GiB + 0x5000)).toBe(true);
    expect(hits(t, 0x0030_7000)).toBe(true);
    t.flushPage(0x0030_7abc, 0);
    expect(hits(t, 0x0030_7000)).toBe(false);
    expect(hits(t, GiB + 0x5000)).toBe(true);
  });

  it('gives the WebAssembly tier a tag only for pages in its memory', () => {
    const wasmBuffer = new ArrayBuffer(65536);
    const t = tlb(wasmBuffer);
    t.set(0x1000, 0, new DataView(wasmBuffer), 0x1000, 0x1000, false);
    t.set(0x2000, 0, empty, 0, 0x2000, false);
    expect(t.wtag[2 * 1]).toBe(0x1000);
    expect(t.wtag[2 * 2]).not.toBe(0x2000);
    t.flushPhys(0x1000);
    expect(t.wtag[2 * 1]).not.toBe(0x1000);
    expect(hits(t, 0x1000)).toBe(false);
  });
});
