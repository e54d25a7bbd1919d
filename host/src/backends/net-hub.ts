/**
 * A network hub: NICs and links joined so that every frame one member sends reaches all the
 * others (QEMU's hub, `net/hub.c`), and the port a NIC sees as its `NetBackend`.
 *
 * Members are ports (a NIC of a machine in this process: `NetPort`) and links (a socket to
 * another process: `stream-link.ts`). A frame is copied once per receiving member.
 *
 * When a frame reaches a NIC. A port is attached to its machine's virtual clock, and a frame
 * sent by a port of this process at virtual time t is delivered at t + `latencyNs` of the
 * receiving machine's clock (or at once, if that machine is already past it). So within one
 * process delivery depends only on virtual time: one machine (two NICs, loopback) is
 * deterministic as it is, and several machines are when they are run in lockstep with a
 * quantum of at most the latency (`runLockstep`), whatever order they run in within a
 * quantum, as in conservative parallel simulation. A frame from another process is real-time
 * input, as the console's is: it is delivered at the receiver's input time (its current
 * virtual time, or where the host clock has reached in an idle period the run loop paces),
 * and the run loop is woken.
 *
 * Delivery happens in a timer of the receiving machine (between CPU turns, never inside
 * another device callback); a NIC without a receive buffer leaves frames waiting here until
 * it calls `ready`. At most `MAX_PENDING` frames wait per port; more are dropped, as a real
 * NIC drops what it has no buffer for.
 */
import type { NetBackend, NetFrontend } from '@emuhost/sdk';

/** Frames a port keeps for its NIC at most; more are dropped (`dropped`). */
export const MAX_PENDING = 256;
/** The default one-way delay of a frame between ports of this process, in virtual ns. */
export const DEFAULT_LATENCY_NS = 1_000_000;

/** What a port needs of its machine: its clock's time and a timer on it. */
export interface NetClock {
  readonly now: number;
  createTimer(
    callback: () => void,
    opts?: { name?: string },
  ): {
    readonly pending: boolean;
    readonly deadline: number;
    armAt(ns: number): void;
    cancel(): void;
  };
}

/** A member of a hub: what takes the frames the other members send. */
export interface HubMember {
  /**
   * A frame from another member (its own copy). `sentNs`: the sender's virtual time when it
   * is a port of this process, undefined when it came from outside.
   */
  take(frame: Uint8Array, sentNs: number | undefined): void;
}

/** Sees a port's frames both ways (a pcap capture: `filter-dump`). */
export interface NetTap {
  /** `dir`: `tx` from the NIC, `rx` to it; `ns`: the port's virtual time (0 unattached). */
  frame(frame: Uint8Array, dir: 'tx' | 'rx', ns: number): void;
}

export class NetHub {
  readonly latencyNs: number;
  private readonly members: HubMember[] = [];

  constructor(opts: { readonly latencyNs?: number } = {}) {
    this.latencyNs = opts.latencyNs ?? DEFAULT_LATENCY_NS;
  }

  /** A new port of this hub: the `NetBackend` one NIC uses (`-netdev ...,id=`). */
  port(id: string): NetPort {
    const p = new NetPort(id, this);
    this.join(p);
    return p;
  }

  /** Adds a member (a port, a link); returns its removal. */
  join(m: HubMember): () => void {
    this.members.push(m);
    return () => {
      const i = this.members.indexOf(m);
      if (i >= 0) this.members.splice(i, 1);
    };
  }

  /** How many members the hub has. */
  get size(): number {
    return this.members.length;
  }

  /** Gives `frame` to every member but `from`, each its own copy. */
  route(from: HubMember, frame: Uint8Array, sentNs: number | undefined): void {
    for (const m of this.members) if (m !== from) m.take(frame.slice(), sentNs);
  }
}

interface Pending {
  readonly frame: Uint8Array;
  /** Virtual time of the receiving machine at which it is due. */
  readonly at: number;
}

/** One NIC's attachment to a hub: its `NetBackend`. */
export class NetPort implements NetBackend, HubMember {
  /** Frames counted per direction, and dropped (link down, no room). */
  readonly stats = { tx: 0, rx: 0, dropped: 0 };
  readonly taps: NetTap[] = [];
  /** What `info network` says of the backend behind the port (`type=hub,path=...`). */
  describe: () => string = () => 'type=hubport';
  private frontend: NetFrontend | undefined;
  private readonly inbox: Pending[] = [];
  private clock: NetClock | undefined;
  private timer: ReturnType<NetClock['createTimer']> | undefined;
  private wake: (() => void) | undefined;
  private inputTime: (() => number | undefined) | undefined;
  private up = true;
  private immediate = false;
  private closed = false;

