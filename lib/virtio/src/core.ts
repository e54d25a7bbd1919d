/**
 * The transport-independent half of a virtio device (virtio 1.2, 2 and 3): device status,
 * feature negotiation, the queues, the configuration generation, interrupt causes, reset and
 * DEVICE_NEEDS_RESET. A transport (virtio-pci, virtio-mmio) decodes registers into calls
 * here and turns `signal`s into interrupts; a device model sees only `VirtioHost`.
 *
 * Feature negotiation follows QEMU: the device offers its own features plus VERSION_1,
 * INDIRECT_DESC and EVENT_IDX (each unless turned off), and ACCESS_PLATFORM when
 * `iommu_platform=on`. FEATURES_OK stays clear (the driver sees it refused) when the driver
 * asked for a feature not offered, left out VERSION_1, or left out an offered
 * ACCESS_PLATFORM (QEMU's virtio_validate_features). Without ACCESS_PLATFORM the device's DMA
 * context bypasses the IOMMU: the kernel records it on the context (`dma.bypassIommu`), so
 * `info iommu` shows it, and the device never reaches around its context.
 */
import type { DeviceContext, DMAContext } from '@emuhost/sdk';
import { bit, F, ISR, STATUS } from './constants.js';
import {
  type Chain,
  isQueueFault,
  type QueueFault,
  Virtqueue,
  type VirtqueueState,
} from './virtqueue.js';

/** What a device model implements; the library does the rest. */
export interface VirtioDevice {
  /** Device-specific feature bits offered (below bit 24 and any above 40). */
  readonly features: bigint;
  /** The maximum size of each queue, in queue order (its length is the number of queues). */
  readonly queueSizes: readonly number[];
  /** The device configuration space, little-endian (2.5); the device keeps it current. */
  readonly config: Uint8Array;
  /** A driver write into the configuration space (most devices have nothing writable). */
  configWrite?(offset: number, size: number, value: number): void;
  /** The driver set FEATURES_OK with `features`; return false to refuse them. */
  featuresOk?(features: bigint): boolean;
  /** The driver set DRIVER_OK. */
  driverOk?(): void;
  /**
   * Queue `q` may have new buffers (the driver notified it, or DRIVER_OK came): pop chains
   * with `host.pop(q)` and complete them with `host.complete`.
   */
  queueNotify(q: number): void;
  /** Device reset (status 0, or a machine reset): drop requests, cancel timers. */
  reset(): void;
  /** The device's own state, plain data (it goes into the plugin's saved state). */
  saveState?(): unknown;
}

/** What a device model is given. */
export interface VirtioHost {
  readonly ctx: DeviceContext;
  readonly dma: DMAContext;
  /** Whether feature bit `n` was negotiated (FEATURES_OK accepted). */
  negotiated(n: number): boolean;
  /** The next chain of queue `q`, or undefined (none, or the device needs a reset). */
  pop(q: number): Chain | undefined;
  /**
   * Gives chain `head` of queue `q` back with `written` bytes written into its buffers, and
   * interrupts the driver if it wants one (batched: inside `queueNotify`, once at its end).
   */
  complete(q: number, head: number, written: number): void;
  /** Heads of queue `q` popped and not completed (requests in flight, e.g. after a restore). */
  inflight(q: number): readonly number[];
  /** The chain at `head` of queue `q` again (a request in flight after a restore). */
  rewalk(q: number, head: number): Chain | undefined;
  /** The device changed its configuration space: a new generation and an interrupt. */
  configChanged(): void;
  /** The device cannot go on: DEVICE_NEEDS_RESET, a configuration interrupt, nothing served. */
  fail(reason: string): void;
}

/** How a transport delivers interrupts. */
export interface VirtioSignals {
  /** Queue `q` has used buffers the driver wants to hear of (ISR bit 0 is set already). */
  queue(q: number): void;
  /** The configuration changed, or the device needs a reset (ISR bits 0 and 1 are set already). */
  config(): void;
}

/** The negotiation and ring options every virtio device takes (QEMU's property names). */
export interface CoreOptions {
  /** `iommu_platform=on`: offer ACCESS_PLATFORM (then the driver must accept it). */
  readonly iommuPlatform: boolean;
  /** `event_idx=off` / `indirect_desc=off` stop offering those ring features. */
  readonly eventIdx: boolean;
  readonly indirectDesc: boolean;
}

