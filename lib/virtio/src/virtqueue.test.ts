/**
 * The split virtqueue against a naive model of the specification's chain rules (virtio 1.2
 * 2.7.5), on random rings that are mostly garbage: random flags, next indexes past the table,
 * loops, indirect tables of any length, lengths up to 4 GiB. Whatever the guest wrote, `pop`
 * returns, never throws, and agrees with the model on whether the chain is usable and, when it
 * is, on its buffers. Plus the used ring and the EVENT_IDX arithmetic, by hand.
 */
import type { DMAContext, DmaError, DmaResult, Iova } from '@emuhost/sdk';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { needEvent } from './constants.js';
import { type Chain, isQueueFault, Virtqueue } from './virtqueue.js';

const MEM = 1 << 16;

/** Guest memory of MEM bytes as a DMA context; anything past it is a decode error. */
function memoryDma(mem: Uint8Array): DMAContext {
  const v = new DataView(mem.buffer);
  const fail = (addr: number): DmaError => ({
    result: 'decode-error',
    addr: addr as Iova,
    completed: 0,
  });
  const inside = (a: number, n: number) => Number.isSafeInteger(a) && a >= 0 && a + n <= mem.length;
  const ctx: Partial<DMAContext> = {
    read(addr, into): DmaResult {
      if (!inside(addr, into.length)) return fail(addr);
      into.set(mem.subarray(addr, addr + into.length));
      return 'ok';
    },
    write(addr, data): DmaResult {
      if (!inside(addr, data.length)) return fail(addr);
      mem.set(data, addr);
      return 'ok';
    },
    readU16LE: (addr) => (inside(addr, 2) ? v.getUint16(addr, true) : fail(addr)),
    writeU16LE(addr, value): DmaResult {
      if (!inside(addr, 2)) return fail(addr);
      v.setUint16(addr, value, true);
      return 'ok';
    },
  };
  return ctx as DMAContext;
}

interface Desc {
  addr: number;
  len: number;
  flags: number;
  next: number;
}

/**
 * The model: the chain's buffers by the spec's rules, or null when the chain is unusable.
 * Loops are found with a visited set (the implementation counts), indirect tables by their
 * flag wherever they appear.
 */
function modelChain(
  desc: (table: number, i: number) => Desc | null,
  descTable: number,
  size: number,
  head: number,
  indirectOk: boolean,
): { out: [number, number][]; in: [number, number][] } | null {
  if (head >= size) return null;
  const out: [number, number][] = [];
  const inb: [number, number][] = [];
  let table = descTable;
  let n = size;
  let i = head;
  let indirect = false;
  let visited = new Set<number>();
  let total = 0;
  let bytes = 0;
  for (;;) {
    if (i >= n || visited.has(i)) return null;
    visited.add(i);
    if (++total > 1024) return null;
    const d = desc(table, i);
    if (d === null) return null;
    if (d.flags & 4) {
      if (!indirectOk || indirect || d.flags & 1 || d.len === 0 || d.len % 16 !== 0) return null;
      indirect = true;
      table = d.addr;
      n = d.len / 16;
      visited = new Set();
      i = 0;
      continue;
    }
    if (d.flags & 2) inb.push([d.addr, d.len]);
    else {
      if (inb.length > 0) return null;
      out.push([d.addr, d.len]);
    }
    bytes += d.len;
    if (bytes > 0xffffffff) return null;
    if (!(d.flags & 1)) return { out, in: inb };
    i = d.next;
  }
}

const DESC_AT = 0x1000;
const AVAIL_AT = 0x2000;
const USED_AT = 0x3000;

const descArb = (size: number) =>
  fc.record({
    addr: fc.oneof(fc.integer({ min: 0, max: MEM - 1 }), fc.constant(0x8000), fc.constant(2 ** 40)),
    len: fc.oneof(
      fc.integer({ min: 0, max: 64 }).map((x) => x * 16),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.constant(0xffffffff),
    ),
    flags: fc.integer({ min: 0, max: 7 }),
    next: fc.integer({ min: 0, max: size + 2 }),
  });

