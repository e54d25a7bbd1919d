/**
 * Endpoints: the outside end of a character device (QEMU's chardev backends), opened from a
 * `-serial`/`-monitor` spelling. An endpoint writes without blocking (an `OutputQueue`),
 * hands input to whoever listens, and says when a client arrives (a socket server takes one
 * client at a time and takes the next after it leaves, as QEMU's does; output while nobody is
 * connected is dropped).
 */
import { closeSync, createWriteStream, lstatSync, openSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { EmuhostError } from '@emuhost/sdk';
import type { Chardev } from '../../qtest/qemu-argv.js';
import { OutputQueue } from './output-queue.js';

export interface Endpoint {
  /** Sends bytes out; queued, never blocks. */
  write(bytes: Uint8Array): void;
  /** Input from outside. */
  onData: ((bytes: Uint8Array) => void) | undefined;
  /** A client connected (a socket), or the endpoint came into use (the terminal). */
  onOpen: (() => void) | undefined;
  /** Resolves once the output written so far has left. */
  flush(): Promise<void>;
  close(): void;
}

/** Output goes nowhere, input never comes (`-serial null`, QEMU's `vc` without a display). */
export function nullEndpoint(): Endpoint {
  return {
    write: () => {},
    onData: undefined,
    onOpen: undefined,
    flush: () => Promise.resolve(),
    close: () => {},
  };
}

/** `file:PATH`: output appended to a file created or truncated now; no input. */
export function fileEndpoint(path: string, what: string): Endpoint {
  let fd: number;
  try {
    fd = openSync(path, 'w');
  } catch (e) {
    throw new EmuhostError('E_BAD_ARGUMENT', `${what}: cannot open '${path}': ${reason(e)}`);
  }
  const stream = createWriteStream('', { fd, autoClose: false });
  const q = new OutputQueue(stream);
  return {
    write: (b) => q.write(b),
    onData: undefined,
    onOpen: undefined,
    flush: () => q.flush(),
    close: () => {
      void q.flush().then(() => stream.end(() => closeSync(fd)));
    },
  };
}

/** A stream pair (the process's stdin and stdout) as an endpoint; opened at once. */
export function streamEndpoint(input: Readable, output: Writable): Endpoint {
  const q = new OutputQueue(output);
  const ep: Endpoint = {
    write: (b) => q.write(b),
    onData: undefined,
    onOpen: undefined,
    flush: () => q.flush(),
    close: () => {
      input.off('data', onData);
      input.pause();
    },
  };
  const onData = (c: Buffer | string) =>
    ep.onData?.(typeof c === 'string' ? Buffer.from(c) : new Uint8Array(c));
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
  const ep: Endpoint = {
    write: (b) => client?.queue.write(b),
    onData: undefined,
    onOpen: undefined,
    flush: () => client?.queue.flush() ?? Promise.resolve(),
    close: () => {
      client?.socket.end();
      server?.close();
      if (c.kind === 'unix' && c.server) removeSocket(c.path);
    },
  };
  const attach = (socket: Socket) => {
    socket.setNoDelay?.(true);
    client = { socket, queue: new OutputQueue(socket) };
    socket.on('data', (d: Buffer) => ep.onData?.(new Uint8Array(d)));
    socket.on('error', () => {});
    socket.on('close', () => {
      if (client?.socket === socket) client = undefined;
    });
    ep.onOpen?.();
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
    // The endpoint's user sets its handlers after this resolves.
    setImmediate(() => attach(socket));
    return ep;
  }
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
    notice(`waiting for connection on ${c.kind}:${where}`);
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

/** An errno as words: `No such file or directory`. */
export function reason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  const words: Record<string, string> = {
    ENOENT: 'No such file or directory',
    EACCES: 'Permission denied',
    EISDIR: 'Is a directory',
    ENOTDIR: 'Not a directory',
    ECONNREFUSED: 'Connection refused',
    EADDRINUSE: 'Address already in use',
    EPERM: 'Operation not permitted',
  };
  return (code !== undefined && words[code]) || (e instanceof Error ? e.message : String(e));
}
