/**
 * The GDB stub over TCP against a real rv64 hart running a small guest, driven by a
 * protocol-level client that does what GDB does (no gdb needed): connect, read the target
 * description, set a breakpoint, continue, step over it, read and write registers and memory,
 * interrupt with Ctrl-C, ask the monitor, detach, kill.
 */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Monitor } from '../monitor.js';
import { counter, hello } from '../test-support/guests.js';
import { type TestMachine, testMachine } from '../test-support/machine.js';
import { frame, RspReader } from './packets.js';
import { type GdbServer, listenGdb } from './server.js';

class GdbClient {
  private readonly reader = new RspReader();
  private readonly replies: string[] = [];
  private waiter: ((s: string) => void) | undefined;
  acks = 0;
  noAck = false;

  constructor(private readonly s: Socket) {
    s.on('error', () => {});
    s.on('data', (d: Buffer) => {
      for (const e of this.reader.feed(new Uint8Array(d))) {
        if (e.kind === 'ack') this.acks++;
        if (e.kind !== 'packet') continue;
        expect(e.checksumOk).toBe(true);
        if (!this.noAck) s.write('+');
        const text = Buffer.from(e.payload).toString('latin1');
        if (this.waiter) {
          const w = this.waiter;
          this.waiter = undefined;
          w(text);
        } else this.replies.push(text);
      }
    });
  }

