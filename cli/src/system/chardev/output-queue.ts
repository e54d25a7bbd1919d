/**
 * Output that never blocks the machine: bytes a device or the monitor writes are copied into
 * a queue and written to the stream in one piece after the current slice, respecting the
 * stream's backpressure. A consumer that stops reading costs memory up to a limit, then
 * output is dropped (and counted), as QEMU drops output no one reads.
 */
import type { Writable } from 'node:stream';

export class OutputQueue {
  private chunks: Uint8Array[] = [];
  private queued = 0;
  private scheduled = false;
  private blocked = false;
  private readonly idle: (() => void)[] = [];
  /** Bytes dropped because the queue was full. */
  dropped = 0;

  constructor(
    private readonly out: Writable,
    /** Bytes kept at most while the stream does not drain. Default 16 MiB. */
    private readonly limit = 16 << 20,
  ) {
    out.on('drain', () => {
      this.blocked = false;
      this.flushNow();
    });
    // A reader that went away is not the machine's problem.
    out.on('error', () => {
      this.chunks = [];
      this.queued = 0;
      this.settle();
    });
  }

  write(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (this.queued + bytes.length > this.limit) {
      this.dropped += bytes.length;
      return;
    }
    this.chunks.push(bytes.slice());
    this.queued += bytes.length;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flushNow();
      });
    }
  }

  /** Resolves once everything queued so far was handed to the stream. */
  flush(): Promise<void> {
    this.flushNow();
    if (this.queued === 0) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  private flushNow(): void {
    if (this.blocked || this.queued === 0 || this.out.destroyed) {
      this.settle();
      return;
    }
    const data =
      this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.queued);
    this.chunks = [];
    this.queued = 0;
    if (!this.out.write(data)) this.blocked = true;
    this.settle();
  }

  private settle(): void {
    if (this.queued !== 0 && !this.out.destroyed) return;
    for (const r of this.idle.splice(0)) r();
  }
}
