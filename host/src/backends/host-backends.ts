/**
 * The host's backends of one machine: the drives (`-drive ...,if=none,id=ID`), entropy
 * sources (`-object rng-*,id=ID`, and the built-in one), and the character and network
 * backends devices may name. The host opens them when the machine is built and closes them
 * when it ends (`close`); devices get them by id through `DeviceContext.block` and its
 * siblings, each backend used by one device at a time, as QEMU's block layer attaches a
 * drive to one device.
 */
import {
  type BlockBackend,
  type CharBackend,
  EmuhostError,
  type EntropySource,
  type NetBackend,
} from '@emuhost/sdk';
import {
  BUILTIN_RNG,
  builtinEntropy,
  FileEntropy,
  type RngSpec,
  SeededEntropy,
} from './entropy.js';
import { type DriveSpec, FileBlockBackend } from './file-block.js';
import type { NetClock } from './net-hub.js';
import { NULL_CO, NullBlockBackend } from './null-block.js';

/** A drive the monitor can resize (`block_resize`). */
export type HostDrive = FileBlockBackend | NullBlockBackend;

export interface BackendsSpec {
  readonly drives?: readonly DriveSpec[];
  readonly rngs?: readonly RngSpec[];
  /**
   * The seed of the built-in entropy sources (QEMU's `-seed`); undefined: the host's
   * randomness. The emulator seeds them in deterministic mode (default seed 0).
   */
  readonly seed?: number;
  readonly chardevs?: ReadonlyMap<string, CharBackend>;
  /**
   * Network backends by `-netdev` id. Those that can be bound to a machine's clock (a hub's
   * `NetPort`) are, when the machine is built: their frames are then delivered in virtual time.
   */
  readonly netdevs?: ReadonlyMap<string, NetBackend>;
  /** Wakes a sleeping run loop when a frame comes from outside the process. */
  readonly wake?: () => void;
  /** When, in virtual time, a frame from outside arrives (a run loop's `inputTime`). */
  readonly inputTime?: () => number | undefined;
}

/** A netdev the host binds to its machine's clock (`NetPort.attach`). */
interface Attachable {
  attach(clock: NetClock, wake?: () => void, inputTime?: () => number | undefined): void;
}
const attachable = (b: unknown): b is Attachable =>
  typeof (b as Partial<Attachable>).attach === 'function';

/** A netdev as `info network` and `set_link` see it. */
export interface NetdevEntry {
  readonly id: string;
  readonly backend: NetBackend;
  /** The device using it, if any. */
  readonly device: string | undefined;
}

type Kind = 'drive' | 'rng' | 'netdev' | 'chardev';
const WHAT: Record<Kind, string> = {
  drive: '-drive',
  rng: '-object rng-*',
  netdev: '-netdev',
  chardev: '-chardev',
};

export class HostBackends {
  readonly drives = new Map<string, HostDrive>();
  private readonly rngs = new Map<string, EntropySource>();
  private readonly files: { close(): void }[] = [];
  /** Which device uses each backend, keyed `kind:id`. */
  private readonly users = new Map<string, string>();
  private readonly seed: number | undefined;

  constructor(
    private readonly spec: BackendsSpec = {},
    /** The machine's clock, that network backends deliver frames in. */
    clock?: NetClock,
  ) {
    this.seed = spec.seed;
    if (clock !== undefined)
      for (const n of spec.netdevs?.values() ?? [])
        if (attachable(n)) n.attach(clock, spec.wake, spec.inputTime);
    try {
      for (const d of spec.drives ?? []) {
        if (this.drives.has(d.id))
          throw new EmuhostError('E_DUPLICATE_ID', `-drive: duplicate id '${d.id}'`);
        const b = d.file.startsWith(NULL_CO)
          ? new NullBlockBackend(d.id, d.size, d.readOnly === true)
          : new FileBlockBackend(d);
        this.files.push(b);
        this.drives.set(d.id, b);
      }
      for (const r of spec.rngs ?? []) {
        if (this.rngs.has(r.id) || r.id === BUILTIN_RNG)
          throw new EmuhostError('E_DUPLICATE_ID', `-object: duplicate id '${r.id}'`);
        if (r.kind === 'rng-random') {
          const f = new FileEntropy(r.id, r.filename);
          this.files.push(f);
          this.rngs.set(r.id, f);
        } else this.rngs.set(r.id, builtinEntropy(r.id, this.seed));
      }
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** Drive `id` for `device`. */
  block(id: string, device: string): BlockBackend {
    return this.claim('drive', id, device, this.drives.get(id));
  }

  /**
   * Entropy source `id` for `device`; with no id, a built-in source of the device's own
   * (its stream keyed by the device id, so two devices never share bytes).
   */
  entropy(id: string | undefined, device: string): EntropySource {
    if (id === undefined) {
      const key = `${BUILTIN_RNG}:${device}`;
      let s = this.rngs.get(key);
      if (s === undefined) {
        s = builtinEntropy(key, this.seed);
        this.rngs.set(key, s);
      }
      return s;
    }
    return this.claim('rng', id, device, this.rngs.get(id));
  }

  /** Where each seeded entropy stream stands (bytes consumed), by source: for snapshots. */
  entropyPositions(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, s] of this.rngs) if (s instanceof SeededEntropy) out[k] = s.position;
    return out;
  }

  /** Puts seeded entropy streams back where `entropyPositions` found them (others are left). */
  seekEntropy(positions: Readonly<Record<string, number>>): void {
    for (const [k, p] of Object.entries(positions)) {
      // A device's own built-in stream exists once the device asked for it: make it now.
      if (!this.rngs.has(k) && k.startsWith(`${BUILTIN_RNG}:`) && this.seed !== undefined)
        this.rngs.set(k, builtinEntropy(k, this.seed));
      const s = this.rngs.get(k);
      if (s instanceof SeededEntropy && Number.isSafeInteger(p) && p >= 0) s.seek(p);
    }
  }

  netdev(id: string, device: string): NetBackend {
    return this.claim('netdev', id, device, this.spec.netdevs?.get(id));
  }

  chardev(id: string, device: string): CharBackend {
    return this.claim('chardev', id, device, this.spec.chardevs?.get(id));
  }

  /** Every netdev, with the device using it. */
  netdevList(): NetdevEntry[] {
    return [...(this.spec.netdevs ?? new Map<string, NetBackend>())].map(([id, backend]) => ({
      id,
      backend,
      device: this.users.get(`netdev:${id}`),
    }));
  }

  /** `device` is gone: what it used is free for another. */
  release(device: string): void {
    for (const [k, d] of this.users) if (d === device) this.users.delete(k);
  }

  /** Closes every file the backends opened. Idempotent. */
  close(): void {
    for (const f of this.files.splice(0)) f.close();
  }

  private claim<T>(kind: Kind, id: string, device: string, backend: T | undefined): T {
    if (backend === undefined)
      throw new EmuhostError(
        'E_UNKNOWN_ID',
        `no ${WHAT[kind]} with id '${id}'${kind === 'netdev' && this.spec.netdevs === undefined ? ' (this host has no network backends)' : ''}`,
        { device },
      );
    const key = `${kind}:${id}`;
    const user = this.users.get(key);
    if (user !== undefined && user !== device)
      throw new EmuhostError(
        'E_DUPLICATE_ID',
        `${WHAT[kind]} '${id}' is already in use by '${user}'`,
        { device },
      );
    this.users.set(key, device);
    return backend;
  }
}
