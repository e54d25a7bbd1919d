/**
 * A character channel: the `CharBackend` a serial device writes to and receives from, with
 * the outside (a terminal, a socket, a test) on its other end.
 *
 * Output goes straight to `output`, which must not block the machine (queue it there).
 * Input from outside waits here until the device has room (`CharFrontend.canReceive`) and is
 * delivered when it arrives (from an event-loop callback, so between the run loop's slices)
 * or, when the device says it has room again (`ready`, called from inside its register
 * callback), a moment later, outside that callback. Every delivery calls `onInput`, which
 * wakes a sleeping run loop.
 */
import type { CharBackend, CharFrontend } from '@emuhost/sdk';

export interface CharChannelOptions {
  /** Where the device's output goes. The bytes are valid during the call only. */
  readonly output: (bytes: Uint8Array) => void;
  /** Called after input reached the device (a run loop's `wake`). */
  readonly onInput?: () => void;
  /** How delivery after `ready` leaves the device's callback. Default `setImmediate`. */
  readonly defer?: (fn: () => void) => void;
  /** Input bytes kept for the device at most; input beyond is dropped. Default 1 MiB. */
  readonly maxPending?: number;
}

export class CharChannel implements CharBackend {
  private frontend: CharFrontend | undefined;
  private readonly pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private deferred = false;
  /** Input bytes dropped because too much was waiting. */
  dropped = 0;

  constructor(private readonly opts: CharChannelOptions) {}

  write(bytes: Uint8Array): void {
    this.opts.output(bytes);
  }

  connect(frontend: CharFrontend): void {
    this.frontend = frontend;
    this.later();
  }

  ready(): void {
    this.later();
  }

  /** Bytes waiting for the device. */
  get pendingInput(): number {
    return this.pendingBytes;
  }

  /** Input from outside; call it outside the machine's run (an event-loop callback). */
  input(bytes: Uint8Array): void {
    const room = (this.opts.maxPending ?? 1 << 20) - this.pendingBytes;
    const take = Math.min(room, bytes.length);
    this.dropped += bytes.length - take;
    if (take > 0) {
      this.pending.push(bytes.slice(0, take));
      this.pendingBytes += take;
    }
    this.deliver();
  }

  private later(): void {
    if (this.deferred || this.pendingBytes === 0) return;
    this.deferred = true;
    (this.opts.defer ?? setImmediate)(() => {
      this.deferred = false;
      this.deliver();
    });
  }

  /** Gives the device as much waiting input as it has room for. */
  private deliver(): void {
    const f = this.frontend;
    if (f === undefined) return;
    let given = 0;
    while (this.pending.length > 0) {
      const room = f.canReceive();
      if (room <= 0) break;
      const head = this.pending[0]!;
      const n = Math.min(room, head.length);
      f.receive(n === head.length ? head : head.subarray(0, n));
      given += n;
      this.pendingBytes -= n;
      if (n === head.length) this.pending.shift();
      else this.pending[0] = head.subarray(n);
    }
    if (given > 0) this.opts.onInput?.();
  }
}
