/**
 * One port of a console device: the pair of queues between the guest's /dev/hvcN or
 * /dev/vportNpM and the port's character backend.
 *
 * Transmit (guest → host) is served inside the driver's notify and every buffer is given back
 * at once: Linux's hvc writer spins until its buffer is used, so nothing may wait. Receive
 * (host → guest) is the backend's frontend: `canReceive` pops one posted buffer and keeps it
 * (in flight, so in saved state) until `receive` fills it; it answers 0 until the guest has the
 * port open (PORT_OPEN 1, or always without MULTIPORT, as QEMU's virtio_serial_guest_ready),
 * so input waits in the backend, never in the device. At most one receive buffer is held. Guest buffers that fault are the guest's
 * loss: the bytes that reached them count, the rest are dropped and logged.
 */
import type { CharBackend, CharFrontend } from '@emuhost/sdk';
import { type Chain, sgRead, sgWrite, type VirtioHost } from '@emuhost/virtio';
import type { PortSpec } from './ports.js';

/** Bytes moved per read of a transmit buffer (a chain may be up to 4 GiB). */
const CHUNK = 64 * 1024;

/** The receive queue of port `nr` (5.3.2: 0 and 1 are port 0's, 2 and 3 the control queues). */
export const rxQueue = (nr: number): number => (nr === 0 ? 0 : 2 * (nr + 1));

/** The port whose data queue `q` is, or -1 for a control queue. */
export function portOfQueue(q: number): number {
  if (q < 2) return 0;
  if (q < 4) return -1;
  return (q >> 1) - 1;
}

export interface PortState {
  readonly nr: number;
  /** The guest has the port open (its last PORT_OPEN said 1). */
  readonly guestOpen: boolean;
}

export class Port {
  guestOpen = false;
  /** A receive buffer popped and not yet filled. */
  private rx: Chain | undefined;
  private readonly buf = new Uint8Array(CHUNK);

  constructor(
    readonly spec: PortSpec,
    private readonly host: VirtioHost,
    private readonly backend: CharBackend,
    /** Whether the driver may be given data now (DRIVER_OK, and the port open if MULTIPORT). */
    private readonly accepting: (port: Port) => boolean,
  ) {}

  get rxq(): number {
    return rxQueue(this.spec.nr);
  }

  get txq(): number {
    return rxQueue(this.spec.nr) + 1;
  }

  /** Connects the backend's input to this port (again after a reload: it replaces the old). */
  attach(): void {
    // Plain functions: a sandbox membrane calls them unbound.
    const frontend: CharFrontend = {
      canReceive: () => this.canReceive(),
      receive: (bytes) => this.receive(bytes),
    };
    this.backend.connect(frontend);
  }

  canReceive(): number {
    if (!this.accepting(this)) return 0;
    return this.hold()?.inLen ?? 0;
  }

  receive(bytes: Uint8Array): void {
    const c = this.rx;
    if (c === undefined) return;
    this.rx = undefined;
    const w = sgWrite(this.host.dma, c.in, 0, bytes);
    if (w.error !== undefined)
      this.host.ctx.log.warn(
        `port ${this.spec.nr}: receive buffer ${c.head} faulted (${w.error}): ${bytes.length - w.transferred} byte(s) dropped`,
      );
    this.host.complete(this.rxq, c.head, w.transferred);
  }

  /**
   * The driver posted receive buffers, or the port opened: waiting input may come now. The
   * first buffer is taken at once, so a broken ring is found when the driver notifies it.
   */
  wake(): void {
    this.hold();
    this.backend.ready();
  }

  /** The receive buffer held, popping one if none is. */
  private hold(): Chain | undefined {
    if (this.rx === undefined) {
      // A buffer held when the state was saved (hot reload, snapshot) is still in flight.
      const held = this.host.inflight(this.rxq)[0];
      this.rx = held !== undefined ? this.host.rewalk(this.rxq, held) : this.host.pop(this.rxq);
    }
    return this.rx;
  }

  /** Sends every buffer the driver queued on the transmit queue to the backend. */
  transmit(): void {
    for (let c = this.host.pop(this.txq); c !== undefined; c = this.host.pop(this.txq)) {
      for (let off = 0; off < c.outLen; ) {
        const r = sgRead(
          this.host.dma,
          c.out,
          off,
          this.buf.subarray(0, Math.min(CHUNK, c.outLen - off)),
        );
        if (r.transferred > 0) this.backend.write(this.buf.subarray(0, r.transferred));
        off += r.transferred;
        if (r.error !== undefined) {
          this.host.ctx.log.warn(
            `port ${this.spec.nr}: transmit buffer ${c.head} faulted (${r.error}) after ${off} byte(s)`,
          );
          break;
        }
      }
      this.host.complete(this.txq, c.head, 0);
    }
  }

  /** One byte written to the configuration space's emerg_wr (5.3.6). */
  emergencyWrite(byte: number): void {
    this.backend.write(Uint8Array.of(byte));
  }

  reset(): void {
    this.rx = undefined;
    this.guestOpen = false;
  }

  save(): PortState {
    return { nr: this.spec.nr, guestOpen: this.guestOpen };
  }

  /** Back to `s` (the held receive buffer is found again by `canReceive`). */
  restore(s: PortState | undefined): void {
    this.guestOpen = s?.guestOpen ?? false;
  }
}
