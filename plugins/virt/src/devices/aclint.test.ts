import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Clint, type ClintOptions } from './aclint.js';
import { FakeClock } from './test-support/fake-clock.js';
import { type IrqProbe, probes } from './test-support/irq-probe.js';
import { rd, rd64, read, wr, write } from './test-support/mmio-bus.js';

const MSIP = (h: number) => 4 * h;
const MTIMECMP = (h: number) => 0x4000 + 8 * h;
const MTIME = 0xbff8;
const U64_MAX = (1n << 64n) - 1n;

interface Rig {
  clock: FakeClock;
  clint: Clint;
  msip: IrqProbe[];
  mtip: IrqProbe[];
}

function rig(harts = 1, opts: Partial<ClintOptions> = {}, clock = new FakeClock()): Rig {
  const msip = probes(harts);
  const mtip = probes(harts);
  const clint = new Clint({
    clock,
    harts: msip.map((m, h) => ({ msip: m.set, mtip: mtip[h]!.set })),
    ...opts,
  });
  return { clock, clint, msip, mtip };
}

describe('CLINT (sifive,clint0: ACLINT MSWI + MTIMER)', () => {
  it('comes out of reset with msip 0, mtimecmp 0 and so MTIP raised, mtime on the clock', () => {
    const { clint, msip, mtip } = rig(2);
    expect(rd(clint, MSIP(0))).toBe(0);
    expect(rd(clint, MSIP(1))).toBe(0);
    expect(rd64(clint, MTIMECMP(0))).toBe(0n);
    expect(rd64(clint, MTIME)).toBe(0n);
    expect(msip.map((p) => p.level)).toEqual([0, 0]);
    expect(mtip.map((p) => p.level)).toEqual([1, 1]);
    expect(clint.size).toBe(0x10000);
  });

  it('counts mtime in 10 MHz ticks of the virtual clock: floor(ns / 100)', () => {
    const { clock, clint } = rig();
    for (const [ns, ticks] of [
      [0, 0n],
      [99, 0n],
      [100, 1n],
      [123_456_789, 1_234_567n],
      [2 ** 53 - 1, BigInt(Math.floor((2 ** 53 - 1) / 100))],
    ] as const) {
      clock.advanceTo(ns);
      expect(rd64(clint, MTIME)).toBe(ticks);
      expect(rd(clint, MTIME)).toBe(Number(ticks & 0xffffffffn));
      expect(rd(clint, MTIME + 4)).toBe(Number(ticks >> 32n));
    }
  });

  it('drives each hart’s MSIP from bit 0 of its own msip register only', () => {
    const { clint, msip } = rig(8);
    for (let h = 0; h < 8; h++) {
      wr(clint, MSIP(h), 0xffff_ffff);
      expect(rd(clint, MSIP(h))).toBe(1);
      expect(msip.map((p) => p.level)).toEqual(msip.map((_, i) => (i === h ? 1 : 0)));
      wr(clint, MSIP(h), 0xffff_fffe);
      expect(rd(clint, MSIP(h))).toBe(0);
      expect(msip[h]!.history).toEqual([0, 1, 0]);
    }
    // Writing the level it already has does not call the setter again.
    wr(clint, MSIP(3), 1);
    wr(clint, MSIP(3), 1);
    expect(msip[3]!.history).toEqual([0, 1, 0, 1]);
  });

  it('raises MTIP at exactly the nanosecond mtime reaches mtimecmp', () => {
    const { clock, clint, mtip } = rig(2);
    wr(clint, MTIMECMP(1), 100n, 8); // 100 ticks = 10 µs
    expect(mtip[1]!.level).toBe(0);
    expect(mtip[0]!.level).toBe(1);
    expect(clock.get('clint.mtimecmp1').deadline).toBe(10_000);
    clock.advance(9_999);
    expect(mtip[1]!.level).toBe(0);
    clock.advance(1);
    expect(mtip[1]!.level).toBe(1);
    expect(rd64(clint, MTIME)).toBe(100n);
    // A new compare value in the future lowers it again; one in the past raises it at once.
    wr(clint, MTIMECMP(1), 150n, 8);
    expect(mtip[1]!.level).toBe(0);
    wr(clint, MTIMECMP(1), 100n, 8);
    expect(mtip[1]!.level).toBe(1);
    expect(clock.get('clint.mtimecmp1').pending).toBe(false);
  });

  it('takes mtimecmp in 32-bit halves, evaluating MTIP after each half as QEMU does', () => {
    const { clock, clint, mtip } = rig();
    clock.advanceTo(5_000_000); // mtime 50_000
    wr(clint, MTIMECMP(0) + 4, 0xffff_ffff); // high half first: far future
    expect(rd64(clint, MTIMECMP(0))).toBe(0xffff_ffff_0000_0000n);
    expect(mtip[0]!.level).toBe(0);
    wr(clint, MTIMECMP(0), 60_000);
    wr(clint, MTIMECMP(0) + 4, 0);
    expect(rd64(clint, MTIMECMP(0))).toBe(60_000n);
    expect(rd(clint, MTIMECMP(0))).toBe(60_000);
    expect(rd(clint, MTIMECMP(0) + 4)).toBe(0);
    clock.advanceTo(5_999_999);
    expect(mtip[0]!.level).toBe(0);
    clock.advanceTo(6_000_000);
    expect(mtip[0]!.level).toBe(1);
  });

  it('never fires for a compare value past what the clock can reach (firmware writes -1)', () => {
    const { clock, clint, mtip } = rig();
    wr(clint, MTIMECMP(0), U64_MAX, 8);
    expect(mtip[0]!.level).toBe(0);
    expect(clock.get('clint.mtimecmp0').pending).toBe(false);
    clock.advanceTo(Number.MAX_SAFE_INTEGER);
    expect(mtip[0]!.level).toBe(0);
  });

  it('lets the guest write mtime (an offset to the clock), re-evaluating every hart', () => {
    const { clock, clint, mtip } = rig(2);
    clock.advanceTo(1_000_000); // mtime 10_000
    wr(clint, MTIMECMP(0), 20_000n, 8);
    wr(clint, MTIMECMP(1), 30_000n, 8);
    wr(clint, MTIME, 25_000n, 8);
    expect(clint.timeOffset).toBe(15_000n);
    expect(rd64(clint, MTIME)).toBe(25_000n);
    expect(mtip.map((p) => p.level)).toEqual([1, 0]);
    expect(clock.get('clint.mtimecmp1').deadline).toBe(1_000_000 + 5_000 * 100);
    clock.advance(500_000);
    expect(mtip[1]!.level).toBe(1);
    // 32-bit halves: the low half keeps the high one, and the reverse.
    wr(clint, MTIME + 4, 1);
    expect(rd64(clint, MTIME)).toBe((1n << 32n) | 30_000n);
    wr(clint, MTIME, 7);
    expect(rd64(clint, MTIME)).toBe((1n << 32n) | 7n);
    // Back below both compare values: both lower.
    wr(clint, MTIME, 0n, 8);
    expect(clint.timeOffset).toBe(-15_000n);
    expect(mtip.map((p) => p.level)).toEqual([0, 0]);
    clock.advance(100 * 20_000);
    expect(mtip.map((p) => p.level)).toEqual([1, 0]);
  });

  it('lowers MTIP when mtime wraps past 2^64 - 1 to below mtimecmp (unsigned comparison)', () => {
    const { clock, clint, mtip } = rig();
    wr(clint, MTIMECMP(0), 5n, 8);
    wr(clint, MTIME, U64_MAX - 9n, 8); // wraps to 0 after 10 ticks
    expect(mtip[0]!.level).toBe(1);
    clock.advance(999);
    expect(mtip[0]!.level).toBe(1);
    clock.advance(1);
    expect(rd64(clint, MTIME)).toBe(0n);
    expect(mtip[0]!.level).toBe(0);
    clock.advance(500);
    expect(mtip[0]!.level).toBe(1);
  });

  it('applies QEMU’s access rules: MSWI 4 bytes only, MTIMER 4 or 8, aligned; a hole after 0xc000', () => {
    const { clint } = rig(2);
    for (const [offset, size, expected] of [
      [MSIP(0), 8, 'access-error'],
      [MSIP(0), 2, 'access-error'],
      [MSIP(0), 1, 'access-error'],
      [MTIMECMP(0), 2, 'access-error'],
      [MTIMECMP(0) + 4, 8, 'access-error'],
      [MTIME + 2, 4, 'access-error'],
      [0xc000, 4, 'decode-error'],
      [0xfff8, 8, 'decode-error'],
    ] as const) {
      expect(read(clint, offset, size), `read 0x${offset.toString(16)}/${size}`).toBe(expected);
      expect(write(clint, offset, 1, size), `write 0x${offset.toString(16)}/${size}`).toBe(
        expected,
      );
    }
    // Registers of harts that do not exist, and the gaps: read 0, writes ignored.
    for (const offset of [MSIP(2), 0x3ffc, MTIMECMP(2), 0xbff0]) {
      wr(clint, offset, 0xffff_ffff);
      expect(rd(clint, offset)).toBe(0);
    }
  });

  it('serves 8 harts, each with its own compare value and timer', () => {
    const { clock, clint, mtip } = rig(8);
    for (let h = 0; h < 8; h++) wr(clint, MTIMECMP(h), BigInt(1000 * (h + 1)), 8);
    expect(mtip.every((p) => p.level === 0)).toBe(true);
    for (let h = 0; h < 8; h++) {
      clock.advanceTo(100 * 1000 * (h + 1) - 1);
      expect(mtip.map((p) => p.level)).toEqual(mtip.map((_, i) => (i < h ? 1 : 0)));
      clock.advance(1);
      expect(mtip[h]!.level).toBe(1);
    }
  });

  it('converts exactly with a timebase that does not divide 1e9 (3 MHz)', () => {
    const { clock, clint, mtip } = rig(1, { timebase: 3_000_000 });
    wr(clint, MTIMECMP(0), 10n, 8); // 10 ticks = 3333.33 ns: rises at 3334
    expect(clock.get('clint.mtimecmp0').deadline).toBe(3334);
    clock.advanceTo(3333);
    expect(rd64(clint, MTIME)).toBe(9n);
    expect(mtip[0]!.level).toBe(0);
    clock.advanceTo(3334);
    expect(rd64(clint, MTIME)).toBe(10n);
    expect(mtip[0]!.level).toBe(1);
  });

  it('keeps MTIP equal to mtime >= mtimecmp through any sequence (property, against a model)', () => {
    const op = fc.oneof(
      fc.record({ k: fc.constant('advance' as const), ns: fc.integer({ min: 0, max: 50_000 }) }),
      fc.record({
        k: fc.constant('cmp' as const),
        h: fc.integer({ min: 0, max: 1 }),
        half: fc.constantFrom(0, 4, 8),
        v: fc.oneof(fc.bigInt({ min: 0n, max: 2_000n }), fc.bigInt({ min: 0n, max: U64_MAX })),
      }),
      fc.record({
        k: fc.constant('mtime' as const),
        half: fc.constantFrom(0, 4, 8),
        v: fc.oneof(
          fc.bigInt({ min: 0n, max: 2_000n }),
          fc.bigInt({ min: U64_MAX - 2_000n, max: U64_MAX }),
          fc.bigInt({ min: 0n, max: U64_MAX }),
        ),
      }),
    );
    fc.assert(
      fc.property(
        fc.constantFrom(10_000_000, 1_000_000_000, 3_000_000, 7),
        fc.array(op, { minLength: 1, maxLength: 60, size: 'max' }),
        (hz, ops) => {
          const { clock, clint, mtip } = rig(2, { timebase: hz });
          const cmp = [0n, 0n];
          let delta = 0n;
          const ticks = () => (BigInt(clock.now()) * BigInt(hz)) / 1_000_000_000n;
          const mtime = () => BigInt.asUintN(64, ticks() + delta);
          const merge = (old: bigint, half: number, v: bigint) =>
            half === 8
              ? v
              : half === 4
                ? ((v & 0xffffffffn) << 32n) | (old & 0xffffffffn)
                : (old & ~0xffffffffn) | (v & 0xffffffffn);
          for (const o of ops) {
            if (o.k === 'advance') clock.advance(o.ns);
            else if (o.k === 'cmp') {
              const off = MTIMECMP(o.h) + (o.half === 4 ? 4 : 0);
              wr(clint, off, o.half === 8 ? o.v : o.v & 0xffffffffn, o.half === 8 ? 8 : 4);
              cmp[o.h] = merge(cmp[o.h]!, o.half, o.v);
            } else {
              const off = MTIME + (o.half === 4 ? 4 : 0);
              const now = mtime();
              wr(clint, off, o.half === 8 ? o.v : o.v & 0xffffffffn, o.half === 8 ? 8 : 4);
              delta = BigInt.asUintN(64, merge(now, o.half, o.v) - ticks());
            }
            // One comparison per step (expect is slow in a loop this long).
            const got = [rd64(clint, MTIME), rd64(clint, MTIMECMP(0)), rd64(clint, MTIMECMP(1))];
            const want = [mtime(), cmp[0]!, cmp[1]!];
            for (let h = 0; h < 2; h++) {
              got.push(BigInt(mtip[h]!.level));
              want.push(mtime() >= cmp[h]! ? 1n : 0n);
            }
            if (got.join() !== want.join()) expect(got).toEqual(want);
          }
        },
      ),
      { numRuns: 300 },
    );
  }, 60_000);

  it('resets to the power-on state, mtime back on the clock', () => {
    const { clock, clint, msip, mtip } = rig(2);
    clock.advanceTo(1_000);
    wr(clint, MSIP(1), 1);
    wr(clint, MTIMECMP(0), 1_000_000n, 8);
    wr(clint, MTIME, 123n, 8);
    clint.reset();
    expect(rd(clint, MSIP(1))).toBe(0);
    expect(rd64(clint, MTIMECMP(0))).toBe(0n);
    expect(rd64(clint, MTIME)).toBe(10n);
    expect(clint.timeOffset).toBe(0n);
    expect(msip.map((p) => p.level)).toEqual([0, 0]);
    expect(mtip.map((p) => p.level)).toEqual([1, 1]);
    expect(clock.get('clint.mtimecmp0').pending).toBe(false);
  });

  it('restores into a fresh instance that continues identically, timers re-armed', () => {
    const a = rig(2);
    a.clock.advanceTo(7_777);
    wr(a.clint, MSIP(1), 1);
    wr(a.clint, MTIMECMP(0), 5_000n, 8);
    wr(a.clint, MTIME, 1_000n, 8);
    wr(a.clint, MTIMECMP(1), 4_000n, 8);
    const saved = JSON.parse(JSON.stringify(a.clint.saveState()));

    const b = rig(2, {}, new FakeClock(7_777));
    b.clint.loadState(saved);
    expect(b.msip.map((p) => p.level)).toEqual([0, 1]);
    expect(b.mtip.map((p) => p.level)).toEqual(a.mtip.map((p) => p.level));
    expect(b.clock.get('clint.mtimecmp0').deadline).toBe(a.clock.get('clint.mtimecmp0').deadline);
    for (const ns of [100_000, 300_000, 400_001, 10_000_000]) {
      a.clock.advanceTo(ns);
      b.clock.advanceTo(ns);
      expect(rd64(b.clint, MTIME)).toBe(rd64(a.clint, MTIME));
      expect(b.mtip.map((p) => p.level)).toEqual(a.mtip.map((p) => p.level));
    }
    expect(b.mtip[0]!.level).toBe(1);
    expect(b.clint.saveState()).toEqual(a.clint.saveState());
  });

  it('refuses bad configurations and saved state of another shape', () => {
    expect(() => rig(0)).toThrow(/E_BAD_ARGUMENT/);
    expect(() => rig(4096)).toThrow(/E_BAD_ARGUMENT/);
    expect(() => rig(1, { timebase: 0 })).toThrow(/E_BAD_ARGUMENT/);
    expect(() => rig(1, { timebase: 1.5 })).toThrow(/E_BAD_ARGUMENT/);
    const { clint } = rig(2);
    const good = clint.saveState();
    expect(() => clint.loadState(null)).toThrow(/E_BAD_ARGUMENT/);
    expect(() => clint.loadState({ ...good, harts: 3 })).toThrow(/E_BAD_ARGUMENT/);
    expect(() => clint.loadState({ ...good, mtimecmp: ['1', '-1'] })).toThrow(/mtimecmp/);
    expect(() => clint.loadState({ ...good, timeDelta: String(1n << 64n) })).toThrow(/timeDelta/);
    expect(() => clint.loadState({ ...good, msip: [0, 2] })).toThrow(/msip/);
  });
});
