import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Emulator, loadBundled, PluginHost } from '@emuhost/host';
import { loadPluginDir } from '@emuhost/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { POLL_READS, QtestSession } from './session.js';
import { serveStream } from './transport.js';

const FIXTURE = fileURLToPath(new URL('../../../host/src/__fixtures__/dma-copy', import.meta.url));
let pc: Awaited<ReturnType<typeof loadBundled>>;
beforeAll(async () => {
  pc = await loadBundled(new PluginHost(), 'pc');
});

function session() {
  const emu = new Emulator({ machine: pc, ramSize: 64 << 20, log: () => {} });
  const async: string[] = [];
  const s = new QtestSession(emu, { emit: (l) => async.push(l) });
  return { emu, s, async, q: (l: string) => s.handle(l) };
}

describe('qtest commands, with QEMU’s response formats', () => {
  it.each([
    ['outl 0xcf8 0x80000000', 'OK'],
    ['inl 0xcfc', 'OK 0x12378086'],
    ['inw 0xcfc', 'OK 0x8086'],
    ['inb 0xcfc', 'OK 0x0086'],
    ['inb 0x80', 'OK 0x0000'],
    ['writel 0x1000 0x11223344', 'OK'],
    ['readl 0x1000', 'OK 0x0000000011223344'],
    ['readb 0x1001', 'OK 0x0000000000000033'],
    ['readw 0x1002', 'OK 0x0000000000001122'],
    ['writeq 0x2000 0x0102030405060708', 'OK'],
    ['readq 0x2000', 'OK 0x0102030405060708'],
    ['read 0x2000 4', 'OK 0x08070605'],
    ['write 0x3000 4 0xab', 'OK'],
    ['read 0x3000 4', 'OK 0xab000000'],
    ['b64write 0x4000 4 AQIDBA==', 'OK'],
    ['b64read 0x4000 4', 'OK AQIDBA=='],
    ['memset 0x5000 3 0x1ff', 'OK'],
    ['read 0x5000 4', 'OK 0xffffff00'],
    ['memset 0x5000 0 0', 'OK'],
    ['endianness', 'OK little'],
    ['writel 0x10 010', 'OK'],
    ['readl 0x10', 'OK 0x0000000000000008'],
    ['readl 0xd0000000', 'OK 0x0000000000000000'],
  ])('%s → %s', (line, resp) => {
    // One machine for the table: the lines build on each other in order.
    shared ??= session();
    expect(shared.q(line)).toBe(resp);
  });

  it('answers FAIL where QEMU would abort, and keeps serving', () => {
    const { q } = session();
    const cases: [string, RegExp | string][] = [
      ['readl', 'FAIL missing address'],
      ['readl zz', "FAIL address 'zz' is not a number"],
      ['readl 0x10g', "FAIL address '0x10g' is not a number"],
      ['readl 0x10000000000000000', "FAIL address '0x10000000000000000' does not fit in 64 bits"],
      ['readl 0x20000000000000', /larger than 2\^53 - 1/],
      ['outb 0x10000 1', /port 0x10000 is larger than 0xffff/],
      ['outb 0x80', 'FAIL missing value'],
      ['read 0x0 0', 'FAIL size must not be 0'],
      ['read 0x0 -4', "FAIL size '-4' is not a number"],
      ['read 0x0 0x10000000', /larger than the 67108864-byte limit/],
      ['write 0x0 4 0x', 'ERR invalid argument size'],
      ['write 0x0 4 0xzz', "FAIL data 'zz' at byte 0 is not hex"],
      ['b64write 0x0 8 AQIDBA==', 'FAIL b64write: payload decodes to 4 bytes, not 8'],
      ['b64write 0x0 4 A', 'ERR invalid argument size'],
      ['b64write 0x0 4 ****', 'FAIL payload is not base64'],
      ['clock_step -5', 'FAIL cannot step the clock by -5 ns'],
      ['clock_step x', "FAIL ns 'x' is not a number"],
      ['irq_intercept_in nosuch', 'FAIL Unknown device'],
      ['set_irq_in ioapic named 0 1', "FAIL 'ioapic' has no GPIO input list 'named'"],
      ['set_irq_in ioapic unnamed-gpio-in 99 1', "FAIL 'ioapic' has 24 inputs, not 100"],
      ['bogus_command', "FAIL Unknown command 'bogus_command'"],
      ['', "FAIL Unknown command ''"],
      ['\u0000\u00ff\u0007garbage', "FAIL Unknown command '\u0000\u00ff\u0007garbage'"],
      ['module_load a b', 'FAIL modules are not supported'],
    ];
    for (const [line, want] of cases) {
      const got = q(line);
      if (typeof want === 'string') expect(got, line).toBe(want);
      else expect(got, line).toMatch(want);
    }
    expect(q('endianness')).toBe('OK little');
  });

  it('steps and sets the virtual clock, firing device timers, never backwards', async () => {
    const { emu, q } = session();
    expect(q('clock_step')).toBe('OK 0');
    expect(q('clock_step 100000000')).toBe('OK 100000000');
    expect(q('clock_set 50')).toBe('OK 100000000');
    expect(q('clock_set 200000000')).toBe('OK 200000000');
    emu.addDevice(await loadPluginDir(FIXTURE));
    emu.machine.clock.createTimer(() => {}).armAt(250_000_000);
    expect(q('clock_step')).toBe('OK 250000000');
  });

  it('reports intercepted IRQ lines as they change, before the response of the command that caused it', async () => {
    const { emu, q, async } = session();
    emu.addDevice(await loadPluginDir(FIXTURE));
    expect(q('irq_intercept_in ioapic')).toBe('OK');
    expect(q('irq_intercept_in /machine/ioapic')).toBe('OK');
    expect(q('set_irq_in ioapic unnamed-gpio-in 5 1')).toBe('OK');
    expect(async).toEqual(['IRQ raise 5']);
    expect(q('set_irq_in ioapic unnamed-gpio-in 5 7')).toBe('OK');
    expect(q('set_irq_in ioapic unnamed-gpio-in 5 0')).toBe('OK');
    expect(async).toEqual(['IRQ raise 5', 'IRQ lower 5']);
  });
});

