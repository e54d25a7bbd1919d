import { describe, expect, it } from 'vitest';
import { GoldfishRtc } from './goldfish-rtc.js';
import { FakeClock } from './test-support/fake-clock.js';
import { IrqProbe } from './test-support/irq-probe.js';
import { rd, read, wr, write } from './test-support/mmio-bus.js';

const TIME_LOW = 0x00;
const TIME_HIGH = 0x04;
const ALARM_LOW = 0x08;
const ALARM_HIGH = 0x0c;
const IRQ_ENABLED = 0x10;
const CLEAR_ALARM = 0x14;
const ALARM_STATUS = 0x18;
const CLEAR_INTERRUPT = 0x1c;

/** 2023-11-14T22:13:20Z. */
const BASE = 1_700_000_000n * 1_000_000_000n;
const SECOND = 1_000_000_000;

function rig(base = BASE, clock = new FakeClock()) {
  const irq = new IrqProbe();
  const rtc = new GoldfishRtc({ clock, irq: irq.set, baseNs: base });
  /** The time as Linux reads it: TIME_LOW first (latching), then TIME_HIGH. */
  const time = () => {
    const lo = BigInt(rd(rtc, TIME_LOW));
    return (BigInt(rd(rtc, TIME_HIGH)) << 32n) | lo;
  };
  /** An alarm as Linux sets it: high half, low half (which arms), then enable. */
  const alarmAt = (ns: bigint) => {
    wr(rtc, ALARM_HIGH, Number(ns >> 32n));
    wr(rtc, ALARM_LOW, Number(ns & 0xffffffffn));
    wr(rtc, IRQ_ENABLED, 1);
  };
  return { clock, irq, rtc, time, alarmAt };
}

