/**
 * A hub member on a stream socket, with QEMU's `-netdev stream` (and `socket`) framing: each
 * frame is a 4-byte big-endian length, then the frame. So an emuhost hub and a real QEMU's
 * `-netdev stream,server=off,addr.type=unix,addr.path=...` exchange frames as equals.
 *
 * A length of 0 or past `MAX_FRAME` is a broken peer: the link closes (QEMU drops the
 * connection too). Frames written while the socket is congested queue in Node's stream; past
 * `MAX_QUEUED` bytes they are dropped, so a stalled peer cannot grow the process without end.
 */
import type { Socket } from 'node:net';
import type { HubMember, NetHub } from './net-hub.js';

/** The largest frame accepted from a peer: QEMU's NET_BUFSIZE (4096 + 65536). */
export const MAX_FRAME = 4096 + 65536;
/** Bytes a congested socket may have queued before frames to it are dropped. */
const MAX_QUEUED = 4 << 20;

export class StreamLink implements HubMember {
  private buf: Buffer = Buffer.alloc(0);
  private readonly leave: () => void;
  /** Frames dropped because the peer did not keep up. */
  dropped = 0;
  closed = false;

  constructor(
    readonly socket: Socket,
    private readonly hub: NetHub,
    private readonly onClose?: (why: string | undefined) => void,
  ) {
    this.leave = hub.join(this);
    socket.on('data', (chunk: Buffer) => this.data(chunk));
    socket.on('error', (e) => this.close(e.message));
    socket.on('close', () => this.close(undefined));
  }

  take(frame: Uint8Array): void {
    if (this.closed) return;
    if (this.socket.writableLength > MAX_QUEUED) {
      this.dropped++;
      return;
    }
    const out = Buffer.allocUnsafe(4 + frame.length);
    out.writeUInt32BE(frame.length, 0);
    out.set(frame, 4);
    this.socket.write(out);
  }

  close(why?: string): void {
    if (this.closed) return;
    this.closed = true;
    this.leave();
    this.socket.destroy();
    this.onClose?.(why);
  }

  private data(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    while (this.buf.length >= 4 && !this.closed) {
      const len = this.buf.readUInt32BE(0);
      if (len === 0 || len > MAX_FRAME) {
        this.close(`a frame of ${len} bytes (not 1..${MAX_FRAME})`);
        return;
      }
      if (this.buf.length < 4 + len) return;
      const frame = new Uint8Array(this.buf.subarray(4, 4 + len));
      this.buf = this.buf.subarray(4 + len);
      this.hub.route(this, frame, undefined);
    }
  }
}