export interface CoreState {
  readonly status: number;
  readonly driverFeatures: string;
  readonly generation: number;
  readonly isr: number;
  readonly broken: string | null;
  readonly queues: readonly VirtqueueState[];
}

export class VirtioCore {
  status = 0;
  driverFeatures = 0n;
  /** Configuration generation (2.4.1), 8 bits on the wire. */
  generation = 0;
  /** Interrupt causes not yet acknowledged (ISR bits). */
  isr = 0;
  /** Why the device needs a reset, or null. */
  broken: string | null = null;
  readonly offered: bigint;
  readonly queues: Virtqueue[];
  readonly host: VirtioHost;
  device!: VirtioDevice;
  signals!: VirtioSignals;
  /** Queues with completions not yet signalled, while a notify is being served. */
  private dispatching = false;
  private readonly dirty = new Set<number>();

  constructor(
    private readonly ctx: DeviceContext,
    private readonly opts: CoreOptions,
    makeDevice: (host: VirtioHost) => VirtioDevice,
  ) {
    const dma = ctx.dma;
    this.host = Object.freeze({
      ctx,
      dma,
      negotiated: (n: number) => this.negotiated(n),
      pop: (q: number) => this.pop(q),
      complete: (q: number, head: number, written: number) => this.complete(q, head, written),
      inflight: (q: number) => this.queues[q]?.inFlight ?? [],
      rewalk: (q: number, head: number) => {
        const c = this.queues[q]?.rewalk(head);
        if (c === undefined || isQueueFault(c)) {
          if (c !== undefined) this.fail(c.fault);
          return undefined;
        }
        return c;
      },
      configChanged: () => this.configChanged(),
      fail: (reason: string) => this.fail(reason),
    });
    this.device = makeDevice(this.host);
    let offered = this.device.features | bit(F.VERSION_1);
    if (opts.indirectDesc) offered |= bit(F.INDIRECT_DESC);
    if (opts.eventIdx) offered |= bit(F.EVENT_IDX);
    if (opts.iommuPlatform) offered |= bit(F.ACCESS_PLATFORM);
    this.offered = offered;
    const features = {
      eventIdx: () => this.negotiated(F.EVENT_IDX),
      indirect: () => this.negotiated(F.INDIRECT_DESC),
    };
    this.queues = this.device.queueSizes.map((n, i) => new Virtqueue(i, n, dma, features));
    this.applyBypass();
  }

  /** Whether feature bit `n` is in force (the driver's features, once FEATURES_OK stuck). */
  negotiated(n: number): boolean {
    return (this.status & STATUS.FEATURES_OK) !== 0 && (this.driverFeatures & bit(n)) !== 0n;
  }

  /** The driver writes 32 bits of its features (`word` 0: bits 0-31, 1: bits 32-63). */
  writeDriverFeatures(word: number, value: number): void {
    // Features are fixed once FEATURES_OK is set (3.1.1).
    if (this.status & STATUS.FEATURES_OK || word < 0 || word > 1) return;
    const shift = BigInt(32 * word);
    const mask = 0xffffffffn << shift;
    this.driverFeatures = (this.driverFeatures & ~mask) | (BigInt(value >>> 0) << shift);
  }

  /** 32 bits of the offered features. */
  offeredWord(word: number): number {
    return word === 0 || word === 1 ? Number((this.offered >> BigInt(32 * word)) & 0xffffffffn) : 0;
  }

  /** The driver writes the device status (2.1): 0 resets the device. */
  writeStatus(value: number): void {
    const v = value & 0xff;
    if (v === 0) {
      this.reset();
      return;
    }
    const before = this.status;
    let next = v | (before & STATUS.DEVICE_NEEDS_RESET);
    if (next & STATUS.FEATURES_OK && !(before & STATUS.FEATURES_OK)) {
      if (!this.featuresAcceptable()) next &= ~STATUS.FEATURES_OK;
    }
    // The driver cannot clear FEATURES_OK without a reset.
    if (before & STATUS.FEATURES_OK) next |= STATUS.FEATURES_OK;
    this.status = next;
    if (next & STATUS.FEATURES_OK && !(before & STATUS.FEATURES_OK)) this.applyBypass();
    if (next & STATUS.DRIVER_OK && !(before & STATUS.DRIVER_OK)) {
      this.device.driverOk?.();
      // Buffers made available before DRIVER_OK are served now.
      for (const q of this.queues) if (q.ready) this.notify(q.index);
    }
  }

