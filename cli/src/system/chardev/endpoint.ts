/**
 * Endpoints: the outside end of a character device (QEMU's chardev backends), opened from a
 * `-serial`/`-monitor` spelling. An endpoint writes without blocking (an `OutputQueue`),
 * hands input to its listener (input that comes before anyone listens is kept for the
 * listener), and says when a client arrives: a socket server takes one client at a time and
 * the next after it leaves, as QEMU's does, and drops output while nobody is connected.
 */
import { closeSync, createWriteStream, lstatSync, openSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { EmuhostError } from '@emuhost/sdk';
import type { Chardev } from '../../qtest/qemu-argv.js';
import { reason } from '../errno.js';
import { OutputQueue } from './output-queue.js';

/** Input kept for a listener that is not there yet, at most. */
const EARLY_INPUT = 64 << 10;

export class Endpoint {
  /** Called when a client connects (a socket) or the endpoint comes into use (the terminal). */
  onOpen: (() => void) | undefined;
  /** Whether a client is there now (always, for what is not a socket server). */
  connected = true;
  private listener: ((bytes: Uint8Array) => void) | undefined;
  private early: Uint8Array[] = [];
  private earlyBytes = 0;

  constructor(
    private readonly sink: (bytes: Uint8Array) => void = () => {},
    private readonly drain: () => Promise<void> = () => Promise.resolve(),
    private readonly shut: () => void = () => {},
  ) {}

  /** Where input goes; input that arrived before is handed over at once. */
  set onData(fn: ((bytes: Uint8Array) => void) | undefined) {
    this.listener = fn;
    if (fn === undefined) return;
    const early = this.early;
    this.early = [];
    this.earlyBytes = 0;
    for (const b of early) fn(b);
  }

  get onData(): ((bytes: Uint8Array) => void) | undefined {
    return this.listener;
  }

  /** Sends bytes out; queued, never blocks. */
  write(bytes: Uint8Array): void {
    this.sink(bytes);
  }

  /** Resolves once the output written so far has left. */
  flush(): Promise<void> {
    return this.drain();
  }

  close(): void {
    this.shut();
  }

  /** Input from outside (for the implementations). */
  input(bytes: Uint8Array): void {
    if (this.listener !== undefined) this.listener(bytes);
    else if (this.earlyBytes + bytes.length <= EARLY_INPUT) {
      this.early.push(bytes.slice());
      this.earlyBytes += bytes.length;
    }
  }

  /** A client arrived (for the implementations). */
  opened(): void {
    this.connected = true;
    this.onOpen?.();
  }
}

/** Output goes nowhere, input never comes (`-serial null`, QEMU's `vc` without a display). */
export function nullEndpoint(): Endpoint {
  return new Endpoint();
}

/** `file:PATH`: output to a file created (or truncated) now; no input. */
export function fileEndpoint(path: string, what: string): Endpoint {
  let fd: number;
  try {
    fd = openSync(path, 'w');
  } catch (e) {
    throw new EmuhostError('E_BAD_ARGUMENT', `${what}: cannot open '${path}': ${reason(e)}`);
  }
  const stream = createWriteStream('', { fd, autoClose: false });
  const q = new OutputQueue(stream);
  return new Endpoint(
    (b) => q.write(b),
    () => q.flush(),
    () => void q.flush().then(() => stream.end(() => closeSync(fd))),
  );
}

/** A stream pair (the process's stdin and stdout) as an endpoint. */
export function streamEndpoint(input: Readable, output: Writable): Endpoint {
  const q = new OutputQueue(output);
  const onData = (c: Buffer | string) =>
    ep.input(typeof c === 'string' ? Buffer.from(c) : new Uint8Array(c));
  const ep = new Endpoint(
    (b) => q.write(b),
    () => q.flush(),
    () => {
      input.off('data', onData);
      input.pause();
    },
  );
  input.on('data', onData);
  // End of input (a closed pipe) just means no more input, as under QEMU.
  input.on('error', () => {});
  return ep;
}

/**
 * A socket: as a client it connects now (failing with the address if it cannot); as a
 * server it listens and, with `wait`, resolves only once the first client is there.
 */
export async function socketEndpoint(
  c: Extract<Chardev, { kind: 'unix' | 'tcp' }>,
  what: string,
  notice: (text: string) => void,
): Promise<Endpoint> {
  const where = c.kind === 'unix' ? c.path : `${c.host}:${c.port}`;
  let client: { socket: Socket; queue: OutputQueue } | undefined;
  let server: Server | undefined;
  const ep = new Endpoint(
    (b) => client?.queue.write(b),
    () => client?.queue.flush() ?? Promise.resolve(),
    () => {
      client?.socket.end();
      server?.close();
      if (c.kind === 'unix' && c.server) removeSocket(c.path);
    },
  );
  const attach = (socket: Socket) => {
    socket.setNoDelay?.(true);
    client = { socket, queue: new OutputQueue(socket) };
    socket.on('data', (d: Buffer) => ep.input(new Uint8Array(d)));
    socket.on('error', () => {});
    socket.on('close', () => {
      if (client?.socket !== socket) return;
      client = undefined;
      ep.connected = !c.server;
    });
    ep.opened();
  };
  if (!c.server) {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = c.kind === 'unix' ? connect(c.path) : connect(c.port, c.host);
      s.once('connect', () => resolve(s));
      s.once('error', (e) =>
        reject(
          new EmuhostError('E_BAD_ARGUMENT', `${what}: cannot connect to ${where}: ${reason(e)}`),
        ),
      );
    });
    attach(socket);
    return ep;
  }
  ep.connected = false;
  if (c.kind === 'unix') removeSocket(c.path);
  let first: (() => void) | undefined;
  const srv = createServer((socket) => {
    if (client !== undefined) {
      socket.destroy(); // one client at a time, as QEMU
      return;
    }
    attach(socket);
    first?.();
    first = undefined;
  });
  server = srv;
  await new Promise<void>((resolve, reject) => {
    srv.once('error', (e) =>
      reject(
        new EmuhostError('E_BAD_ARGUMENT', `${what}: cannot listen on ${where}: ${reason(e)}`),
      ),
    );
    if (c.kind === 'unix') srv.listen(c.path, resolve);
    else srv.listen(c.port, c.host, resolve);
  });
  if (c.wait) {
    notice(`${what}: waiting for connection on ${c.kind}:${where}`);
    await new Promise<void>((r) => {
      first = r;
    });
  }
  return ep;
}

/** QEMU removes a stale socket file before it listens on a path. */
function removeSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // Nothing there.
  }
}