  constructor(
    readonly id: string,
    readonly hub: NetHub,
  ) {}

  /**
   * Binds delivery to the machine's clock (the host does it when the machine is built);
   * `wake` ends a run loop's sleep when a frame comes from outside, and `inputTime` says when
   * in virtual time such a frame arrives (a run loop's `inputTime`; default: the clock's
   * time). Unattached, a port
   * delivers from the event loop, as soon as it can.
   */
  attach(clock: NetClock, wake?: () => void, inputTime?: () => number | undefined): void {
    this.timer?.cancel();
    this.clock = clock;
    this.wake = wake;
    this.inputTime = inputTime;
    this.timer = clock.createTimer(() => this.deliver(), { name: `netdev ${this.id}` });
    this.schedule();
  }

  get linkUp(): boolean {
    return this.up;
  }

  /** The monitor's `set_link`: frames are dropped both ways while the link is down. */
  setLink(up: boolean): void {
    if (this.up === up) return;
    this.up = up;
    if (!up) {
      this.stats.dropped += this.inbox.length;
      this.inbox.length = 0;
    }
    this.frontend?.linkChanged?.(up);
  }

  /** The NIC connected to this port, if any. */
  get nic(): NetFrontend | undefined {
    return this.frontend;
  }

  /** Frames waiting for the NIC. */
  get pending(): number {
    return this.inbox.length;
  }

  send(frame: Uint8Array): void {
    if (!this.up || this.closed) {
      this.stats.dropped++;
      return;
    }
    this.stats.tx++;
    const now = this.clock?.now ?? 0;
    for (const t of this.taps) t.frame(frame, 'tx', now);
    this.hub.route(this, frame, this.clock === undefined ? undefined : now);
  }

  connect(frontend: NetFrontend): void {
    this.frontend = frontend;
    this.schedule();
  }

  ready(): void {
    this.schedule();
  }

  take(frame: Uint8Array, sentNs: number | undefined): void {
    if (!this.up || this.closed || this.inbox.length >= MAX_PENDING) {
      this.stats.dropped++;
      return;
    }
    const now = this.clock?.now ?? 0;
    const at =
      sentNs === undefined
        ? Math.max(now, this.inputTime?.() ?? now)
        : Math.max(now, sentNs + this.hub.latencyNs);
    // Due times from one sender only grow; from several they interleave: keep the inbox in
    // due order, first come first for equal times.
    let i = this.inbox.length;
    while (i > 0 && this.inbox[i - 1]!.at > at) i--;
    this.inbox.splice(i, 0, { frame, at });
    this.schedule();
    if (sentNs === undefined) this.wake?.();
  }

  /** Leaves the hub; later frames are dropped. */
  close(): void {
    this.closed = true;
    this.timer?.cancel();
    this.inbox.length = 0;
  }

  /** Arms delivery for the first waiting frame. */
  private schedule(): void {
    const head = this.inbox[0];
    if (head === undefined || this.frontend === undefined || this.closed) return;
    const t = this.timer;
    if (t === undefined) {
      if (this.immediate) return;
      this.immediate = true;
      setImmediate(() => {
        this.immediate = false;
        this.deliver();
      });
      return;
    }
    if (!t.pending || t.deadline > head.at) t.armAt(head.at);
  }

  /** Gives the NIC every due frame it has room for; the rest wait (a timer, or `ready`). */
  private deliver(): void {
    const f = this.frontend;
    if (f === undefined || this.closed) return;
    const now = this.clock?.now ?? Number.POSITIVE_INFINITY;
    for (;;) {
      const head = this.inbox[0];
      if (head === undefined) return;
      if (head.at > now) {
        this.timer?.armAt(head.at);
        return;
      }
      if (!f.canReceive()) return;
      this.inbox.shift();
      this.stats.rx++;
      for (const t of this.taps) t.frame(head.frame, 'rx', this.clock?.now ?? 0);
      f.receive(head.frame);
    }
  }
}
