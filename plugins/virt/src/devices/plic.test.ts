import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Plic, type PlicOptions } from './plic.js';
import { type IrqProbe, probes } from './test-support/irq-probe.js';
import { rd, read, wr, write } from './test-support/mmio-bus.js';

const PRIORITY = (s: number) => 4 * s;
const PENDING = (w: number) => 0x1000 + 4 * w;
const ENABLE = (c: number, w: number) => 0x2000 + 0x80 * c + 4 * w;
const THRESHOLD = (c: number) => 0x200000 + 0x1000 * c;
const CLAIM = (c: number) => 0x200004 + 0x1000 * c;

function rig(harts = 1, opts: Partial<PlicOptions> = {}): { plic: Plic; out: IrqProbe[] } {
  const out = probes(2 * harts);
  const plic = new Plic({ contexts: out.map((p) => p.set), ...opts });
  return { plic, out };
}

/** Enables source `s` for context `c` (read-modify-write of its enable word). */
function enable(plic: Plic, c: number, s: number, on = true): void {
  const off = ENABLE(c, s >>> 5);
  const bit = 1 << (s & 31);
  wr(plic, off, on ? rd(plic, off) | bit : rd(plic, off) & ~bit);
}

const levels = (out: IrqProbe[]) => out.map((p) => p.level);

