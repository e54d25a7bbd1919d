import { describe, expect, it } from 'vitest';
import { FakeCharBackend } from './test-support/fake-char-backend.js';
import { FakeClock } from './test-support/fake-clock.js';
import { IrqProbe } from './test-support/irq-probe.js';
import { rd, read, wr, write } from './test-support/mmio-bus.js';
import { Uart16550 } from './uart16550.js';

const RBR = 0;
const THR = 0;
const IER = 1;
const IIR = 2;
const FCR = 2;
const LCR = 3;
const MCR = 4;
const LSR = 5;
const MSR = 6;
const SCR = 7;

function rig(withBackend = true, clock = new FakeClock()) {
  const irq = new IrqProbe();
  const backend = withBackend ? new FakeCharBackend() : undefined;
  const uart = new Uart16550({ clock, irq: irq.set, ...(backend ? { backend } : {}) });
  const r = (off: number) => rd(uart, off, 1);
  const w = (off: number, v: number) => wr(uart, off, v, 1);
  return { clock, irq, backend: backend!, uart, r, w };
}

/** 8N1 at divisor 2 (115200 baud on a 3.6864 MHz clock, as Linux programs it). */
function setLine(w: (off: number, v: number) => void, divisor = 2): void {
  w(LCR, 0x80);
  w(0, divisor & 0xff);
  w(1, divisor >> 8);
  w(LCR, 0x03);
}

