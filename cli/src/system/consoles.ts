/**
 * The machine's character devices as QEMU sets them up from `-serial`, `-monitor`,
 * `-nographic` and `-nodefaults`: an endpoint per serial port and per monitor, the terminal
 * shared through the C-a mux by everything that names stdio, and QEMU's defaults (with
 * `-nographic`, serial port 0 and the monitor on the terminal; without it, QEMU's graphical
 * console, which here is nowhere).
 */
import type { Readable, Writable } from 'node:stream';
import { CharChannel } from '@emuhost/host';
import { EmuhostError } from '@emuhost/sdk';
import type { CharSpec, SystemArgs } from './argv.js';
import {
  type Endpoint,
  fileEndpoint,
  nullEndpoint,
  socketEndpoint,
  streamEndpoint,
} from './chardev/endpoint.js';
import { StdioMux } from './chardev/stdio-mux.js';
import { rawMode } from './chardev/terminal.js';

export interface Consoles {
  /** Serial port backends by index; undefined for `-serial none`. */
  readonly serial: readonly (CharChannel | undefined)[];
  /** `-chardev` backends by id (what devices such as virtconsole name). */
  readonly chardevs: ReadonlyMap<string, CharChannel>;
  /** Where monitors are: each gets a `Monitor` once the run loop exists. */
  readonly monitors: readonly Endpoint[];
  /** Starts terminal input (the mux tells the focused frontend it has the terminal). */
  start(): void;
  /** Writes out what is queued (bounded wait), restores the terminal, closes sockets. */
  close(): Promise<void>;
}

export interface ConsoleIo {
  readonly stdin: Readable;
  readonly stdout: Writable;
  /** A notice for the user (waiting for a socket client). */
  readonly notice: (text: string) => void;
  /** C-a x. */
  readonly quit: () => void;
  /** Input reached a serial device: wake the run loop. */
  readonly wake: () => void;
}

const onStdio = (c: CharSpec) => c.kind === 'stdio' || c.kind === 'mon-stdio';

export async function openConsoles(args: SystemArgs, io: ConsoleIo): Promise<Consoles> {
  const serialSpecs: CharSpec[] =
    args.serial.length > 0
      ? [...args.serial]
      : args.nodefaults
        ? []
        : [args.nographic ? { kind: 'mon-stdio' } : { kind: 'null' }];
  const monitorSpecs: CharSpec[] = [...args.monitors];
  if (serialSpecs.some((c) => c.kind === 'mon-stdio')) monitorSpecs.push({ kind: 'stdio' });
  else if (monitorSpecs.length === 0 && args.nographic && !args.nodefaults)
    monitorSpecs.push({ kind: 'stdio' });
  const chardevSpecs = [...args.chardevs.values()];
  if (
    [...serialSpecs, ...chardevSpecs].filter(onStdio).length > 1 ||
    monitorSpecs.filter(onStdio).length > 1
  )
    throw new EmuhostError('E_BAD_ARGUMENT', 'cannot use stdio by multiple character devices');

  const all: Endpoint[] = [];
  let restore = () => {};
  let mux: StdioMux | undefined;
  const stdioFrontend = () => {
    if (mux === undefined) {
      const base = streamEndpoint(io.stdin, io.stdout);
      all.push(base);
      restore = rawMode(io.stdin);
      mux = new StdioMux(base, io.quit);
    }
    return mux.add();
  };
  const open = async (c: CharSpec, what: string): Promise<Endpoint | undefined> => {
    switch (c.kind) {
      case 'none':
        return undefined;
      case 'null':
        return nullEndpoint();
      case 'file':
        return fileEndpoint(c.path, what);
      case 'stdio':
      case 'mon-stdio':
        return stdioFrontend();
      default:
        return socketEndpoint(c, what, io.notice);
    }
  };
  try {
    const serial: (CharChannel | undefined)[] = [];
    for (const [i, c] of serialSpecs.entries()) {
      const ep = await open(c, `-serial ${describeSpec(c)}`);
      if (ep === undefined) {
        serial.push(undefined);
        continue;
      }
      all.push(ep);
      const ch = new CharChannel({ output: (b) => ep.write(b), onInput: io.wake });
      ep.onData = (b) => ch.input(b);
      serial[i] = ch;
    }
    const chardevs = new Map<string, CharChannel>();
    for (const [id, c] of args.chardevs) {
      const ep = await open(c, `-chardev ${id}`);
      if (ep === undefined) continue;
      all.push(ep);
      const ch = new CharChannel({ output: (b) => ep.write(b), onInput: io.wake });
      ep.onData = (b) => ch.input(b);
      chardevs.set(id, ch);
    }
    const monitors: Endpoint[] = [];
    for (const c of monitorSpecs) {
      const ep = await open(c, `-monitor ${describeSpec(c)}`);
      if (ep === undefined) continue;
      all.push(ep);
      monitors.push(ep);
    }
    return {
      serial,
      chardevs,
      monitors,
      start: () => mux?.start(),
      close: async () => {
        await Promise.race([
          Promise.all(all.map((e) => e.flush())),
          new Promise((r) => setTimeout(r, 2000).unref()),
        ]);
        restore();
        for (const e of all) e.close();
      },
    };
  } catch (e) {
    restore();
    for (const ep of all) ep.close();
    throw e;
  }
}

function describeSpec(c: CharSpec): string {
  switch (c.kind) {
    case 'unix':
      return `unix:${c.path}`;
    case 'tcp':
      return `tcp:${c.host}:${c.port}`;
    case 'file':
      return `file:${c.path}`;
    case 'mon-stdio':
      return 'mon:stdio';
    default:
      return c.kind;
  }
}