describe('PLIC (sifive,plic-1.0.0 as QEMU virt configures it)', () => {
  it('comes out of reset with everything 0 and its outputs low', () => {
    const { plic, out } = rig(2);
    expect(plic.size).toBe(0x600000);
    for (let s = 0; s <= 95; s++) expect(rd(plic, PRIORITY(s))).toBe(0);
    for (let w = 0; w < 3; w++) expect(rd(plic, PENDING(w))).toBe(0);
    for (let c = 0; c < 4; c++) {
      expect(rd(plic, THRESHOLD(c))).toBe(0);
      expect(rd(plic, ENABLE(c, 0))).toBe(0);
      expect(rd(plic, CLAIM(c))).toBe(0);
    }
    expect(levels(out)).toEqual([0, 0, 0, 0]);
  });

  it('signals, claims and completes a level-triggered source (the UART on S-mode of hart 0)', () => {
    const { plic, out } = rig(1);
    wr(plic, PRIORITY(10), 1);
    enable(plic, 1, 10);
    plic.setSource(10, 1);
    expect(rd(plic, PENDING(0))).toBe(1 << 10);
    expect(levels(out)).toEqual([0, 1]);
    expect(rd(plic, CLAIM(1))).toBe(10);
    expect(rd(plic, PENDING(0))).toBe(0);
    expect(levels(out)).toEqual([0, 0]);
    // Claimed: another claim finds nothing, and the level moving does not make it pending.
    expect(rd(plic, CLAIM(1))).toBe(0);
    plic.setSource(10, 0);
    plic.setSource(10, 1);
    expect(rd(plic, PENDING(0))).toBe(0);
    expect(levels(out)).toEqual([0, 0]);
    // Completion with the level still high: pending again at once.
    wr(plic, CLAIM(1), 10);
    expect(rd(plic, PENDING(0))).toBe(1 << 10);
    expect(levels(out)).toEqual([0, 1]);
    expect(rd(plic, CLAIM(1))).toBe(10);
    // Completion after the level fell: nothing pending.
    plic.setSource(10, 0);
    wr(plic, CLAIM(1), 10);
    expect(rd(plic, PENDING(0))).toBe(0);
    expect(levels(out)).toEqual([0, 0]);
    expect(out[1]!.history).toEqual([0, 1, 0, 1, 0]); // the first 0 is the reset's
  });

  it('lets pending follow the level while not claimed', () => {
    const { plic, out } = rig(1);
    wr(plic, PRIORITY(33), 3);
    enable(plic, 0, 33);
    plic.setSource(33, 1);
    expect(rd(plic, PENDING(1))).toBe(1 << 1);
    expect(out[0]!.level).toBe(1);
    plic.setSource(33, 0);
    expect(rd(plic, PENDING(1))).toBe(0);
    expect(out[0]!.level).toBe(0);
    expect(rd(plic, CLAIM(0))).toBe(0);
  });

  it('claims by priority above the threshold, ties to the lowest id', () => {
    for (const { prios, threshold, order } of [
      { prios: { 5: 1, 6: 2, 7: 3 }, threshold: 0, order: [7, 6, 5] },
      { prios: { 5: 2, 6: 2, 7: 2 }, threshold: 0, order: [5, 6, 7] },
      { prios: { 40: 7, 3: 7, 95: 7 }, threshold: 6, order: [3, 40, 95] },
      { prios: { 5: 1, 6: 2, 7: 3 }, threshold: 2, order: [7] },
      { prios: { 1: 0, 2: 0 }, threshold: 0, order: [] },
      { prios: { 64: 4, 31: 4, 32: 5 }, threshold: 3, order: [32, 31, 64] },
    ]) {
      const { plic, out } = rig(1);
      wr(plic, THRESHOLD(0), threshold);
      for (const [s, p] of Object.entries(prios)) {
        wr(plic, PRIORITY(Number(s)), p);
        enable(plic, 0, Number(s));
        plic.setSource(Number(s), 1);
      }
      const claimed: number[] = [];
      for (let id = rd(plic, CLAIM(0)); id !== 0; id = rd(plic, CLAIM(0))) claimed.push(id);
      expect(claimed, JSON.stringify(prios)).toEqual(order);
      expect(out[0]!.level).toBe(0);
    }
  });

  it('masks a source a context does not enable, and serves each context on its own', () => {
    const { plic, out } = rig(2);
    wr(plic, PRIORITY(1), 1);
    wr(plic, PRIORITY(2), 1);
    enable(plic, 0, 1); // hart 0 M
    enable(plic, 3, 1); // hart 1 S
    enable(plic, 3, 2);
    plic.setSource(2, 1);
    expect(levels(out)).toEqual([0, 0, 0, 1]);
    plic.setSource(1, 1);
    expect(levels(out)).toEqual([1, 0, 0, 1]);
    // Hart 0 M claims source 1: hart 1 S can no longer claim it, but still has 2.
    expect(rd(plic, CLAIM(0))).toBe(1);
    expect(levels(out)).toEqual([0, 0, 0, 1]);
    expect(rd(plic, CLAIM(3))).toBe(2);
    expect(rd(plic, CLAIM(3))).toBe(0);
    expect(levels(out)).toEqual([0, 0, 0, 0]);
    // A threshold raised to the source's priority masks it; lowered again, it shows.
    wr(plic, CLAIM(3), 2);
    expect(out[3]!.level).toBe(1);
    wr(plic, THRESHOLD(3), 1);
    expect(out[3]!.level).toBe(0);
    wr(plic, THRESHOLD(3), 0);
    expect(out[3]!.level).toBe(1);
  });

  it('accepts a completion from any context (QEMU’s leniency) and ignores ids not claimed', () => {
    const { plic, out } = rig(1);
    wr(plic, PRIORITY(4), 1);
    enable(plic, 0, 4);
    plic.setSource(4, 1);
    expect(rd(plic, CLAIM(0))).toBe(4);
    for (const id of [0, 5, 96, 1000, 0xffff_ffff]) wr(plic, CLAIM(0), id);
    expect(out[0]!.level).toBe(0);
    wr(plic, CLAIM(1), 4); // S-mode context, which does not even enable it
    expect(out[0]!.level).toBe(1);
  });

  it('stores priorities and thresholds WARL: the value mod 8', () => {
    const { plic } = rig(1);
    for (const [v, stored] of [
      [0, 0],
      [7, 7],
      [8, 0],
      [9, 1],
      [0xffff_ffff, 7],
    ]) {
      wr(plic, PRIORITY(95), v!);
      expect(rd(plic, PRIORITY(95))).toBe(stored);
      wr(plic, THRESHOLD(1), v!);
      expect(rd(plic, THRESHOLD(1))).toBe(stored);
    }
  });

  it('ignores out-of-range values when max priority + 1 is not a power of two, as QEMU', () => {
    const { plic } = rig(1, { maxPriority: 5 });
    wr(plic, PRIORITY(1), 4);
    wr(plic, PRIORITY(1), 6);
    expect(rd(plic, PRIORITY(1))).toBe(4);
    wr(plic, THRESHOLD(0), 5);
    wr(plic, THRESHOLD(0), 9);
    expect(rd(plic, THRESHOLD(0))).toBe(5);
  });

  it('takes 32-bit accesses only; offsets that name nothing read 0 and ignore writes', () => {
    const { plic } = rig(1);
    for (const size of [1, 2, 8] as const) {
      expect(read(plic, PRIORITY(1), size)).toBe('access-error');
      expect(write(plic, CLAIM(0), 1, size)).toBe('access-error');
    }
    for (const offset of [
      PRIORITY(96),
      PENDING(3),
      0x1ffc,
      ENABLE(0, 3),
      ENABLE(2, 0), // context 2 does not exist with one hart
      THRESHOLD(0) + 8,
      THRESHOLD(2),
      CLAIM(1023),
      0x5ffffc,
    ]) {
      wr(plic, offset, 0xffff_ffff);
      expect(rd(plic, offset), `0x${offset.toString(16)}`).toBe(0);
    }
    // The pending bits are read-only.
    wr(plic, PENDING(0), 0xffff_ffff);
    expect(rd(plic, PENDING(0))).toBe(0);
  });

  it('refuses bad wiring: sources outside 1..95, bad configurations', () => {
    const { plic } = rig(1);
    for (const id of [0, 96, 1.5, -1]) {
      expect(() => plic.setSource(id, 1)).toThrow(/E_BAD_ARGUMENT/);
      expect(() => plic.sourceSetter(id)).toThrow(/E_BAD_ARGUMENT/);
    }
    expect(() => new Plic({ contexts: [] })).toThrow(/E_BAD_ARGUMENT/);
    expect(() => rig(1, { sources: 1024 })).toThrow(/E_BAD_ARGUMENT/);
    expect(() => rig(1, { maxPriority: 0 })).toThrow(/E_BAD_ARGUMENT/);
  });

  it('matches a naive model through any sequence of guest and source actions (property)', () => {
    const HARTS = 2;
    const CTX = 2 * HARTS;
    // A few sources around word boundaries, so that they collide often.
    const ID_LIST = [1, 2, 3, 31, 32, 33, 63, 64, 94, 95];
    const ids = fc.constantFrom(...ID_LIST);
    const op = fc.oneof(
      fc.record({ k: fc.constant('level' as const), s: ids, v: fc.constantFrom(0, 1) }),
      fc.record({ k: fc.constant('prio' as const), s: ids, v: fc.integer({ min: 0, max: 9 }) }),
      fc.record({
        k: fc.constant('enable' as const),
        c: fc.nat(CTX - 1),
        w: fc.nat(2),
        v: fc.oneof(fc.constant(0xffff_ffff), fc.integer({ min: 0, max: 0xffff_ffff })),
      }),
      fc.record({ k: fc.constant('thr' as const), c: fc.nat(CTX - 1), v: fc.nat(8) }),
      fc.record({ k: fc.constant('claim' as const), c: fc.nat(CTX - 1) }),
      fc.record({ k: fc.constant('complete' as const), c: fc.nat(CTX - 1), s: ids }),
    );
    fc.assert(
      // Small starting priorities, so that ties are common.
      fc.property(
        fc.array(fc.nat(3), { minLength: 10, maxLength: 10 }),
        fc.array(op, { minLength: 1, maxLength: 80, size: 'max' }),
        (start, ops) => {
          const { plic, out } = rig(HARTS);
          const m = {
            level: new Array<boolean>(96).fill(false),
            pending: new Array<boolean>(96).fill(false),
            claimed: new Array<boolean>(96).fill(false),
            prio: new Array<number>(96).fill(0),
            en: Array.from({ length: CTX }, () => new Array<boolean>(96).fill(false)),
            thr: new Array<number>(CTX).fill(0),
          };
          const best = (c: number) => {
            let id = 0;
            for (let s = 1; s <= 95; s++) {
              if (!m.pending[s] || m.claimed[s] || !m.en[c]![s]) continue;
              if (m.prio[s]! > m.thr[c]! && (id === 0 || m.prio[s]! > m.prio[id]!)) id = s;
            }
            return id;
          };
          for (const [i, s] of ID_LIST.entries()) {
            wr(plic, PRIORITY(s), start[i]!);
            m.prio[s] = start[i]!;
          }
          for (const o of ops) {
            switch (o.k) {
              case 'level':
                plic.setSource(o.s, o.v as 0 | 1);
                m.level[o.s] = o.v === 1;
                if (!m.claimed[o.s]) m.pending[o.s] = o.v === 1;
                break;
              case 'prio':
                wr(plic, PRIORITY(o.s), o.v);
                m.prio[o.s] = o.v % 8;
                break;
              case 'enable':
                wr(plic, ENABLE(o.c, o.w), o.v);
                for (let j = 0; j < 32; j++) m.en[o.c]![32 * o.w + j] = ((o.v >>> j) & 1) === 1;
                break;
              case 'thr':
                wr(plic, THRESHOLD(o.c), o.v);
                m.thr[o.c] = o.v % 8;
                break;
              case 'claim': {
                const id = best(o.c);
                if (id !== 0) {
                  m.pending[id] = false;
                  m.claimed[id] = true;
                }
                expect(rd(plic, CLAIM(o.c))).toBe(id);
                break;
              }
              case 'complete':
                wr(plic, CLAIM(o.c), o.s);
                if (m.claimed[o.s]) {
                  m.claimed[o.s] = false;
                  m.pending[o.s] = m.level[o.s]!;
                }
                break;
            }
            // One comparison per step (expect is slow in a loop this long).
            const got: number[] = [];
            const want: number[] = [];
            for (let c = 0; c < CTX; c++) {
              got.push(out[c]!.level);
              want.push(best(c) !== 0 ? 1 : 0);
            }
            for (let w = 0; w < 3; w++) {
              let bits = 0;
              for (let j = 0; j < 32; j++) if (m.pending[32 * w + j]) bits |= 1 << j;
              got.push(rd(plic, PENDING(w)));
              want.push(bits >>> 0);
            }
            if (got.join() !== want.join()) expect(got).toEqual(want);
          }
        },
      ),
      { numRuns: 300 },
    );
  }, 60_000);

  it('resets registers and claims but keeps source levels: a source still high is pending', () => {
    const { plic, out } = rig(1);
    wr(plic, PRIORITY(7), 5);
    wr(plic, PRIORITY(8), 5);
    enable(plic, 0, 7);
    enable(plic, 0, 8);
    wr(plic, THRESHOLD(0), 1);
    plic.setSource(7, 1);
    plic.setSource(8, 1);
    expect(rd(plic, CLAIM(0))).toBe(7);
    plic.reset();
    expect(levels(out)).toEqual([0, 0]);
    expect(rd(plic, PRIORITY(7))).toBe(0);
    expect(rd(plic, ENABLE(0, 0))).toBe(0);
    expect(rd(plic, THRESHOLD(0))).toBe(0);
    expect(rd(plic, PENDING(0))).toBe((1 << 7) | (1 << 8));
    wr(plic, PRIORITY(7), 1);
    enable(plic, 0, 7);
    expect(out[0]!.level).toBe(1);
    expect(rd(plic, CLAIM(0))).toBe(7);
  });

  it('restores into a fresh instance that continues identically', () => {
    const a = rig(2);
    for (const s of [3, 10, 40]) {
      wr(a.plic, PRIORITY(s), s % 7);
      enable(a.plic, 1, s);
      enable(a.plic, 2, s);
      a.plic.setSource(s, 1);
    }
    wr(a.plic, THRESHOLD(2), 2);
    expect(rd(a.plic, CLAIM(1))).toBe(40);
    a.plic.setSource(3, 0);
    const saved = JSON.parse(JSON.stringify(a.plic.saveState()));
    const b = rig(2);
    b.plic.loadState(saved);
    expect(levels(b.out)).toEqual(levels(a.out));
    for (const p of [a, b]) {
      expect(rd(p.plic, CLAIM(2))).toBe(10);
      wr(p.plic, CLAIM(1), 40);
      expect(rd(p.plic, CLAIM(1))).toBe(40);
      expect(rd(p.plic, CLAIM(1))).toBe(0);
    }
    expect(b.plic.saveState()).toEqual(a.plic.saveState());
    expect(levels(b.out)).toEqual(levels(a.out));
    expect(() => b.plic.loadState({ ...saved, contexts: 2 })).toThrow(/E_BAD_ARGUMENT/);
    expect(() => b.plic.loadState({ ...saved, priority: [1] })).toThrow(/priority/);
  });
});