let shared: ReturnType<typeof session> | undefined;

describe('the stream transport', () => {
  function wire() {
    const { s, emu } = session();
    const input = new PassThrough();
    const output = new PassThrough();
    const served = serveStream(s, input, output);
    let text = '';
    output.setEncoding('latin1');
    output.on('data', (c: string) => {
      text += c;
    });
    return { emu, input, output: () => text, served };
  }

  it('answers pipelined lines in order, one response each', async () => {
    const w = wire();
    const lines = Array.from(
      { length: 500 },
      (_, i) =>
        `writel 0x${(0x1000 + 4 * i).toString(16)} ${i}\nreadl 0x${(0x1000 + 4 * i).toString(16)}`,
    );
    w.input.write(`${lines.join('\n')}\n`);
    await new Promise((r) => setImmediate(r));
    const got = w.output().trimEnd().split('\n');
    expect(got).toHaveLength(1000);
    expect(got[999]).toBe(`OK 0x${(499).toString(16).padStart(16, '0')}`);
  });

  it('takes a line split across chunks, a 10 MB line, and a client that leaves mid-command', async () => {
    const w = wire();
    w.input.write('rea');
    w.input.write('dl 0x0\n');
    w.input.write(
      `b64write 0x100000 ${7.5 * 2 ** 20} ${Buffer.alloc(7.5 * 2 ** 20, 0x5a).toString('base64')}\n`,
    );
    w.input.write(`${'x'.repeat(10 << 20)}\n`);
    w.input.write('readb 0x1000');
    w.input.end();
    await w.served.done;
    const got = w.output().trimEnd().split('\n');
    expect(got[0]).toBe('OK 0x0000000000000000');
    expect(got[1]).toBe('OK');
    expect(got[2]).toMatch(/^FAIL Unknown command 'x{10}/);
    expect(got).toHaveLength(3);
    expect(w.emu.machine.memory.load(0x100000 as never, 1)).toBe(0x5a);
  });
});

describe('polling without the clock (a client written for QEMU)', () => {
  let edu: Awaited<ReturnType<typeof loadBundled>>;
  beforeAll(async () => {
    edu = await loadBundled(new PluginHost(), 'edu');
  });
  const BAR = 0xfe000000;
  /** A pc with edu at slot 2, its BAR0 at BAR and decoding. */
  function eduSession() {
    const r = session();
    r.emu.addDevice(edu, { id: 'edu0' });
    for (const l of [
      'outl 0xcf8 0x80001010',
      `outl 0xcfc 0x${BAR.toString(16)}`,
      'outl 0xcf8 0x80001004',
      'outw 0xcfc 0x6',
    ])
      expect(r.q(l)).toBe('OK');
    return r;
  }
  const STATUS = `readl 0x${(BAR + 0x20).toString(16)}`;
  const COMPUTING = 'OK 0x0000000000000001';

  it('a factorial polled as QEMU clients poll it completes within POLL_READS reads', () => {
    const { q } = eduSession();
    expect(q(`writel 0x${(BAR + 8).toString(16)} 0x5`)).toBe('OK');
    // The loop of a QEMU client: read the status until COMPUTING clears, never clock_step.
    const seen: string[] = [];
    for (let i = 0; i < 100; i++) {
      const s = q(STATUS);
      seen.push(s);
      if (s !== COMPUTING) break;
    }
    expect(seen.at(-1)).toBe('OK 0x0000000000000000');
    expect(seen.length).toBeLessThanOrEqual(POLL_READS);
    expect(q(`readl 0x${(BAR + 8).toString(16)}`)).toBe('OK 0x0000000000000078');
  });

  it('is deterministic: the same commands give the same answers, clock included', () => {
    const transcript = () => {
      const { q } = eduSession();
      const lines = [
        `writel 0x${(BAR + 8).toString(16)} 0x4`,
        STATUS,
        STATUS,
        STATUS,
        STATUS,
        'clock_step 0',
        `writel 0x${(BAR + 8).toString(16)} 0x6`,
        STATUS,
        `readl 0x${(BAR + 8).toString(16)}`,
        STATUS,
        STATUS,
        'clock_step 0',
      ];
      return lines.map((l) => `${l} -> ${q(l)}`);
    };
    const a = transcript();
    expect(transcript()).toEqual(a);
    // The third identical status read advanced the clock to the factorial's deadline (1 µs).
    expect(a.slice(1, 6)).toEqual([
      `${STATUS} -> ${COMPUTING}`,
      `${STATUS} -> ${COMPUTING}`,
      `${STATUS} -> OK 0x0000000000000000`,
      `${STATUS} -> OK 0x0000000000000000`,
      'clock_step 0 -> OK 1000',
    ]);
    // Reads that are not the same line in a row are not a poll: COMPUTING stays.
    expect(a.slice(7, 12)).toEqual([
      `${STATUS} -> ${COMPUTING}`,
      `readl 0x${(BAR + 8).toString(16)} -> OK 0x0000000000000006`,
      `${STATUS} -> ${COMPUTING}`,
      `${STATUS} -> ${COMPUTING}`,
      'clock_step 0 -> OK 1000',
    ]);
  });

  it('work due later than the horizon (edu’s 100 ms DMA) still needs clock_step, as in QEMU', () => {
    const { q } = eduSession();
    const w = (off: number, v: number) =>
      `writel 0x${(BAR + off).toString(16)} 0x${v.toString(16)}`;
    for (const l of [w(0x80, 0x1000), w(0x88, 0x40000), w(0x90, 0x10), w(0x98, 1)])
      expect(q(l)).toBe('OK');
    const cmd = `readl 0x${(BAR + 0x98).toString(16)}`;
    for (let i = 0; i < 10; i++) expect(q(cmd)).toBe('OK 0x0000000000000001');
    expect(q('clock_step')).toBe('OK 100000000');
    expect(q(cmd)).toBe('OK 0x0000000000000000');
  });
});
