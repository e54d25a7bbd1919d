/**
 * Test support: a character backend as the host provides one. Output is recorded; input is
 * queued and delivered by `deliver()` (the host does it between machine events) in chunks of
 * at most what the frontend said it can take, as QEMU's chardev layer does.
 */
import type { CharBackend, CharFrontend } from '@emuhost/sdk';

export class FakeCharBackend implements CharBackend {
  readonly output: number[] = [];
  readonly queue: number[] = [];
  frontend: CharFrontend | undefined;
  readyCalls = 0;

  write(bytes: Uint8Array): void {
    this.output.push(...bytes);
  }

  connect(frontend: CharFrontend): void {
    this.frontend = frontend;
  }

  ready(): void {
    this.readyCalls++;
  }

  /** The output so far as a latin-1 string. */
  get text(): string {
    return String.fromCharCode(...this.output);
  }

  /** Queues `input` (a string's char codes, or bytes) for the frontend. */
  type(input: string | readonly number[]): void {
    const bytes = typeof input === 'string' ? [...input].map((c) => c.charCodeAt(0)) : input;
    this.queue.push(...bytes);
  }

  /** Delivers queued input while the frontend has room; returns how many bytes went in. */
  deliver(): number {
    let moved = 0;
    while (this.frontend !== undefined && this.queue.length > 0) {
      const room = this.frontend.canReceive();
      if (room <= 0) break;
      const chunk = this.queue.splice(0, room);
      this.frontend.receive(Uint8Array.from(chunk));
      moved += chunk.length;
    }
    return moved;
  }
}
