/**
 * Requests in flight: chains the device took from a virtqueue and has not completed yet, each
 * with the virtual time it completes at (`x-latency-ns` after it was taken). With a latency of
 * 0 (the default) nothing is ever in flight: requests complete inside the driver's notify.
 *
 * Hot reload carries them over rather than waiting for them to drain: the saved state names
 * each one by queue and head, with the request decoded from its header (type, sector) and its
 * deadline, so the new code completes it at the time the old code would have, from the same
 * decoded request (the chain's buffers are walked again from the descriptor table, which the
 * driver may not touch while the device owns the chain, virtio 1.2 2.7.13). A reload therefore
 * never stalls the disk, and the old code's last word on a request is the header it read.
 */
import type { TimerHandle } from '@emuhost/sdk';
import type { Chain, VirtioHost } from '@emuhost/virtio';

/** A request taken from queue `q` at chain `head`, completing at `due` (virtual ns). */
export interface InflightRequest {
  readonly q: number;
  readonly head: number;
  /** The header's type, or -1 when the header could not be read (it completes IOERR). */
  readonly type: number;
  /** The header's sector, as a decimal string (64 bits survive JSON). */
  readonly sector: string;
  readonly due: number;
}

/** Completes one decoded request on `chain` (the model's request handler). */
export type Finish = (q: number, chain: Chain, type: number, sector: bigint) => void;

export class Inflight {
  private pending: InflightRequest[];
  /** This instance's own chains, so it need not walk them again; carried ones are walked. */
  private readonly chains = new Map<string, Chain>();
  private readonly timer: TimerHandle;
  /** How many requests of the previous code are still to complete (for the report). */
  private carried: number;
  private readonly carriedTotal: number;

  constructor(
    private readonly host: VirtioHost,
    private readonly finish: Finish,
    saved: readonly InflightRequest[],
    private readonly onCarriedDone: (n: number) => void,
  ) {
    this.pending = [...saved];
    this.carried = this.carriedTotal = saved.length;
    // The named timer outlives the instance: a reload finds it armed at the old deadline.
    this.timer = host.ctx.clock.timer('io', () => this.due());
    this.arm();
  }

  get size(): number {
    return this.pending.length;
  }

  /** Takes request `chain` of queue `q`, to complete `latency` ns from now. */
  add(q: number, chain: Chain, type: number, sector: bigint, latency: number): void {
    const due = this.host.ctx.clock.now() + latency;
    this.pending.push({ q, head: chain.head, type, sector: sector.toString(), due });
    this.chains.set(key(q, chain.head), chain);
    if (!this.timer.pending || this.timer.deadline > due) this.timer.armAt(due);
  }

  /** Device reset: the requests are dropped with the queues. */
  clear(): void {
    this.pending = [];
    this.chains.clear();
    this.carried = 0;
    this.timer.cancel();
  }

  save(): InflightRequest[] {
    return this.pending.map((r) => ({ ...r }));
  }

  private due(): void {
    const now = this.host.ctx.clock.now();
    const ready = this.pending.filter((r) => r.due <= now).sort((a, b) => a.due - b.due);
    this.pending = this.pending.filter((r) => r.due > now);
    for (const r of ready) {
      const k = key(r.q, r.head);
      const mine = this.chains.get(k);
      this.chains.delete(k);
      // A carried chain is walked again; a ring the driver broke meanwhile fails the device.
      const chain = mine ?? this.host.rewalk(r.q, r.head);
      if (chain !== undefined) this.finish(r.q, chain, r.type, BigInt(r.sector));
      if (mine === undefined && this.carried > 0 && --this.carried === 0) {
        this.onCarriedDone(this.carriedTotal);
      }
    }
    this.arm();
  }

  private arm(): void {
    if (this.pending.length === 0) return;
    const next = Math.min(...this.pending.map((r) => r.due));
    if (!this.timer.pending || this.timer.deadline !== next) this.timer.armAt(next);
  }
}

const key = (q: number, head: number) => `${q}:${head}`;

/** Checks saved in-flight requests; undefined when they are not (never half-applied). */
export function restoreInflight(x: unknown): InflightRequest[] | undefined {
  if (x === undefined) return [];
  if (!Array.isArray(x)) return undefined;
  const out: InflightRequest[] = [];
  for (const e of x as unknown[]) {
    const r = (e ?? {}) as Record<string, unknown>;
    if (
      !Number.isInteger(r.q) ||
      !Number.isInteger(r.head) ||
      !Number.isInteger(r.type) ||
      typeof r.sector !== 'string' ||
      !/^\d+$/.test(r.sector) ||
      typeof r.due !== 'number'
    )
      return undefined;
    out.push({
      q: r.q as number,
      head: r.head as number,
      type: r.type as number,
      sector: r.sector,
      due: r.due,
    });
  }
  return out;
}
