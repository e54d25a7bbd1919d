/**
 * A split virtqueue (virtio 1.2, 2.7) as the device sees it: the descriptor table, the
 * driver's available ring and the device's used ring, all in guest memory and all reached
 * through the device's DMA context, so an IOMMU translates every ring access and every
 * buffer exactly as it translates the device's other DMA.
 *
 * The device pops chains (`pop`: the walk of a chain, direct or through indirect tables,
 * into device-readable and device-writable scatter-gather lists) and pushes them back used
 * (`push`), then asks whether the driver wants an interrupt (`needsInterrupt`: EVENT_IDX's
 * used_event, or the avail ring's NO_INTERRUPT flag).
 *
 * What the guest can get wrong is a result, never an exception: an index past the queue, a
 * chain that loops, a malformed indirect table, a readable descriptor after a writable one,
 * a chain longer than 4 GiB, a ring the device cannot read: `pop` answers a `QueueFault`, and
 * the transport then sets DEVICE_NEEDS_RESET and stops serving the device until a reset (as
 * QEMU's virtio_error does). A buffer the device cannot reach (an IOMMU fault, nothing
 * mapped) is not a ring fault: the device fails that request, the spec's way.
 */
import { type DMAContext, type DmaSgEntry, type Iova, iova } from '@emuhost/sdk';
import { AVAIL_F_NO_INTERRUPT, DESC, MAX_CHAIN, needEvent, u16 } from './constants.js';

/** What made a queue unusable; the transport sets DEVICE_NEEDS_RESET with it. */
export interface QueueFault {
  readonly fault: string;
}

/** A chain the device popped: its head (what `push` takes back) and its buffers. */
export interface Chain {
  readonly head: number;
  /** Device-readable buffers, in order. */
  readonly out: readonly DmaSgEntry[];
  /** Device-writable buffers, in order. */
  readonly in: readonly DmaSgEntry[];
  /** Total bytes of `out` and of `in`. */
  readonly outLen: number;
  readonly inLen: number;
}

/** A queue's state as plain data (part of the device's saved state). */
export interface VirtqueueState {
  readonly size: number;
  readonly ready: boolean;
  readonly desc: number;
  readonly avail: number;
  readonly used: number;
  readonly lastAvail: number;
  readonly usedIdx: number;
  /** The used index at the last interrupt (EVENT_IDX), or -1 when none is known. */
  readonly signalled: number;
  /** Heads popped and not pushed yet (requests in flight). */
  readonly inflight: readonly number[];
}

/** What a queue asks of the device it belongs to: the negotiated ring features. */
export interface QueueFeatures {
  eventIdx(): boolean;
  indirect(): boolean;
}

export const isQueueFault = (x: unknown): x is QueueFault =>
  typeof x === 'object' && x !== null && 'fault' in x;

/** An address from a descriptor's 64 bits: numbers past 2^53 are decode errors, so clamp there. */
const addr64 = (lo: number, hi: number): Iova => iova(hi >= 0x200000 ? 2 ** 53 : hi * 2 ** 32 + lo);

const hex = (n: number) => `0x${n.toString(16)}`;

export class Virtqueue {
  size: number;
  ready = false;
  /** Guest addresses (IOVAs) of the descriptor table, available ring and used ring. */
  desc = 0;
  avail = 0;
  used = 0;
  lastAvail = 0;
  usedIdx = 0;
  private signalled = -1;
  private readonly inflight = new Set<number>();
  private readonly scratch = new Uint8Array(16);
  private readonly view = new DataView(this.scratch.buffer);

  constructor(
    readonly index: number,
    /** The most entries the device supports (what the driver reads as the queue size first). */
    readonly maxSize: number,
    private readonly dma: DMAContext,
    private readonly features: QueueFeatures,
  ) {
    this.size = maxSize;
  }

  /** Back to the state after a device reset (not ready, size at its maximum). */
  reset(): void {
    this.size = this.maxSize;
    this.ready = false;
    this.desc = 0;
    this.avail = 0;
    this.used = 0;
    this.lastAvail = 0;
    this.usedIdx = 0;
    this.signalled = -1;
    this.inflight.clear();
  }

