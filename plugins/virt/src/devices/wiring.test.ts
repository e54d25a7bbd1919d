/**
 * The devices wired as the virt machine wires them (one clock, the UART on PLIC source 10,
 * the RTC on 11, hart 0's inputs recorded), driven the way OpenSBI and Linux drive them.
 */
import { describe, expect, it } from 'vitest';
import { Clint, GoldfishRtc, Plic, SifiveTest, Uart16550 } from './index.js';
import { FakeCharBackend } from './test-support/fake-char-backend.js';
import { FakeClock } from './test-support/fake-clock.js';
import { IrqProbe } from './test-support/irq-probe.js';
import { rd, rd64, wr } from './test-support/mmio-bus.js';

const BASE = 1_700_000_000n * 1_000_000_000n;

function machine(clock = new FakeClock()) {
  const hart = {
    msip: new IrqProbe(),
    mtip: new IrqProbe(),
    meip: new IrqProbe(),
    seip: new IrqProbe(),
  };
  const console = new FakeCharBackend();
  const shutdowns: [string, number | undefined][] = [];
  const clint = new Clint({ clock, harts: [{ msip: hart.msip.set, mtip: hart.mtip.set }] });
  const plic = new Plic({ contexts: [hart.meip.set, hart.seip.set] });
  const uart = new Uart16550({ clock, irq: plic.sourceSetter(10), backend: console });
  const rtc = new GoldfishRtc({ clock, irq: plic.sourceSetter(11), baseNs: BASE });
  const test = new SifiveTest({ shutdown: (kind, code) => shutdowns.push([kind, code]) });
  const devices = { clint, plic, uart, rtc, test };
  const inputs = () => [hart.msip.level, hart.mtip.level, hart.meip.level, hart.seip.level];
  return { clock, hart, console, shutdowns, devices, inputs, ...devices };
}

type Machine = ReturnType<typeof machine>;

/** What OpenSBI and Linux set up: the timer disarmed, the UART and RTC routed to S-mode. */
function boot(m: Machine): void {
  wr(m.clint, 0x4000, 0xffff_ffff_ffff_ffffn, 8);
  wr(m.plic, 4 * 10, 1);
  wr(m.plic, 4 * 11, 1);
  wr(m.plic, 0x2080, (1 << 10) | (1 << 11)); // context 1: hart 0 S-mode
  wr(m.plic, 0x201000, 0);
  wr(m.uart, 3, 0x83, 1); // DLAB, 8N1
  wr(m.uart, 0, 2, 1);
  wr(m.uart, 3, 0x03, 1);
  wr(m.uart, 2, 0x81, 1); // FIFO, trigger 8 (Linux's 16550A setting)
  wr(m.uart, 1, 0x01, 1); // RDI
}

/** The S-mode external interrupt handler: claim, serve the source, complete. */
function serveExternal(m: Machine): number[] {
  const served: number[] = [];
  for (let id = rd(m.plic, 0x201004); id !== 0; id = rd(m.plic, 0x201004)) {
    if (id === 10) {
      while (rd(m.uart, 5, 1) & 0x01) served.push(rd(m.uart, 0, 1));
    } else if (id === 11) {
      wr(m.rtc, 0x1c, 1);
      served.push(-11);
    }
    wr(m.plic, 0x201004, id);
  }
  return served;
}

describe('the virt devices wired together', () => {
  it('brings console input to the S-mode external interrupt after the character timeout', () => {
    const m = machine();
    boot(m);
    expect(m.inputs()).toEqual([0, 0, 0, 0]);
    m.console.type('ls\n');
    m.console.deliver();
    expect(m.hart.seip.level).toBe(0); // 3 bytes: below the trigger level of 8
    m.clock.advanceToNext(); // 4 character times later
    expect(m.hart.seip.level).toBe(1);
    expect(m.hart.meip.level).toBe(0);
    expect(serveExternal(m)).toEqual([0x6c, 0x73, 0x0a]);
    expect(m.hart.seip.level).toBe(0);
  });

  it('raises MTIP when the SBI timer is due, and an RTC alarm through the PLIC', () => {
    const m = machine();
    boot(m);
    m.clock.advanceTo(1_000_000);
    const now = rd64(m.clint, 0xbff8);
    wr(m.clint, 0x4000, now + 10_000n, 8); // 1 ms at 10 MHz
    m.clock.advance(999_999);
    expect(m.hart.mtip.level).toBe(0);
    m.clock.advance(1);
    expect(m.hart.mtip.level).toBe(1);

    wr(m.rtc, 0x0c, Number((BASE + 5_000_000n) >> 32n));
    wr(m.rtc, 0x08, Number((BASE + 5_000_000n) & 0xffffffffn));
    wr(m.rtc, 0x10, 1);
    m.clock.advanceTo(5_000_000);
    expect(m.hart.seip.level).toBe(1);
    expect(serveExternal(m)).toEqual([-11]);
    expect(m.hart.seip.level).toBe(0);
  });

  it('sends an IPI through msip and powers off through the test finisher', () => {
    const m = machine();
    wr(m.clint, 0, 1);
    expect(m.hart.msip.level).toBe(1);
    wr(m.clint, 0, 0);
    expect(m.hart.msip.level).toBe(0);
    wr(m.test, 0, 0x5555);
    expect(m.shutdowns).toEqual([['poweroff', 0]]);
  });

  it('restores all devices into a fresh machine that continues identically', () => {
    const a = machine();
    boot(a);
    a.clock.advanceTo(2_000_000);
    wr(a.clint, 0x4000, rd64(a.clint, 0xbff8) + 777n, 8);
    a.console.type('hello');
    a.console.deliver();
    wr(a.rtc, 0x0c, Number((BASE + 3_000_000n) >> 32n));
    wr(a.rtc, 0x08, Number((BASE + 3_000_000n) & 0xffffffffn));
    wr(a.rtc, 0x10, 1);
    const saved = JSON.parse(
      JSON.stringify(
        Object.fromEntries(Object.entries(a.devices).map(([k, d]) => [k, d.saveState()])),
      ),
    );

    const b = machine(new FakeClock(2_000_000));
    for (const [k, d] of Object.entries(b.devices)) d.loadState(saved[k]);
    expect(b.inputs()).toEqual(a.inputs());
    const run = (m: Machine) => {
      const seen: unknown[] = [];
      while (m.clock.advanceToNext()) seen.push(m.clock.now(), m.inputs(), serveExternal(m));
      return seen;
    };
    const trace = run(a);
    expect(run(b)).toEqual(trace);
    expect(trace.length).toBeGreaterThanOrEqual(9); // the UART timeout, MTIP, the RTC alarm
  });
});
