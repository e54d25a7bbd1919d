import { describe, expect, it } from 'vitest';
import { DeviceGuard } from '../guard.js';
import { createKernelHooks } from '../hooks.js';
import { VirtualClock } from './virtual-clock.js';

describe('virtual clock', () => {
  it('fires timers in deadline order, each seeing the clock at its deadline', () => {
    const clock = new VirtualClock();
    const seen: [string, number][] = [];
    const mk = (name: string) => clock.createTimer(() => seen.push([name, clock.now]), { name });
    mk('c').armAt(300);
    mk('a').armAt(100);
    mk('b').armAt(200);
    mk('a2').armAt(100);
    expect(clock.step(250)).toBe(250);
    expect(seen).toEqual([
      ['a', 100],
      ['a2', 100],
      ['b', 200],
    ]);
    expect(clock.now).toBe(250);
    expect(clock.nextDeadline()).toBe(300);
  });

  it('fires a timer that re-arms itself every period within one step', () => {
    const clock = new VirtualClock();
    const at: number[] = [];
    const t = clock.createTimer(() => {
      at.push(clock.now);
      if (at.length < 5) t.armIn(1000);
    });
    t.armAt(1000);
    clock.step(10_000);
    expect(at).toEqual([1000, 2000, 3000, 4000, 5000]);
    expect(t.pending).toBe(false);
  });

  it('steps to the next deadline, and reports when there is none', () => {
    const clock = new VirtualClock();
    let fired = 0;
    clock.createTimer(() => fired++).armAt(12345);
    expect(clock.stepToNext()).toBe(12345);
    expect(fired).toBe(1);
    expect(clock.stepToNext()).toBeUndefined();
    expect(clock.now).toBe(12345);
  });

  it('sets an absolute time, never backwards', () => {
    const clock = new VirtualClock();
    let fired = 0;
    clock.createTimer(() => fired++).armAt(500);
    expect(clock.setTime(1000)).toBe(1000);
    expect(fired).toBe(1);
    expect(clock.setTime(10)).toBe(1000);
    expect(() => clock.step(-1)).toThrow(/E_BAD_ARGUMENT/);
    expect(() => clock.setTime(1.5)).toThrow(/E_BAD_ARGUMENT/);
  });

  it('cancels, re-arms and fires a past deadline at the next step', () => {
    const clock = new VirtualClock();
    let fired = 0;
    const t = clock.createTimer(() => fired++);
    t.armAt(100);
    t.cancel();
    clock.step(200);
    expect(fired).toBe(0);
    t.armAt(50);
    expect(t.deadline).toBe(200);
    clock.step(0);
    expect(fired).toBe(1);
  });

  it('quarantines a device whose timer keeps re-arming for now, instead of hanging', () => {
    const clock = new VirtualClock();
    const guard = new DeviceGuard('spinner', createKernelHooks());
    const t = clock.createTimer(() => t.armIn(0), { guard, name: 'spin' });
    t.armAt(10);
    clock.step(100);
    expect(guard.quarantined).toBe(true);
    expect(String(guard.lastFault?.error)).toMatch(/livelocked/);
    expect(clock.now).toBe(100);
  });

  it('keeps a timer heap consistent under many random operations', () => {
    const clock = new VirtualClock();
    const fired: number[] = [];
    const timers = Array.from({ length: 200 }, (_, i) =>
      clock.createTimer(() => fired.push(clock.now), { name: `t${i}` }),
    );
    let seed = 1;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let k = 0; k < 2000; k++) {
      const t = timers[rnd() % timers.length]!;
      if (rnd() % 3 === 0) t.cancel();
      else t.armAt(clock.now + (rnd() % 10_000));
      if (k % 50 === 0) clock.step(rnd() % 5000);
    }
    clock.step(20_000);
    for (let i = 1; i < fired.length; i++) expect(fired[i]!).toBeGreaterThanOrEqual(fired[i - 1]!);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('VirtualClock save and load', () => {
  it('puts back the time and the pending timers, equal deadlines in arming order', () => {
    const c = new VirtualClock();
    const fired: string[] = [];
    const a = c.createTimer(() => fired.push(`a@${c.now}`), { name: 'a' });
    const b = c.createTimer(() => fired.push(`b@${c.now}`), { name: 'b' });
    const idle = c.createTimer(() => fired.push('idle'), { name: 'idle' });
    b.armAt(100);
    a.armAt(100);
    c.step(10);
    const saved = structuredClone(c.save());
    c.step(200);
    idle.armAt(300);
    expect(fired).toEqual(['b@100', 'a@100']);
    c.load(saved);
    expect(c.now).toBe(10);
    expect(idle.pending).toBe(false);
    c.step(200);
    expect(fired).toEqual(['b@100', 'a@100', 'b@100', 'a@100']);
  });

  it('refuses an unknown timer or a shared name without changing anything', () => {
    const c = new VirtualClock();
    const t = c.createTimer(() => {}, { name: 'x' });
    t.armAt(50);
    expect(() =>
      c.load({ now: 0, seq: 0, timers: [{ name: 'nope', deadline: 5, seq: 0 }] }),
    ).toThrow(/no timer named 'nope'/);
    expect(t.deadline).toBe(50);
    c.createTimer(() => {}, { name: 'x' });
    expect(() => c.save()).toThrow(/not unique/);
  });
});
