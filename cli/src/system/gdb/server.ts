/**
 * Where the GDB stub listens (`-gdb tcp::PORT`, `-s`): one debugger at a time, each
 * connection a `GdbStub` fed by an `RspReader`; a second debugger is turned away while one is
 * attached, and a debugger that goes away detaches (its breakpoints removed, the machine
 * running again).
 */
import { lstatSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { Emulator, RunLoop } from '@emuhost/host';
import { EmuhostError } from '@emuhost/sdk';
import type { Chardev } from '../../qtest/qemu-argv.js';
import { reason } from '../errno.js';
import { RspReader } from './packets.js';
import { GdbStub } from './stub.js';

export interface GdbServer {
  /** The TCP port listened on (useful when asked for port 0). */
  readonly port: number | undefined;
  close(): void;
}

export async function listenGdb(
  where: Extract<Chardev, { kind: 'unix' | 'tcp' }>,
  emu: Emulator,
  loop: RunLoop,
  monitor?: (line: string) => string,
): Promise<GdbServer> {
  let current: { socket: Socket; stub: GdbStub } | undefined;
  const server: Server = createServer((socket) => {
    if (current !== undefined) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const stub = new GdbStub({
      emu,
      loop,
      send: (b) => {
        if (!socket.destroyed) socket.write(b);
      },
      ...(monitor !== undefined && { monitor }),
    });
    current = { socket, stub };
    const reader = new RspReader();
    socket.on('data', (d: Buffer) => {
      for (const e of reader.feed(new Uint8Array(d))) stub.handle(e);
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      stub.detach();
      if (current?.socket === socket) current = undefined;
    });
  });
  if (where.kind === 'unix') {
    try {
      if (lstatSync(where.path).isSocket()) unlinkSync(where.path);
    } catch {
      // Nothing there.
    }
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) =>
      reject(
        new EmuhostError(
          'E_BAD_ARGUMENT',
          `-gdb: cannot listen on ${where.kind === 'unix' ? where.path : `${where.host}:${where.port}`}: ${reason(e)}`,
        ),
      ),
    );
    if (where.kind === 'unix') server.listen(where.path, resolve);
    else server.listen(where.port, where.host, resolve);
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr !== null ? addr.port : undefined,
    close: () => {
      current?.socket.destroy();
      server.close();
    },
  };
}
