/**
 * A qtest session: QEMU's qtest protocol (system/qtest.c) over an emulator, one line in, one
 * response out, in order. Responses are byte for byte what QEMU sends; asynchronous
 * `IRQ raise N` / `IRQ lower N` lines go out (through `emit`) as soon as an intercepted line
 * changes, which may be before the response of the command that caused it, as in QEMU.
 *
 * Deliberate differences, all where QEMU aborts or misbehaves (the whole emulator dies on a
 * malformed line there): a missing argument, a malformed or out-of-range number, a port
 * past 0xffff, a zero-sized `read`, a `b64write` whose payload does not decode to SIZE
 * bytes, non-hex `write` data, or a transfer past 64 MiB answer `FAIL <reason>` and the
 * session goes on. `clock_step` with no timer pending answers `OK <now>`, as QEMU 7.2 does.
 *
 * Polling without the clock. QEMU does some device work in threads (edu's factorial): a client
 * written for QEMU writes the register and reads the status until it changes, and never steps
 * the clock. Here every device works in virtual time, which only the client moves. So the same
 * read repeated `POLL_READS` times in a row, with no other command between, first advances the
 * clock to the next pending deadline when that is at most `POLL_HORIZON_NS` away, as
 * `clock_step` with no argument would; the read then answers. It depends on the commands
 * alone, so a session replays exactly; a client that reads once, or steps the clock itself,
 * never sees it; work due later (edu's 100 ms DMA, on QEMU's virtual clock too) still needs
 * `clock_step`.
 */
import type { InterruptController } from '@emuhost/core';
import type { Emulator } from '@emuhost/host';
import type { GuestPhysAddr, IoPortAddr } from '@emuhost/sdk';
import { fmtBytes, fmtIn, fmtRead } from './format.js';
import { parseI64, parseNumber, parseU64 } from './numbers.js';

/** The largest `read`/`write`/`b64*`/`memset` transfer accepted, in bytes. */
export const MAX_TRANSFER = 64 << 20;

/** The identical reads in a row after which a read first advances the clock (see above). */
export const POLL_READS = 3;
/** How far ahead a deadline may be for polling to advance the clock to it, in ns. */
export const POLL_HORIZON_NS = 1_000_000;

/** The commands that read: a repetition of one of them is a poll. */
const READS = new Set(['readb', 'readw', 'readl', 'readq', 'inb', 'inw', 'inl', 'read', 'b64read']);

/** An `emuhost.*` extension command: arguments in, a response line out. */
export type Extension = (args: string[]) => string;

export interface SessionOptions {
  /** Where asynchronous lines (`IRQ raise N`) go. */
  readonly emit: (line: string) => void;
  /** `emuhost.<name>` commands. */
  readonly extensions?: ReadonlyMap<string, Extension>;
}

class Fail extends Error {}

export class QtestSession {
  private intercepted: { name: string; stop: () => void } | undefined;
  private readonly irqLevels = new Map<number, 0 | 1>();
  /** The last read, and how many times in a row it came (for polling, see above). */
  private pollLine: string | undefined;
  private pollCount = 0;

  constructor(
    readonly emulator: Emulator,
    private readonly opts: SessionOptions,
  ) {}

  /** A new client connected: QEMU forgets the IRQ levels it reported (not the machine). */
  connected(): void {
    this.irqLevels.clear();
  }

  /** Stops intercepting (the client went away). */
  close(): void {
    this.intercepted?.stop();
    this.intercepted = undefined;
  }

  /** Handles one line (without its `\n`) and returns the response line. Never throws. */
  handle(line: string): string {
    const words = line.split(' ');
    this.poll(line, words[0] ?? '');
    try {
      return this.run(words);
    } catch (e) {
      if (e instanceof Fail) return `FAIL ${e.message}`;
      return `FAIL internal error in '${words[0]}': ${e instanceof Error ? e.message : String(e)}`;
    }
  }