describe('split virtqueue', () => {
  it('pop agrees with the model on random (mostly malformed) rings, and never throws', {
    timeout: 60_000,
  }, () => {
    fc.assert(
      fc.property(
        fc.constantFrom(4, 8, 16),
        fc.boolean(),
        fc.array(descArb(16), { minLength: 16, maxLength: 16 }),
        // An indirect table at 0x8000.
        fc.array(descArb(16), { minLength: 8, maxLength: 8 }),
        fc.integer({ min: 0, max: 18 }),
        (size, indirectOk, direct, table, head) => {
          const mem = new Uint8Array(MEM);
          const v = new DataView(mem.buffer);
          const put = (at: number, d: Desc) => {
            v.setBigUint64(at, BigInt(d.addr), true);
            v.setUint32(at + 8, d.len, true);
            v.setUint16(at + 12, d.flags, true);
            v.setUint16(at + 14, d.next, true);
          };
          direct.slice(0, size).forEach((d, i) => {
            put(DESC_AT + 16 * i, d);
          });
          table.forEach((d, i) => {
            put(0x8000 + 16 * i, d);
          });
          v.setUint16(AVAIL_AT + 2, 1, true);
          v.setUint16(AVAIL_AT + 4, head, true);
          const q = new Virtqueue(0, size, memoryDma(mem), {
            eventIdx: () => false,
            indirect: () => indirectOk,
          });
          Object.assign(q, { desc: DESC_AT, avail: AVAIL_AT, used: USED_AT });
          q.enable();
          const got = q.pop();
          const read = (t: number, i: number): Desc | null => {
            const at = t + 16 * i;
            if (at < 0 || at + 16 > MEM) return null;
            const hi = v.getUint32(at + 4, true);
            return {
              addr: hi >= 0x200000 ? 2 ** 53 : hi * 2 ** 32 + v.getUint32(at, true),
              len: v.getUint32(at + 8, true),
              flags: v.getUint16(at + 12, true),
              next: v.getUint16(at + 14, true),
            };
          };
          const want = modelChain(read, DESC_AT, size, head, indirectOk);
          if (want === null) {
            expect(isQueueFault(got), JSON.stringify(got)).toBe(true);
            return;
          }
          expect(isQueueFault(got)).toBe(false);
          const c = got as Chain;
          expect(c.head).toBe(head);
          expect(c.out.map((e) => [e.addr, e.len])).toEqual(want.out);
          expect(c.in.map((e) => [e.addr, e.len])).toEqual(want.in);
          expect(c.outLen).toBe(want.out.reduce((s, [, l]) => s + l, 0));
          expect(c.inLen).toBe(want.in.reduce((s, [, l]) => s + l, 0));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('refuses an avail index moved past the queue, and a ring it cannot read', () => {
    const mem = new Uint8Array(MEM);
    const v = new DataView(mem.buffer);
    const q = new Virtqueue(0, 8, memoryDma(mem), { eventIdx: () => false, indirect: () => true });
    Object.assign(q, { desc: DESC_AT, avail: AVAIL_AT, used: USED_AT });
    q.enable();
    v.setUint16(AVAIL_AT + 2, 9, true);
    expect(isQueueFault(q.pop())).toBe(true);
    const far = new Virtqueue(1, 8, memoryDma(mem), {
      eventIdx: () => false,
      indirect: () => true,
    });
    Object.assign(far, { desc: DESC_AT, avail: MEM + 0x1000, used: USED_AT });
    far.enable();
    expect(isQueueFault(far.pop())).toBe(true);
  });

  it('pushes used elements in order, and writes avail_event with EVENT_IDX', () => {
    const mem = new Uint8Array(MEM);
    const v = new DataView(mem.buffer);
    const q = new Virtqueue(0, 4, memoryDma(mem), { eventIdx: () => true, indirect: () => true });
    Object.assign(q, { desc: DESC_AT, avail: AVAIL_AT, used: USED_AT });
    q.enable();
    for (let i = 0; i < 6; i++) {
      // One single-descriptor chain per round, at descriptor i % 4.
      const d = DESC_AT + 16 * (i % 4);
      v.setBigUint64(d, 0x9000n, true);
      v.setUint32(d + 8, 8, true);
      v.setUint16(d + 12, 2, true);
      v.setUint16(AVAIL_AT + 4 + 2 * (i % 4), i % 4, true);
      v.setUint16(AVAIL_AT + 2, i + 1, true);
      const c = q.pop() as Chain;
      expect(c.head).toBe(i % 4);
      expect(v.getUint16(USED_AT + 4 + 8 * 4, true), 'avail_event').toBe(i + 1);
      expect(q.push(c.head, 8)).toBeUndefined();
      expect(v.getUint16(USED_AT + 2, true)).toBe(i + 1);
      expect(v.getUint32(USED_AT + 4 + 8 * (i % 4), true)).toBe(i % 4);
      expect(v.getUint32(USED_AT + 8 + 8 * (i % 4), true)).toBe(8);
    }
    expect(q.pop()).toBeUndefined();
    expect(() => q.push(3, 0)).toThrow(/not popped/);
  });

  it('interrupts as used_event says (EVENT_IDX) and as NO_INTERRUPT says (without)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 1, max: 3 }), (ev, n) => {
        const mem = new Uint8Array(MEM);
        const v = new DataView(mem.buffer);
        const q = new Virtqueue(0, 4, memoryDma(mem), {
          eventIdx: () => true,
          indirect: () => true,
        });
        Object.assign(q, { desc: DESC_AT, avail: AVAIL_AT, used: USED_AT });
        q.enable();
        // The first interrupt always goes (nothing signalled yet); then used_event rules.
        expect(q.needsInterrupt()).toBe(true);
        v.setUint16(AVAIL_AT + 4 + 2 * 4, ev, true);
        const old = q.usedIdx;
        q.usedIdx = (q.usedIdx + n) & 0xffff;
        expect(q.needsInterrupt()).toBe(needEvent(ev, q.usedIdx, old));
      }),
    );
    const mem = new Uint8Array(MEM);
    const v = new DataView(mem.buffer);
    const q = new Virtqueue(0, 4, memoryDma(mem), { eventIdx: () => false, indirect: () => true });
    Object.assign(q, { desc: DESC_AT, avail: AVAIL_AT, used: USED_AT });
    expect(q.needsInterrupt()).toBe(true);
    v.setUint16(AVAIL_AT, 1, true);
    expect(q.needsInterrupt()).toBe(false);
  });

  it('needEvent is the spec formula', () => {
    expect(needEvent(0, 1, 0)).toBe(true);
    expect(needEvent(5, 5, 4)).toBe(false);
    expect(needEvent(4, 5, 4)).toBe(true);
    expect(needEvent(0xffff, 0, 0xfffe)).toBe(true);
  });
});