  /** The driver enabled the queue: its rings are where the addresses say from now on. */
  enable(): void {
    this.ready = true;
    this.signalled = -1;
  }

  /** Requests popped and not yet pushed. */
  get inFlight(): readonly number[] {
    return [...this.inflight];
  }

  /**
   * The next available chain, undefined when the driver has made none available, or why the
   * ring is unusable.
   */
  pop(): Chain | undefined | QueueFault {
    if (!this.ready || this.size === 0) return undefined;
    let idx = this.dma.readU16LE(iova(this.avail + 2));
    if (typeof idx !== 'number') return this.memFault('avail->idx', this.avail + 2, idx.result);
    if (idx === this.lastAvail && this.features.eventIdx()) {
      // Ask for a kick when the next entry comes, then look again: it may already be there.
      const r = this.writeAvailEvent();
      if (r !== undefined) return r;
      idx = this.dma.readU16LE(iova(this.avail + 2));
      if (typeof idx !== 'number') return this.memFault('avail->idx', this.avail + 2, idx.result);
    }
    if (idx === this.lastAvail) return undefined;
    if (u16(idx - this.lastAvail) > this.size)
      return {
        fault: `the driver moved avail->idx from ${this.lastAvail} to ${idx}, past the queue's ${this.size} entries`,
      };
    const slot = this.avail + 4 + 2 * (this.lastAvail % this.size);
    const head = this.dma.readU16LE(iova(slot));
    if (typeof head !== 'number') return this.memFault('the avail ring', slot, head.result);
    if (head >= this.size)
      return { fault: `the driver made descriptor ${head} available in a queue of ${this.size}` };
    if (this.inflight.has(head))
      return { fault: `the driver made descriptor ${head} available while the device holds it` };
    const chain = this.walk(head);
    if (isQueueFault(chain)) return chain;
    this.lastAvail = u16(this.lastAvail + 1);
    this.inflight.add(head);
    if (this.features.eventIdx()) {
      const r = this.writeAvailEvent();
      if (r !== undefined) return r;
    }
    return chain;
  }

  /**
   * Returns chain `head` to the driver with `len` bytes written into its device-writable
   * buffers. Throws (a device bug, not the guest's) for a head that is not in flight.
   */
  push(head: number, len: number): QueueFault | undefined {
    if (!this.inflight.delete(head))
      throw new Error(`virtqueue ${this.index}: descriptor ${head} was not popped`);
    const at = this.used + 4 + 8 * (this.usedIdx % this.size);
    this.view.setUint32(0, head, true);
    this.view.setUint32(4, len >>> 0, true);
    const r = this.dma.write(iova(at), this.scratch.subarray(0, 8));
    if (r !== 'ok') return this.memFault('the used ring', at, r.result);
    this.usedIdx = u16(this.usedIdx + 1);
    const w = this.dma.writeU16LE(iova(this.used + 2), this.usedIdx);
    if (w !== 'ok') return this.memFault('used->idx', this.used + 2, w.result);
    return undefined;
  }

  /**
   * Whether the driver wants an interrupt for what was pushed since the last one: with
   * EVENT_IDX, when the used index passed its used_event; without, unless avail->flags says
   * NO_INTERRUPT.
   */
  needsInterrupt(): boolean | QueueFault {
    if (this.features.eventIdx()) {
      const at = this.avail + 4 + 2 * this.size;
      const event = this.dma.readU16LE(iova(at));
      if (typeof event !== 'number') return this.memFault('used_event', at, event.result);
      const old = this.signalled;
      this.signalled = this.usedIdx;
      return old < 0 || needEvent(event, this.usedIdx, old);
    }
    const flags = this.dma.readU16LE(iova(this.avail));
    if (typeof flags !== 'number') return this.memFault('avail->flags', this.avail, flags.result);
    return (flags & AVAIL_F_NO_INTERRUPT) === 0;
  }

