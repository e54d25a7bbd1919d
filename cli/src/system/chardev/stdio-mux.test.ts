import { describe, expect, it } from 'vitest';
import { Endpoint } from './endpoint.js';
import { StdioMux } from './stdio-mux.js';

function setup() {
  const out: string[] = [];
  const base = new Endpoint((b) => out.push(Buffer.from(b).toString()));
  let quits = 0;
  const mux = new StdioMux(base, () => quits++);
  const got = { console: [] as number[], monitor: [] as number[], opened: [] as string[] };
  const con = mux.add();
  con.onData = (b) => got.console.push(...b);
  con.onOpen = () => got.opened.push('console');
  const mon = mux.add();
  mon.onData = (b) => got.monitor.push(...b);
  mon.onOpen = () => got.opened.push('monitor');
  const type = (...parts: (string | number)[]) =>
    base.input(
      new Uint8Array(parts.flatMap((p) => (typeof p === 'number' ? [p] : [...Buffer.from(p)]))),
    );
  return { mux, got, type, out, quits: () => quits, con, mon };
}

describe('StdioMux (QEMU C-a escapes)', () => {
  it('passes keys to the console, C-a C-a as one C-a, and drops unknown escapes', () => {
    const { got, type } = setup();
    type('ls', 0x01, 0x01, 'x', 0x01, 'z', '\r');
    expect(Buffer.from(got.console).toString()).toBe('ls\x01x\r');
  });

  it('C-a c switches input between console and monitor, and tells the one that gets it', () => {
    const { mux, got, type } = setup();
    mux.start();
    type('a', 0x01, 'c', 'info', 0x01);
    type('c', 'b');
    expect(Buffer.from(got.console).toString()).toBe('ab');
    expect(Buffer.from(got.monitor).toString()).toBe('info');
    expect(got.opened).toEqual(['console', 'monitor', 'console']);
  });

  it('C-a x quits and drops what follows; C-a h prints the keys', () => {
    const { got, type, out, quits } = setup();
    type(0x01, 'h');
    expect(out.join('')).toMatch(/C-a x {4}exit emulator/);
    type('q', 0x01, 'x', 'more');
    expect(quits()).toBe(1);
    expect(Buffer.from(got.console).toString()).toBe('q');
    expect(out.join('')).toMatch(/Terminated/);
  });

  it('output from both frontends reaches the terminal whatever has the focus', () => {
    const { con, mon, out } = setup();
    con.write(Buffer.from('guest '));
    mon.write(Buffer.from('(qemu) '));
    expect(out.join('')).toBe('guest (qemu) ');
  });
});
