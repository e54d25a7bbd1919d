/**
 * The network backends a user names with `-netdev KIND,id=ID,...`, opened before the machine
 * is built (a socket is connected or listening by then, as QEMU's are):
 *
 * - `hub,path=SOCK`: NICs of several emuhost processes joined over a Unix socket. The first
 *   process to open the path serves it (a stale socket file nobody answers is replaced), the
 *   others connect; the server relays every frame to every other member, its own NIC
 *   included. Any `-netdev stream` client, a real QEMU's too, can join. When the serving
 *   process ends, its clients' links close and their NICs stay up with no peers.
 * - `stream,server=on|off,addr.type=unix,addr.path=SOCK`: QEMU's point-to-point stream
 *   netdev; `server=on` listens and serves one client at a time (a new one when it goes),
 *   `server=off` connects and fails at once if nobody listens, as QEMU does.
 * - `hubport` of an in-process hub (`NetHub.port`): for programs and tests that run several
 *   machines in one process; not on the command line.
 *
 * Each netdev is a hub in this process with one port, the NIC's (`NetPort`), and socket links
 * as further members (`stream-link.ts`).
 */
import { existsSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { EmuhostError } from '@emuhost/sdk';
import { NetHub, type NetPort } from './net-hub.js';
import { StreamLink } from './stream-link.js';

/** A `-netdev` as the user gave it. */
export type NetdevSpec =
  | { readonly kind: 'hub'; readonly id: string; readonly path: string }
  | {
      readonly kind: 'stream';
      readonly id: string;
      readonly server: boolean;
      readonly path: string;
    };

/** An open netdev: the port its NIC uses, what `info network` says, and its closing. */
export interface OpenNetdev {
  readonly port: NetPort;
  /** `type=hub,path=...,peers=N` for `info network`. */
  describe(): string;
  close(): void;
}

export interface NetdevOptions {
  /** Warnings (a peer that went away, a broken frame). */
  readonly warn?: (text: string) => void;
}

/** Opens `spec`: resolves once its socket is connected or listening. */
export async function openNetdev(spec: NetdevSpec, opts: NetdevOptions = {}): Promise<OpenNetdev> {
  const warn = opts.warn ?? (() => {});
  const hub = new NetHub();
  const port = hub.port(spec.id);
  const links = new Set<StreamLink>();
  const link = (s: Socket) => {
    const l = new StreamLink(s, hub, (why) => {
      links.delete(l);
      if (why !== undefined) warn(`-netdev ${spec.kind},id=${spec.id}: peer dropped: ${why}`);
    });
    links.add(l);
    return l;
  };
  let server: Server | undefined;
  let role: 'server' | 'client';
  if (spec.kind === 'stream' && !spec.server) {
    link(await connect(spec.path, `-netdev stream,id=${spec.id}`));
    role = 'client';
  } else if (spec.kind === 'stream') {
    server = await listen(spec.path, `-netdev stream,id=${spec.id}`, (s) => {
      // One peer at a time, as QEMU's stream server: a second one is turned away.
      if (links.size > 0) s.destroy();
      else link(s);
    });
    role = 'server';
  } else {
    const joined = await joinOrServe(spec.path, `-netdev hub,id=${spec.id}`, (s) => link(s));
    if (joined.kind === 'client') link(joined.socket);
    else server = joined.server;
    role = joined.kind;
  }
  const describe = () =>
    `type=${spec.kind},path=${spec.path},${spec.kind === 'stream' ? `server=${spec.server ? 'on' : 'off'}` : `role=${role}`},peers=${links.size}`;
  port.describe = describe;
  return {
    port,
    describe,
    close() {
      port.close();
      for (const l of [...links]) l.close();
      server?.close();
      if (server !== undefined) unlinkQuietly(spec.path);
    },
  };
}

function connect(path: string, what: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ path });
    s.once('connect', () => {
      s.off('error', fail);
      resolve(s);
    });
    const fail = (e: NodeJS.ErrnoException) =>
      reject(
        new EmuhostError(
          'E_BAD_ARGUMENT',
          `${what}: Failed to connect to '${path}': ${e.code ?? e.message}`,
        ),
      );
    s.once('error', fail);
  });
}

function listen(path: string, what: string, onClient: (s: Socket) => void): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer(onClient);
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new EmuhostError(
          'E_BAD_ARGUMENT',
          `${what}: Failed to bind socket to ${path}: ${e.code ?? e.message}`,
        ),
      ),
    );
    server.listen(path, () => resolve(server));
  });
}

/**
 * The hub's rendezvous: connect to `path`; if nobody answers, serve it (removing a stale
 * socket file); if another process started serving meanwhile (EADDRINUSE), connect again.
 */
async function joinOrServe(
  path: string,
  what: string,
  onClient: (s: Socket) => void,
): Promise<{ kind: 'client'; socket: Socket } | { kind: 'server'; server: Server }> {
  for (let attempt = 0; ; attempt++) {
    try {
      return { kind: 'client', socket: await connect(path, what) };
    } catch (e) {
      if (attempt >= 3) throw e;
    }
    if (existsSync(path)) unlinkQuietly(path);
    try {
      return { kind: 'server', server: await listen(path, what, onClient) };
    } catch (e) {
      if (attempt >= 3) throw e;
    }
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Gone already.
  }
}