  static async connect(port: number): Promise<GdbClient> {
    const s = connect(port, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    return new GdbClient(s);
  }

  next(): Promise<string> {
    const r = this.replies.shift();
    if (r !== undefined) return Promise.resolve(r);
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  cmd(p: string | Uint8Array): Promise<string> {
    this.s.write(frame(p));
    return this.next();
  }

  /** Sends without waiting (a resume whose stop reply comes later). */
  send(p: string): void {
    this.s.write(frame(p));
  }

  raw(bytes: string): void {
    this.s.write(bytes);
  }

  close(): Promise<void> {
    this.s.end();
    return new Promise((r) => this.s.once('close', () => r()));
  }
}

/** A register value from `p`/`g` hex (little-endian) as a bigint. */
const le = (hex: string) => BigInt(`0x${(hex.match(/../g) ?? []).reverse().join('') || '0'}`);
const hex64 = (v: bigint) =>
  Buffer.from(Array.from({ length: 8 }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn))).toString(
    'hex',
  );

let server: GdbServer | undefined;
let m: TestMachine | undefined;
afterEach(() => {
  server?.close();
  m?.loop.quit(0);
  server = undefined;
});

async function start(image: Uint8Array, smp = 1) {
  m = await testMachine(image, { paused: true, smp });
  const monitor = new Monitor(
    { emu: m.emu, loop: m.loop, view: () => undefined, version: 'test' },
    () => {},
  );
  server = await listenGdb(
    { kind: 'tcp', host: '127.0.0.1', port: 0, server: true, wait: false },
    m.emu,
    m.loop,
    (line) => monitor.execute(line),
  );
  const done = m.loop.run();
  const gdb = await GdbClient.connect(server.port!);
  return { m, gdb, done };
}

describe('GDB stub', () => {
  it('serves a debugging session the way GDB drives one', { timeout: 60_000 }, async () => {
    const prog = counter();
    const at = (l: string) => prog.labels.get(l)!;
    const { m, gdb, done } = await start(prog.image);

    // Connecting stops the machine; GDB's opening questions.
    const supported = await gdb.cmd('qSupported:multiprocess+;swbreak+;hwbreak+');
    expect(supported).toMatch(/PacketSize=[0-9a-f]+/);
    expect(supported).toContain('qXfer:features:read+');
    expect(supported).toContain('swbreak+');
    expect(await gdb.cmd('vMustReplyEmpty')).toBe('');
    expect(await gdb.cmd('?')).toBe('T05thread:01;');
    expect(m.loop.state).toEqual({ status: 'paused', reason: 'debug' });
    expect(await gdb.cmd('qfThreadInfo')).toBe('m1');
    expect(await gdb.cmd('qsThreadInfo')).toBe('l');
    expect(await gdb.cmd('qC')).toBe('QC1');
    expect(await gdb.cmd('qAttached')).toBe('1');
    expect(await gdb.cmd('Hg1')).toBe('OK');
    expect(await gdb.cmd('Hc-1')).toBe('OK');
    expect(await gdb.cmd('T1')).toBe('OK');
    expect(await gdb.cmd('T2')).toBe('E01');
    expect(await gdb.cmd('vCont?')).toBe('vCont;c;C;s;S');

    // The target description, read in pieces as GDB reads it.
    const xml = m.emu.cpus[0]!.model.debug!.targetXml;
    for (const [name, text] of Object.entries(xml)) {
      let got = '';
      for (;;) {
        const r = await gdb.cmd(`qXfer:features:read:${name}:${got.length.toString(16)},200`);
        got += r.slice(1);
        if (r[0] === 'l') break;
        expect(r[0]).toBe('m');
      }
      expect(got).toBe(text);
    }
    expect(xml['target.xml']).toContain('riscv:rv64');
    expect(await gdb.cmd('qXfer:features:read:nope.xml:0,100')).toBe('E00');

    // Registers: 33 in `g` (x0..x31, pc), the pc at the reset vector.
    const g = await gdb.cmd('g');
    expect(g).toHaveLength(33 * 16);
    expect(le(g.slice(32 * 16))).toBe(0x80000000n);

    // Break at `loop`, continue: the stop is a software breakpoint there, before the addi.
    expect(await gdb.cmd(`Z0,${at('loop').toString(16)},4`)).toBe('OK');
    gdb.send('c');
    expect(await gdb.next()).toBe('T05thread:01;swbreak:;');
    expect(le(await gdb.cmd('p20'))).toBe(BigInt(at('loop')));
    expect(le(await gdb.cmd('p5'))).toBe(0n);

    // Step over the breakpoint as GDB does (remove, step, insert, continue): one iteration.
    expect(await gdb.cmd(`z0,${at('loop').toString(16)},4`)).toBe('OK');
    expect(await gdb.cmd('vCont;s:1;c')).toBe('T05thread:01;');
    expect(le(await gdb.cmd('p20'))).toBe(BigInt(at('loop') + 4));
    expect(le(await gdb.cmd('p5'))).toBe(1n);
    expect(await gdb.cmd(`Z0,${at('loop').toString(16)},4`)).toBe('OK');
    expect(await gdb.cmd('c')).toBe('T05thread:01;swbreak:;');
    expect(le(await gdb.cmd(`m${at('counter').toString(16)},8`))).toBe(1n);

    // Write a register and memory; the guest carries on from there.
    expect(await gdb.cmd(`P5=${hex64(100n)}`)).toBe('OK');
    expect(le(await gdb.cmd('p5'))).toBe(100n);
    expect(await gdb.cmd(`M${at('counter').toString(16)},8:${hex64(0xdeadn)}`)).toBe('OK');
    expect(le(await gdb.cmd(`m${at('counter').toString(16)},8`))).toBe(0xdeadn);
    // X: binary data, with bytes that need escaping.
    const bin = Uint8Array.of(0x23, 0x24, 0x7d, 0x2a, 0, 0, 0, 0);
    const x = Buffer.concat([Buffer.from(`X${(at('counter') + 8).toString(16)},8:`), bin]);
    expect(await gdb.cmd(x)).toBe('OK');
    expect(await gdb.cmd(`m${(at('counter') + 8).toString(16)},4`)).toBe('23247d2a');
    expect(await gdb.cmd(`z0,${at('loop').toString(16)},4`)).toBe('OK');
    expect(await gdb.cmd('s')).toBe('T05thread:01;');
    expect(le(await gdb.cmd('p5'))).toBe(101n);
    expect(await gdb.cmd('s')).toBe('T05thread:01;');
    expect(le(await gdb.cmd(`m${at('counter').toString(16)},8`))).toBe(101n);

    // Nothing mapped at 0: an error, not a crash.
    expect(await gdb.cmd('m0,4')).toBe('E14');
    expect(await gdb.cmd('p9999')).toBe('E01');

    // Run freely, then Ctrl-C: a SIGINT stop.
    gdb.send('c');
    while (m.emu.machine.cpus.instructions < 200_000) await new Promise((r) => setImmediate(r));
    gdb.raw('\x03');
    expect(await gdb.next()).toBe('T02thread:01;');
    expect(m.loop.state).toEqual({ status: 'paused', reason: 'debug' });
    const count = le(await gdb.cmd(`m${at('counter').toString(16)},8`));
    expect(count).toBeGreaterThan(1000n);

    // `monitor info status`, through qRcmd.
    const out = await gdb.cmd(`qRcmd,${Buffer.from('info status').toString('hex')}`);
    expect(Buffer.from(out, 'hex').toString()).toBe('VM status: paused (debug)\n');

    // Detach: the machine runs on.
    expect(await gdb.cmd('D')).toBe('OK');
    await gdb.close();
    expect(m.loop.state.status).toBe('running');
    const before = m.emu.machine.cpus.instructions;
    while (m.emu.machine.cpus.instructions === before) await new Promise((r) => setImmediate(r));
    expect(gdb.acks).toBeGreaterThan(0);

    // A second debugger, in no-ack mode, kills the machine.
    const gdb2 = await GdbClient.connect(server!.port!);
    expect(await gdb2.cmd('QStartNoAckMode')).toBe('OK');
    gdb2.noAck = true;
    const acks = gdb2.acks;
    expect(await gdb2.cmd('?')).toBe('T05thread:01;');
    expect(gdb2.acks).toBe(acks);
    gdb2.send('k');
    expect(await done).toEqual({ reason: 'quit', exitCode: 0 });
  });

  it('one thread per CPU: Hg picks whose registers, a step names its CPU', {
    timeout: 60_000,
  }, async () => {
    const prog = counter();
    const { m, gdb } = await start(prog.image, 2);
    expect(await gdb.cmd('qfThreadInfo')).toBe('m1,2');
    expect(await gdb.cmd('T2')).toBe('OK');
    expect(Buffer.from(await gdb.cmd('qThreadExtraInfo,2'), 'hex').toString()).toBe(
      'CPU#1 [running]',
    );
    // Both harts start at the reset vector; step the second one only.
    expect(await gdb.cmd('vCont;s:2')).toBe('T05thread:02;');
    expect(await gdb.cmd('qC')).toBe('QC2');
    expect(await gdb.cmd('Hg2')).toBe('OK');
    const pc2 = le(await gdb.cmd('p20'));
    expect(await gdb.cmd('Hg1')).toBe('OK');
    const pc1 = le(await gdb.cmd('p20'));
    expect(pc2).toBe(m.emu.cpus[1]!.model.debug!.pc);
    expect(pc1).toBe(m.emu.cpus[0]!.model.debug!.pc);
    expect(m.emu.cpus[1]!.model.debug!.pc).toBe(0x80000004n);
  });

  it('reports the guest powering off as the process exiting (W)', { timeout: 60_000 }, async () => {
    const { gdb, done } = await start(hello('bye\n', 7).image);
    expect(await gdb.cmd('?')).toBe('T05thread:01;');
    gdb.send('c');
    expect(await gdb.next()).toBe('W07');
    expect(await done).toEqual({ reason: 'poweroff', exitCode: 7 });
    expect(m!.output()).toBe('bye\n');
  });

  it('a debugger that goes away without detaching leaves the machine running', {
    timeout: 60_000,
  }, async () => {
    const prog = counter();
    const { m, gdb } = await start(prog.image);
    expect(await gdb.cmd(`Z0,${prog.labels.get('loop')!.toString(16)},4`)).toBe('OK');
    await gdb.close();
    expect(m.loop.state.status).toBe('running');
    const before = m.emu.machine.cpus.instructions;
    while (m.emu.machine.cpus.instructions < before + 100_000)
      await new Promise((r) => setImmediate(r));
    expect(m.loop.state.status).toBe('running'); // the breakpoint went with the debugger
  });
});