  /** Counts identical reads in a row; the `POLL_READS`-th steps to a deadline that is close. */
  private poll(line: string, cmd: string): void {
    if (!READS.has(cmd)) {
      this.pollLine = undefined;
      return;
    }
    if (line !== this.pollLine) {
      this.pollLine = line;
      this.pollCount = 1;
      return;
    }
    if (++this.pollCount < POLL_READS) return;
    this.pollCount = 0;
    const clock = this.emulator.machine.clock;
    const next = clock.nextDeadline();
    if (next !== undefined && next - clock.now <= POLL_HORIZON_NS) clock.stepToNext();
  }

  private run(w: string[]): string {
    const cmd = w[0] ?? '';
    const m = this.emulator.machine;
    switch (cmd) {
      case 'outb':
      case 'outw':
      case 'outl': {
        const size = cmd === 'outb' ? 1 : cmd === 'outw' ? 2 : 4;
        const port = this.port(w[1]);
        const v = this.u64(w[2], 'value');
        m.io.write(port as IoPortAddr, le(v, size));
        return 'OK';
      }
      case 'inb':
      case 'inw':
      case 'inl': {
        const size = cmd === 'inb' ? 1 : cmd === 'inw' ? 2 : 4;
        const b = new Uint8Array(size);
        m.io.read(this.port(w[1]) as IoPortAddr, b);
        return fmtIn(Number(fromLe(b)));
      }
      case 'writeb':
      case 'writew':
      case 'writel':
      case 'writeq': {
        const size = { writeb: 1, writew: 2, writel: 4, writeq: 8 }[cmd];
        const addr = this.addr(w[1]);
        m.memory.write(addr as GuestPhysAddr, le(this.u64(w[2], 'value'), size));
        return 'OK';
      }
      case 'readb':
      case 'readw':
      case 'readl':
      case 'readq': {
        const size = { readb: 1, readw: 2, readl: 4, readq: 8 }[cmd];
        const b = new Uint8Array(size);
        m.memory.read(this.addr(w[1]) as GuestPhysAddr, b);
        return fmtRead(fromLe(b));
      }
      case 'read': {
        const addr = this.addr(w[1]);
        const size = this.size(w[2], false);
        const b = new Uint8Array(size);
        m.memory.read(addr as GuestPhysAddr, b);
        return fmtBytes(b);
      }
      case 'write': {
        const addr = this.addr(w[1]);
        const size = this.size(w[2], true);
        const data = w[3];
        if (data === undefined) throw new Fail('missing data');
        if (data.length < 3) return 'ERR invalid argument size';
        const b = new Uint8Array(size);
        // QEMU skips the first two characters (the 0x) unchecked; shorter data is zero-filled.
        for (let i = 0; i < size && 2 + 2 * i < data.length; i++) {
          const pair = data.slice(2 + 2 * i, 4 + 2 * i);
          if (!/^[0-9a-fA-F]{1,2}$/.test(pair))
            throw new Fail(`data '${pair}' at byte ${i} is not hex`);
          b[i] = pair.length === 2 ? Number.parseInt(pair, 16) : Number.parseInt(pair, 16) << 4;
        }
        m.memory.write(addr as GuestPhysAddr, b);
        return 'OK';
      }
      case 'b64read': {
        const addr = this.addr(w[1]);
        const size = this.size(w[2], false);
        const b = new Uint8Array(size);
        m.memory.read(addr as GuestPhysAddr, b);
        return `OK ${Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64')}`;
      }
      case 'b64write': {
        const addr = this.addr(w[1]);
        const size = this.size(w[2], true);
        const data = w[3];
        if (data === undefined) throw new Fail('missing data');
        if (data.length < 3) return 'ERR invalid argument size';
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data) || data.length % 4 !== 0)
          throw new Fail('payload is not base64');
        const b = Buffer.from(data, 'base64');
        if (b.length !== size)
          throw new Fail(`b64write: payload decodes to ${b.length} bytes, not ${size}`);
        m.memory.write(addr as GuestPhysAddr, b);
        return 'OK';
      }
      case 'memset': {
        const addr = this.addr(w[1]);
        const size = this.size(w[2], true);
        const v = this.u64(w[3], 'value');
        m.memory.fill(addr as GuestPhysAddr, Number(v & 0xffn), size);
        return 'OK';
      }
      case 'endianness':
        return 'OK little';
      case 'clock_step': {
        const clock = m.clock;
        if (w[1] === undefined) {
          clock.stepToNext();
          return `OK ${clock.now}`;
        }
        const ns = parseI64(w[1], 'ns');
        if (!ns.ok) throw new Fail(ns.why);
        if (ns.value < 0 || ns.value > Number.MAX_SAFE_INTEGER - clock.now)
          throw new Fail(`cannot step the clock by ${w[1]} ns`);
        clock.step(ns.value);
        return `OK ${clock.now}`;
      }
      case 'clock_set': {
        const ns = this.num(w[1], 'ns');
        m.clock.setTime(ns);
        return `OK ${m.clock.now}`;
      }
      case 'irq_intercept_in':
        return this.intercept(w[1]);
      case 'irq_intercept_out':
        if (w[1] === undefined) throw new Fail('missing device');
        return this.controller(w[1]) === undefined
          ? 'FAIL Unknown device'
          : 'FAIL Interception of out-GPIOs of an interrupt controller is not supported';
      case 'set_irq_in': {
        const ic = w[1] === undefined ? undefined : this.controller(w[1]);
        if (ic === undefined) return 'FAIL Unknown device';
        if (w[2] !== 'unnamed-gpio-in')
          throw new Fail(`'${w[1]}' has no GPIO input list '${w[2]}'`);
        const n = this.num(w[3], 'line');
        const level = parseI64(w[4], 'level');
        if (!level.ok) throw new Fail(level.why);
        if (n >= ic.inputs) throw new Fail(`'${w[1]}' has ${ic.inputs} inputs, not ${n + 1}`);
        ic.setInput(n, level.value === 0 ? 0 : 1);
        return 'OK';
      }
      case 'module_load':
        return 'FAIL modules are not supported';
      default: {
        if (cmd.startsWith('emuhost.')) {
          const ext = this.opts.extensions?.get(cmd.slice('emuhost.'.length));
          if (ext !== undefined) return ext(w.slice(1));
        }
        return `FAIL Unknown command '${cmd}'`;
      }
    }
  }

  private intercept(path: string | undefined): string {
    if (path === undefined) throw new Fail('missing device');
    const ic = this.controller(path);
    if (ic === undefined) return 'FAIL Unknown device';
    if (this.intercepted !== undefined) {
      return this.intercepted.name === ic.name ? 'OK' : 'FAIL IRQ intercept already enabled';
    }
    const stop = ic.observe((n, level) => {
      if ((this.irqLevels.get(n) ?? 0) === level) return;
      this.irqLevels.set(n, level);
      this.opts.emit(`IRQ ${level ? 'raise' : 'lower'} ${n}`);
    });
    this.intercepted = { name: ic.name, stop };
    return 'OK';
  }

  /** A controller by QOM-style path: its name, or a path ending in it (`/machine/ioapic`). */
  private controller(path: string): InterruptController | undefined {
    const name =
      path
        .split('/')
        .filter((p) => p !== '')
        .at(-1) ?? '';
    return this.emulator.machine.interruptControllers.get(name);
  }

  private u64(s: string | undefined, what: string): bigint {
    const p = parseU64(s, what);
    if (!p.ok) throw new Fail(p.why);
    return p.value;
  }

  private num(s: string | undefined, what: string, max?: number): number {
    const p = parseNumber(s, what, max);
    if (!p.ok) throw new Fail(p.why);
    return p.value;
  }

  private addr(s: string | undefined): number {
    return this.num(s, 'address');
  }

  private port(s: string | undefined): number {
    return this.num(s, 'port', 0xffff);
  }

  private size(s: string | undefined, zeroOk: boolean): number {
    const n = this.num(s, 'size');
    if (n === 0 && !zeroOk) throw new Fail('size must not be 0');
    if (n > MAX_TRANSFER)
      throw new Fail(`size ${n} is larger than the ${MAX_TRANSFER}-byte limit of one command`);
    return n;
  }
}

/** `v` truncated to `size` bytes, little-endian (the target's byte order: QEMU's tswap). */
function le(v: bigint, size: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = Number((v >> BigInt(8 * i)) & 0xffn);
  return b;
}

function fromLe(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  return v;
}