describe('goldfish RTC (google,goldfish-rtc)', () => {
  it('counts ns since the epoch from the base the machine gives, on the virtual clock', () => {
    const { clock, rtc, time } = rig();
    expect(rtc.size).toBe(0x1000);
    expect(time()).toBe(BASE);
    clock.advance(1_234_567);
    expect(time()).toBe(BASE + 1_234_567n);
    expect(rtc.now()).toBe(BASE + 1_234_567n);
  });

  it('gives TIME_HIGH as latched by the last TIME_LOW read', () => {
    const { clock, rtc } = rig((1n << 32n) - 10n);
    expect(rd(rtc, TIME_HIGH)).toBe(0); // nothing latched yet
    expect(rd(rtc, TIME_LOW)).toBe(0xffff_fff6);
    clock.advance(20); // the count carries into the high half...
    expect(rd(rtc, TIME_HIGH)).toBe(0); // ...but the latch holds the value read with TIME_LOW
    expect(rd(rtc, TIME_LOW)).toBe(10);
    expect(rd(rtc, TIME_HIGH)).toBe(1);
  });

  it('lets the guest set the time, half by half, and keeps counting from there', () => {
    const { clock, rtc, time } = rig();
    const set = 0x1234_5678_9abc_def0n;
    wr(rtc, TIME_HIGH, Number(set >> 32n));
    wr(rtc, TIME_LOW, Number(set & 0xffffffffn));
    expect(time()).toBe(set);
    clock.advance(SECOND);
    expect(time()).toBe(set + BigInt(SECOND));
  });

  it('raises the alarm at exactly its time, while enabled, until acknowledged', () => {
    const { clock, irq, rtc, alarmAt } = rig();
    clock.advanceTo(5 * SECOND);
    const at = BASE + BigInt(7 * SECOND);
    alarmAt(at);
    expect(rd(rtc, ALARM_STATUS)).toBe(1);
    expect([rd(rtc, ALARM_LOW), rd(rtc, ALARM_HIGH)]).toEqual([
      Number(at & 0xffffffffn),
      Number(at >> 32n),
    ]);
    expect(rd(rtc, IRQ_ENABLED)).toBe(1);
    clock.advanceTo(7 * SECOND - 1);
    expect(irq.level).toBe(0);
    clock.advance(1);
    expect(irq.level).toBe(1);
    expect(rd(rtc, ALARM_STATUS)).toBe(0);
    wr(rtc, CLEAR_INTERRUPT, 1);
    expect(irq.level).toBe(0);
  });

  it('fires an alarm that is not in the future at once; the interrupt waits for IRQ_ENABLED', () => {
    const { clock, irq, rtc } = rig();
    clock.advanceTo(SECOND);
    wr(rtc, ALARM_HIGH, Number(BASE >> 32n));
    wr(rtc, ALARM_LOW, Number(BASE & 0xffffffffn));
    expect(rd(rtc, ALARM_STATUS)).toBe(0);
    expect(irq.level).toBe(0);
    wr(rtc, IRQ_ENABLED, 1);
    expect(irq.level).toBe(1);
    wr(rtc, IRQ_ENABLED, 0);
    expect(irq.level).toBe(0);
    wr(rtc, IRQ_ENABLED, 1);
    wr(rtc, CLEAR_INTERRUPT, 0);
    expect(irq.level).toBe(0);
  });

  it('disarms on CLEAR_ALARM', () => {
    const { clock, irq, rtc, alarmAt } = rig();
    alarmAt(BASE + BigInt(SECOND));
    wr(rtc, CLEAR_ALARM, 1);
    expect(rd(rtc, ALARM_STATUS)).toBe(0);
    clock.advance(2 * SECOND);
    expect(irq.level).toBe(0);
  });

  it('keeps an armed alarm’s virtual deadline when the time is written afterwards (QEMU)', () => {
    const { clock, irq, rtc, alarmAt } = rig();
    alarmAt(BASE + BigInt(10 * SECOND));
    wr(rtc, TIME_HIGH, 0); // the time jumps back decades
    expect(clock.get('rtc.alarm').deadline).toBe(10 * SECOND);
    clock.advanceTo(10 * SECOND);
    expect(irq.level).toBe(1);
  });

  it('never fires an alarm past what the virtual clock can reach, but shows it armed', () => {
    const { clock, irq, rtc, alarmAt } = rig();
    alarmAt((1n << 64n) - 1n);
    expect(rd(rtc, ALARM_STATUS)).toBe(1);
    expect(clock.get('rtc.alarm').pending).toBe(false);
    clock.advanceTo(Number.MAX_SAFE_INTEGER);
    expect(irq.level).toBe(0);
  });

  it('takes 32-bit accesses only; nothing past 0x24; unknown registers read 0', () => {
    const { rtc } = rig();
    for (const size of [1, 2, 8] as const) {
      expect(read(rtc, TIME_LOW, size)).toBe('access-error');
      expect(write(rtc, IRQ_ENABLED, 1, size)).toBe('access-error');
    }
    for (const off of [0x24, 0x100, 0xffc]) {
      expect(read(rtc, off)).toBe('decode-error');
      expect(write(rtc, off, 1)).toBe('decode-error');
    }
    for (const off of [CLEAR_ALARM, CLEAR_INTERRUPT, 0x20]) expect(rd(rtc, off)).toBe(0);
    wr(rtc, ALARM_STATUS, 1);
    wr(rtc, 0x20, 1);
    expect(rd(rtc, ALARM_STATUS)).toBe(0);
  });

  it('resets the alarm and the interrupt but not the time', () => {
    const { clock, irq, rtc, time, alarmAt } = rig();
    wr(rtc, TIME_LOW, 0);
    alarmAt(BASE + BigInt(SECOND));
    clock.advance(SECOND / 2);
    const before = time();
    rtc.reset();
    expect(time()).toBe(before);
    expect([ALARM_LOW, ALARM_HIGH, IRQ_ENABLED, ALARM_STATUS].map((o) => rd(rtc, o))).toEqual([
      0, 0, 0, 0,
    ]);
    clock.advance(SECOND);
    expect(irq.level).toBe(0);
  });

  it('restores into a fresh instance that continues identically, its alarm re-armed', () => {
    const a = rig();
    a.clock.advanceTo(3 * SECOND);
    a.alarmAt(BASE + BigInt(5 * SECOND));
    a.time();
    wr(a.rtc, TIME_LOW, 0x42);
    const saved = JSON.parse(JSON.stringify(a.rtc.saveState()));
    const b = rig(0n, new FakeClock(3 * SECOND));
    b.rtc.loadState(saved);
    expect(b.clock.get('rtc.alarm').deadline).toBe(5 * SECOND);
    expect(rd(b.rtc, TIME_HIGH)).toBe(rd(a.rtc, TIME_HIGH));
    for (const x of [a, b]) x.clock.advanceTo(5 * SECOND);
    expect([b.irq.level, b.time()]).toEqual([a.irq.level, a.time()]);
    expect(b.irq.level).toBe(1);
    expect(b.rtc.saveState()).toEqual(a.rtc.saveState());
    expect(() => b.rtc.loadState({ ...saved, alarmNext: '-5' })).toThrow(/alarmNext/);
    expect(() => new GoldfishRtc({ clock: new FakeClock(), irq: () => {}, baseNs: -1n })).toThrow(
      /E_BAD_ARGUMENT/,
    );
  });
});