describe('ns16550a UART (QEMU serial.c behind serial_mm, reg-shift 0)', () => {
  it('comes out of reset with QEMU’s register values', () => {
    const { r, w, irq, uart } = rig();
    expect(uart.size).toBe(0x100);
    expect([RBR, IER, IIR, LCR, MCR, LSR, MSR, SCR].map(r)).toEqual([
      0, 0, 0x01, 0, 0x08, 0x60, 0xb0, 0,
    ]);
    w(LCR, 0x80);
    expect([r(0), r(1)]).toEqual([0x0c, 0]); // divisor 12: 9600 baud on a 1.8432 MHz clock
    expect(irq.level).toBe(0);
  });

  it('transmits each THR write to the backend at once, THR and shifter empty again', () => {
    const { r, w, backend } = rig();
    for (const c of 'hello\n') w(THR, c.charCodeAt(0));
    expect(backend.text).toBe('hello\n');
    expect(r(LSR)).toBe(0x60);
  });

  it('works without a backend: output dropped, no input', () => {
    const { r, w, uart } = rig(false);
    w(THR, 0x41);
    expect(r(LSR)).toBe(0x60);
    expect(uart.canReceive()).toBe(1);
    expect(r(RBR)).toBe(0);
  });

  it('raises THR empty when enabled, acknowledged by reading IIR, raised again by a THR write', () => {
    const { r, w, irq } = rig();
    w(IER, 0x02);
    expect(irq.level).toBe(1);
    expect(r(IIR)).toBe(0x02);
    // That read acknowledged it.
    expect(irq.level).toBe(0);
    expect(r(IIR)).toBe(0x01);
    // A transmitted byte empties THR again: the interrupt comes back.
    w(THR, 0x41);
    expect(irq.level).toBe(1);
    // Rewriting IER with THRI still set changes nothing; clearing it lowers the line.
    w(IER, 0x02);
    expect(irq.level).toBe(1);
    w(IER, 0x00);
    expect(irq.level).toBe(0);
    // Turning THRI on again re-samples THRE (even after an IIR acknowledgement).
    w(IER, 0x02);
    expect(irq.level).toBe(1);
  });

  it('receives into RBR without FIFOs, one byte at a time, and asks for more when read', () => {
    const { r, w, irq, backend, uart } = rig();
    w(IER, 0x01);
    backend.type('ab');
    expect(uart.canReceive()).toBe(1);
    expect(backend.deliver()).toBe(1);
    expect(r(LSR) & 0x01).toBe(1);
    expect(irq.level).toBe(1);
    expect(r(IIR)).toBe(0x04);
    const ready = backend.readyCalls;
    expect(r(RBR)).toBe(0x61);
    expect(backend.readyCalls).toBe(ready + 1);
    expect(irq.level).toBe(0);
    expect(r(LSR) & 0x01).toBe(0);
    expect(backend.deliver()).toBe(1);
    expect(r(RBR)).toBe(0x62);
  });

  it('reports an overrun as a line-status interrupt, cleared by reading LSR', () => {
    const { r, w, irq, uart } = rig();
    w(IER, 0x05); // RDI | RLSI
    uart.receive(Uint8Array.of(1, 2));
    expect(r(IIR)).toBe(0x06); // line status outranks received data
    expect(r(LSR)).toBe(0x63); // DR | OE | THRE | TEMT
    expect(r(LSR)).toBe(0x61);
    expect(r(IIR)).toBe(0x04);
    expect(r(RBR)).toBe(2); // the later byte replaced the first
    expect(irq.level).toBe(0);
  });

  it('interrupts at the FIFO trigger level (1, 4, 8, 14 bytes)', () => {
    for (const [fcr, level] of [
      [0x01, 1],
      [0x41, 4],
      [0x81, 8],
      [0xc1, 14],
    ] as const) {
      const { r, w, irq, uart } = rig();
      w(FCR, fcr);
      w(IER, 0x01);
      expect(r(IIR)).toBe(0xc1); // FIFOs enabled, no interrupt
      expect(uart.canReceive()).toBe(16);
      uart.receive(Uint8Array.from({ length: level - 1 }, (_, i) => i));
      expect(irq.level, `FCR 0x${fcr.toString(16)}`).toBe(0);
      uart.receive(Uint8Array.of(0xee));
      expect(irq.level).toBe(1);
      expect(r(IIR)).toBe(0xc4);
      expect(uart.canReceive()).toBe(16 - level);
      expect(r(RBR)).toBe(level === 1 ? 0xee : 0);
    }
  });

  it('raises the character timeout 4 character times after the last byte in or out', () => {
    const { r, w, irq, uart, clock } = rig();
    setLine(w);
    // 10 bits per character * 2 / 399193 Hz = 50101 ns; the timeout is 4 of those.
    const timeout = 4 * Math.floor((1e9 * 10 * 2) / 399193);
    w(FCR, 0xc1);
    w(IER, 0x01);
    clock.advanceTo(1000);
    uart.receive(Uint8Array.of(0x31, 0x32, 0x33));
    expect(clock.get('uart0.rx-timeout').deadline).toBe(1000 + timeout);
    clock.advanceTo(1000 + timeout - 1);
    expect(irq.level).toBe(0);
    clock.advance(1);
    expect(irq.level).toBe(1);
    expect(r(IIR)).toBe(0xcc);
    // Reading a byte clears it and starts the count again, since the FIFO still holds data.
    expect(r(RBR)).toBe(0x31);
    expect(irq.level).toBe(0);
    expect(clock.get('uart0.rx-timeout').deadline).toBe(1000 + 2 * timeout);
    clock.advanceTo(1000 + 2 * timeout);
    expect(irq.level).toBe(1);
    expect(r(RBR)).toBe(0x32);
    expect(r(RBR)).toBe(0x33);
    expect(r(LSR) & 0x01).toBe(0);
    expect(clock.get('uart0.rx-timeout').pending).toBe(false);
    expect(irq.level).toBe(0);
    // With RDI disabled the timeout does not interrupt (QEMU, as seen on hardware).
    w(IER, 0x00);
    uart.receive(Uint8Array.of(0x34));
    clock.advance(timeout);
    expect(irq.level).toBe(0);
  });

  it('keeps the first 16 bytes on a FIFO overrun and flags OE', () => {
    const { r, w, uart } = rig();
    w(FCR, 0x01);
    uart.receive(Uint8Array.from({ length: 17 }, (_, i) => 0x40 + i));
    expect(uart.canReceive()).toBe(0);
    expect(r(LSR) & 0x03).toBe(0x03);
    const got = Array.from({ length: 16 }, () => r(RBR));
    expect(got).toEqual(Array.from({ length: 16 }, (_, i) => 0x40 + i));
    expect(r(LSR) & 0x01).toBe(0);
  });

  it('clears the FIFOs on FCR reset bits and whenever FIFO enable changes', () => {
    const { r, w, uart, backend } = rig();
    w(FCR, 0x01);
    uart.receive(Uint8Array.of(1, 2, 3));
    const ready = backend.readyCalls;
    w(FCR, 0x03); // receive FIFO reset
    expect(r(LSR) & 0x01).toBe(0);
    expect(uart.canReceive()).toBe(16);
    expect(backend.readyCalls).toBe(ready + 1);
    uart.receive(Uint8Array.of(4));
    w(FCR, 0x00); // FIFOs off: cleared too
    expect(r(LSR) & 0x01).toBe(0);
    expect(r(IIR)).toBe(0x01);
    expect(uart.canReceive()).toBe(1);
    // The transmit FIFO reset makes THR empty pending.
    w(IER, 0x02);
    expect(r(IIR)).toBe(0x02);
    expect(r(IIR)).toBe(0x01);
    w(FCR, 0x04);
    expect(r(IIR)).toBe(0x02);
  });

  it('ranks simultaneous causes: line status, data/timeout, THR empty, modem status', () => {
    const { r, w, uart } = rig();
    w(IER, 0x0f);
    w(MCR, 0x10); // loopback, outputs off: DCD, DSR and CTS drop, a modem status cause
    uart.receive(Uint8Array.of(9)); // nothing: input is disconnected in loopback...
    w(THR, 0x55); // ...but transmitted bytes come back
    w(THR, 0x56); // overrun
    expect(r(IIR)).toBe(0x06);
    r(LSR);
    expect(r(IIR)).toBe(0x04);
    r(RBR);
    expect(r(IIR)).toBe(0x02);
    expect(r(IIR)).toBe(0x00); // the THRE read acknowledged it; modem status remains
    expect(r(MSR)).toBe(0x0b); // DDCD | DDSR | DCTS, no inputs (MCR outputs all 0)
    expect(r(IIR)).toBe(0x01);
  });

  it('loops back in MCR loopback: output to the receiver, modem outputs to the inputs', () => {
    const { r, w, irq, uart, backend } = rig();
    w(IER, 0x08);
    w(MCR, 0x1a); // LOOP | OUT2 | RTS
    expect(r(MSR)).toBe(0x90 | 0x02); // DCD | CTS, DSR fell
    expect(irq.level).toBe(0);
    w(MCR, 0x1f); // DTR, RTS, OUT1, OUT2 all set
    expect(irq.level).toBe(1);
    expect(r(IIR)).toBe(0x00);
    expect(r(MSR)).toBe(0xf0 | 0x02); // DSR rose; RI rising is not a trailing edge
    w(MCR, 0x1b); // OUT1 off: RI falls
    expect(r(MSR)).toBe(0xb0 | 0x04);
    expect(r(MSR)).toBe(0xb0);
    expect(uart.canReceive()).toBe(0);
    w(THR, 0x7a);
    expect(backend.output).toEqual([]);
    expect(r(RBR)).toBe(0x7a);
    const ready = backend.readyCalls;
    w(MCR, 0x08); // back to normal: input reconnected
    expect(backend.readyCalls).toBe(ready + 1);
    expect(r(MSR)).toBe(0xb0); // inputs back to DCD DSR CTS, no change from 0xb0
    w(THR, 0x7b);
    expect(backend.output).toEqual([0x7b]);
  });

  it('serves the divisor latch under DLAB without touching THR, IER or the line', () => {
    const { r, w, backend } = rig();
    w(LCR, 0x83);
    w(0, 0x34);
    w(1, 0x12);
    expect([r(0), r(1), r(LCR)]).toEqual([0x34, 0x12, 0x83]);
    w(LCR, 0x03);
    expect([r(IER), r(LCR)]).toEqual([0, 0x03]);
    expect(backend.output).toEqual([]);
    w(IER, 0xff);
    expect(r(IER)).toBe(0x0f);
    w(MCR, 0xff);
    expect(r(MCR)).toBe(0x1f);
    w(SCR, 0xa5);
    expect(r(SCR)).toBe(0xa5);
    w(LSR, 0);
    w(MSR, 0);
    expect([r(LSR), r(MSR) & 0xf0]).toEqual([0x60, 0xf0]); // MCR 0x1f: loopback, all outputs on
  });

  it('takes 1- to 8-byte aligned accesses, each reaching the one register at its offset', () => {
    const { uart, backend } = rig();
    expect(read(uart, LSR, 1)).toBe(0x60);
    expect(read(uart, 4, 4)).toBe(0x08); // MCR only, zero-extended
    expect(read(uart, 0, 8)).toBe(0n);
    expect(write(uart, 0, 0x1234_5641n, 8)).toBe('ok'); // the low byte goes out
    expect(write(uart, 0, 0x142, 2)).toBe('ok');
    expect(backend.output).toEqual([0x41, 0x42]);
    expect(read(uart, 1, 2)).toBe('access-error');
    for (const off of [8, 0x10, 0xff]) {
      expect(read(uart, off, 1)).toBe('decode-error');
      expect(write(uart, off, 0, 1)).toBe('decode-error');
    }
  });

  it('resets every register, the FIFO and the interrupt, and lets input flow again', () => {
    const { r, w, irq, uart, clock, backend } = rig();
    setLine(w, 1);
    w(FCR, 0xc7);
    w(IER, 0x0f);
    w(SCR, 0x11);
    w(MCR, 0x1f);
    w(THR, 0x20);
    expect(irq.level).toBe(1);
    const ready = backend.readyCalls;
    uart.reset();
    expect(irq.level).toBe(0);
    expect(backend.readyCalls).toBe(ready + 1);
    expect([RBR, IER, IIR, LCR, MCR, LSR, MSR, SCR].map(r)).toEqual([
      0, 0, 0x01, 0, 0x08, 0x60, 0xb0, 0,
    ]);
    expect(clock.get('uart0.rx-timeout').pending).toBe(false);
    expect(uart.canReceive()).toBe(1);
  });

  it('restores into a fresh instance that continues identically, its timeout re-armed', () => {
    const a = rig();
    setLine(a.w);
    a.w(FCR, 0x81);
    a.w(IER, 0x07);
    a.w(SCR, 0x5a);
    a.clock.advanceTo(5_000);
    a.uart.receive(Uint8Array.of(10, 20, 30));
    a.r(RBR);
    const saved = JSON.parse(JSON.stringify(a.uart.saveState()));

    const b = rig(true, new FakeClock(5_000));
    b.uart.loadState(saved);
    expect(b.irq.level).toBe(a.irq.level);
    expect(b.clock.get('uart0.rx-timeout').deadline).toBe(a.clock.get('uart0.rx-timeout').deadline);
    const trace = (x: typeof a) => {
      const seen: number[] = [];
      for (let i = 0; i < 4; i++) {
        x.clock.advance(100_000);
        seen.push(x.irq.level, x.r(IIR), x.r(LSR), x.r(SCR), x.r(RBR));
      }
      return seen;
    };
    expect(trace(b)).toEqual(trace(a));
    expect(b.uart.saveState()).toEqual(a.uart.saveState());
    expect(() => b.uart.loadState({ ...saved, rx: new Array(17).fill(0) })).toThrow(/rx/);
    expect(() => b.uart.loadState({ ...saved, ier: 0x10 })).toThrow(/E_BAD_ARGUMENT/);
  });
});