  /** The driver notified queue `q`. */
  notify(q: number): void {
    const queue = this.queues[q];
    if (queue === undefined || !queue.ready || this.broken !== null) return;
    if ((this.status & STATUS.DRIVER_OK) === 0) return;
    const outer = this.dispatching;
    this.dispatching = true;
    try {
      this.device.queueNotify(q);
    } finally {
      this.dispatching = outer;
    }
    if (!outer) this.flush();
  }

  pop(q: number): Chain | undefined {
    const queue = this.queues[q];
    if (queue === undefined || this.broken !== null) return undefined;
    const c = queue.pop();
    if (isQueueFault(c)) {
      this.fail(c.fault);
      return undefined;
    }
    return c;
  }

  complete(q: number, head: number, written: number): void {
    const queue = this.queues[q];
    if (queue === undefined || this.broken !== null) return;
    const f = queue.push(head, written);
    if (f !== undefined) {
      this.fail(f.fault);
      return;
    }
    this.dirty.add(q);
    if (!this.dispatching) this.flush();
  }

  configChanged(): void {
    this.generation = (this.generation + 1) & 0xff;
    this.configInterrupt();
  }

  /** The device cannot go on until reset (2.1.2): DEVICE_NEEDS_RESET, then a config interrupt. */
  fail(reason: string): void {
    if (this.broken !== null) return;
    this.broken = reason;
    this.ctx.log.warn(`virtio: ${reason}: the device needs a reset`);
    this.status |= STATUS.DEVICE_NEEDS_RESET;
    this.configInterrupt();
  }

  /** Device reset: status and features 0, queues reset, the device's own reset. */
  reset(): void {
    this.status = 0;
    this.driverFeatures = 0n;
    this.generation = 0;
    this.isr = 0;
    this.broken = null;
    this.dirty.clear();
    for (const q of this.queues) q.reset();
    this.device.reset();
    this.applyBypass();
  }

  save(): CoreState {
    return {
      status: this.status,
      driverFeatures: this.driverFeatures.toString(16),
      generation: this.generation,
      isr: this.isr,
      broken: this.broken,
      queues: this.queues.map((q) => q.save()),
    };
  }

  load(s: CoreState): void {
    this.status = s.status;
    this.driverFeatures = BigInt(`0x${s.driverFeatures}`);
    this.generation = s.generation;
    this.isr = s.isr;
    this.broken = s.broken;
    for (const [i, q] of s.queues.entries()) this.queues[i]?.load(q);
    this.applyBypass();
  }

  private flush(): void {
    for (const q of this.dirty) {
      this.dirty.delete(q);
      const want = this.queues[q]!.needsInterrupt();
      if (isQueueFault(want)) {
        this.fail(want.fault);
        return;
      }
      if (want) {
        this.isr |= ISR.QUEUE;
        this.signals.queue(q);
      }
    }
  }

  private configInterrupt(): void {
    if ((this.status & STATUS.DRIVER_OK) === 0) return;
    // As QEMU's virtio_notify_config: both ISR bits.
    this.isr |= ISR.QUEUE | ISR.CONFIG;
    this.signals?.config();
  }

  private featuresAcceptable(): boolean {
    const f = this.driverFeatures;
    if ((f & ~this.offered) !== 0n) return false;
    if ((f & bit(F.VERSION_1)) === 0n) return false;
    if (this.opts.iommuPlatform && (f & bit(F.ACCESS_PLATFORM)) === 0n) return false;
    return this.device.featuresOk?.(f) ?? true;
  }

  /**
   * Without ACCESS_PLATFORM in force, the device's DMA bypasses the IOMMU (QEMU uses
   * `address_space_memory` then). Before negotiation, what was offered decides.
   */
  private applyBypass(): void {
    const through =
      (this.status & STATUS.FEATURES_OK) !== 0
        ? this.negotiated(F.ACCESS_PLATFORM)
        : this.opts.iommuPlatform;
    this.ctx.dma.bypassIommu?.(!through);
  }
}

export type { QueueFault };