  /** Walks the chain at `head` again (a request in flight, after a restore). */
  rewalk(head: number): Chain | QueueFault {
    return this.walk(head);
  }

  save(): VirtqueueState {
    return {
      size: this.size,
      ready: this.ready,
      desc: this.desc,
      avail: this.avail,
      used: this.used,
      lastAvail: this.lastAvail,
      usedIdx: this.usedIdx,
      signalled: this.signalled,
      inflight: this.inFlight,
    };
  }

  load(s: VirtqueueState): void {
    this.size = s.size;
    this.ready = s.ready;
    this.desc = s.desc;
    this.avail = s.avail;
    this.used = s.used;
    this.lastAvail = s.lastAvail;
    this.usedIdx = s.usedIdx;
    this.signalled = s.signalled;
    this.inflight.clear();
    for (const h of s.inflight) this.inflight.add(h);
  }

  private writeAvailEvent(): QueueFault | undefined {
    const at = this.used + 4 + 8 * this.size;
    const r = this.dma.writeU16LE(iova(at), this.lastAvail);
    return r === 'ok' ? undefined : this.memFault('avail_event', at, r.result);
  }

  private memFault(what: string, at: number, why: string): QueueFault {
    return { fault: `queue ${this.index}: cannot reach ${what} at ${hex(at)} (${why})` };
  }

  /** The chain at `head`: direct descriptors, then possibly one indirect table (2.7.5.3). */
  private walk(head: number): Chain | QueueFault {
    const out: DmaSgEntry[] = [];
    const inb: DmaSgEntry[] = [];
    let outLen = 0;
    let inLen = 0;
    let table = this.desc;
    let tableSize = this.size;
    let indirect = false;
    let i = head;
    let inTable = 0;
    const v = this.view;
    for (let total = 0; ; ) {
      if (i >= tableSize)
        return {
          fault: `queue ${this.index}: descriptor chain at ${head} goes to index ${i}, past the ${indirect ? 'indirect table' : 'queue'}'s ${tableSize} entries`,
        };
      if (++inTable > tableSize)
        return { fault: `queue ${this.index}: descriptor chain at ${head} loops` };
      if (++total > MAX_CHAIN)
        return {
          fault: `queue ${this.index}: descriptor chain at ${head} has more than ${MAX_CHAIN} descriptors`,
        };
      const at = table + 16 * i;
      const r = this.dma.read(iova(at), this.scratch);
      if (r !== 'ok') return this.memFault(`descriptor ${i}`, at, r.result);
      const addr = addr64(v.getUint32(0, true), v.getUint32(4, true));
      const len = v.getUint32(8, true);
      const flags = v.getUint16(12, true);
      const next = v.getUint16(14, true);
      if (flags & DESC.INDIRECT) {
        if (!this.features.indirect())
          return {
            fault: `queue ${this.index}: an indirect descriptor, but INDIRECT_DESC was not negotiated`,
          };
        if (indirect)
          return { fault: `queue ${this.index}: an indirect descriptor inside an indirect table` };
        if (flags & DESC.NEXT)
          return { fault: `queue ${this.index}: an indirect descriptor with NEXT set` };
        if (len === 0 || len % 16 !== 0)
          return {
            fault: `queue ${this.index}: an indirect table of ${len} bytes (not a multiple of 16)`,
          };
        indirect = true;
        table = addr;
        tableSize = len / 16;
        inTable = 0;
        i = 0;
        continue;
      }
      if (flags & DESC.WRITE) {
        inb.push({ addr, len });
        inLen += len;
      } else {
        if (inb.length > 0)
          return {
            fault: `queue ${this.index}: a device-readable descriptor after a device-writable one`,
          };
        out.push({ addr, len });
        outLen += len;
      }
      if (outLen + inLen > 0xffffffff)
        return { fault: `queue ${this.index}: descriptor chain at ${head} is longer than 4 GiB` };
      if ((flags & DESC.NEXT) === 0) break;
      i = next;
    }
    return { head, out, in: inb, outLen, inLen };
  }
}
