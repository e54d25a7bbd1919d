/**
 * The PLIC of QEMU's virt machine (`sifive,plic-1.0.0` at 0xc000000), as hw/intc/sifive_plic.c
 * models it with virt's configuration: sources 1..95 (0 is reserved), priorities 0..7, and two
 * contexts per hart, M-mode then S-mode (context 2h is hart h's MEIP, 2h + 1 its SEIP).
 *
 *   0x000000 + 4s              priority of source s (WARL: the value mod 8)
 *   0x001000 + 4w              pending bits of sources 32w..32w+31 (read-only)
 *   0x002000 + 0x80c + 4w      context c's enable bits of sources 32w..32w+31
 *   0x200000 + 0x1000c         context c's priority threshold (WARL: the value mod 8)
 *   0x200004 + 0x1000c         context c's claim (read) and complete (write)
 *
 * 32-bit accesses only; offsets that name nothing read 0 and ignore writes. The region is
 * 0x600000 bytes whatever the number of harts: QEMU sizes it for virt's 512-hart maximum
 * (0x200000 + 1024 contexts * 0x1000), which is the size the device tree gives.
 *
 * Sources are level-triggered. A source is pending while its level is high and it is not
 * claimed; a claim returns the enabled pending source of highest priority above the
 * context's threshold (ties: the lowest id), or 0, and marks it claimed; a completion of it
 * ends the claim, and if its level is still high it is pending again at once. A context's
 * output is high while it has something to claim.
 */
import { EmuhostError, type Logger, type MmioAccessRules, type MmioOps } from '@emuhost/sdk';
import type { VirtDevice } from './device.js';
import { IrqLine, type IrqSetter } from './irq-line.js';
import { StateReader } from './saved-state.js';

export const PLIC_SIZE = 0x600000;
const PENDING = 0x1000;
const ENABLE = 0x2000;
const ENABLE_STRIDE = 0x80;
const CONTEXT = 0x200000;
const CONTEXT_STRIDE = 0x1000;
/** Contexts the region has room for (QEMU's VIRT_CPUS_MAX * 2). */
export const PLIC_MAX_CONTEXTS = 1024;
/** Virt's VIRT_IRQCHIP_NUM_SOURCES - 1: the device tree's `riscv,ndev`. */
export const VIRT_PLIC_SOURCES = 95;
/** Virt's 3 priority bits. */
export const VIRT_PLIC_MAX_PRIORITY = 7;

export interface PlicOptions {
  /**
   * Where each context's interrupt goes, context 0 first: the machine passes hart h's `meip`
   * at 2h and its `seip` at 2h + 1. 1..1024 contexts.
   */
  readonly contexts: readonly IrqSetter[];
  /** The highest source id, 1..1023 (`riscv,ndev`). Default 95. */
  readonly sources?: number;
  /** The highest priority, 1..2^32-1. Default 7. */
  readonly maxPriority?: number;
  /** Where guest errors (registers that do not exist) are logged, at debug level. */
  readonly log?: Logger;
}

export class Plic implements VirtDevice {
  readonly size = PLIC_SIZE;
  readonly rules: MmioAccessRules = {
    valid: { min: 4, max: 4 },
    impl: { min: 4, max: 4 },
    endianness: 'little',
  };
  readonly ops: MmioOps = {
    read: (offset) => this.read(offset),
    write: (offset, _size, value) => this.write(offset, Number(value) >>> 0),
  };

  /** The highest source id. */
  readonly sources: number;
  readonly maxPriority: number;
  private readonly words: number;
  private readonly outputs: IrqLine[];
  private readonly log: Logger | undefined;
  /** Per source (0 included, as QEMU keeps it). */
  private readonly priority: Uint32Array;
  private readonly threshold: Uint32Array;
  /** Context c's enable words at c * words. */
  private readonly enable: Uint32Array;
  /** Bit masks over source ids: input levels, pending, claimed. */
  private readonly level: Uint32Array;
  private readonly pending: Uint32Array;
  private readonly claimed: Uint32Array;

  constructor(opts: PlicOptions) {
    const n = opts.contexts.length;
    if (n < 1 || n > PLIC_MAX_CONTEXTS) {
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `a PLIC has 1..${PLIC_MAX_CONTEXTS} contexts, not ${n}`,
      );
    }
    this.sources = opts.sources ?? VIRT_PLIC_SOURCES;
    if (!Number.isInteger(this.sources) || this.sources < 1 || this.sources > 1023) {
      throw new EmuhostError('E_BAD_ARGUMENT', `PLIC sources must be 1..1023, not ${this.sources}`);
    }
    this.maxPriority = opts.maxPriority ?? VIRT_PLIC_MAX_PRIORITY;
    if (
      !Number.isInteger(this.maxPriority) ||
      this.maxPriority < 1 ||
      this.maxPriority > 0xffff_ffff
    ) {
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `PLIC maxPriority must be 1..2^32-1, not ${this.maxPriority}`,
      );
    }
    this.log = opts.log;
    this.words = (this.sources + 1 + 31) >>> 5;
    this.outputs = opts.contexts.map((s) => new IrqLine(s));
    this.priority = new Uint32Array(this.sources + 1);
    this.threshold = new Uint32Array(n);
    this.enable = new Uint32Array(n * this.words);
    this.level = new Uint32Array(this.words);
    this.pending = new Uint32Array(this.words);
    this.claimed = new Uint32Array(this.words);
    this.reset();
  }

  /** Sets the level of source `id` (1..sources): what a device's interrupt output drives. */
  setSource(id: number, level: 0 | 1): void {
    this.checkSource(id);
    const w = id >>> 5;
    const bit = 1 << (id & 31);
    this.level[w] = level ? this.level[w]! | bit : this.level[w]! & ~bit;
    if (!(this.claimed[w]! & bit))
      this.pending[w] = this.level[w]! & bit ? this.pending[w]! | bit : this.pending[w]! & ~bit;
    this.update();
  }

  /** A setter for source `id`, for wiring a device's interrupt output to it. */
  sourceSetter(id: number): IrqSetter {
    this.checkSource(id);
    return (level) => this.setSource(id, level);
  }

  /**
   * Priorities, thresholds, enables and claims cleared; outputs driven low. Source levels are
   * inputs, not PLIC state: a source still high after the reset is pending again.
   */
  reset(): void {
    this.priority.fill(0);
    this.threshold.fill(0);
    this.enable.fill(0);
    this.claimed.fill(0);
    this.pending.set(this.level);
    for (const o of this.outputs) o.force(0);
  }

  saveState(): PlicState {
    return {
      sources: this.sources,
      contexts: this.outputs.length,
      priority: Array.from(this.priority),
      threshold: Array.from(this.threshold),
      enable: Array.from(this.enable),
      level: Array.from(this.level),
      pending: Array.from(this.pending),
      claimed: Array.from(this.claimed),
    };
  }

  loadState(state: unknown): void {
    const r = new StateReader('plic', state);
    const n = this.outputs.length;
    const w = this.words;
    r.int('sources', this.sources, this.sources);
    r.int('contexts', n, n);
    const u32 = 0xffff_ffff;
    const priority = r.ints('priority', this.sources + 1, 0, this.maxPriority);
    const threshold = r.ints('threshold', n, 0, this.maxPriority);
    const enable = r.ints('enable', n * w, 0, u32);
    const level = r.ints('level', w, 0, u32);
    const pending = r.ints('pending', w, 0, u32);
    const claimed = r.ints('claimed', w, 0, u32);
    this.priority.set(priority);
    this.threshold.set(threshold);
    this.enable.set(enable);
    this.level.set(level);
    this.pending.set(pending);
    this.claimed.set(claimed);
    for (let c = 0; c < n; c++) this.outputs[c]!.force(this.best(c) !== 0 ? 1 : 0);
  }

  private checkSource(id: number): void {
    if (!Number.isInteger(id) || id < 1 || id > this.sources) {
      throw new EmuhostError('E_BAD_ARGUMENT', `PLIC source ${id} is not in 1..${this.sources}`);
    }
  }

  /** The source context `c` would claim now, or 0. */
  private best(c: number): number {
    let id = 0;
    let prio = this.threshold[c]!;
    for (let w = 0; w < this.words; w++) {
      let bits = this.pending[w]! & ~this.claimed[w]! & this.enable[c * this.words + w]!;
      while (bits !== 0) {
        const j = 31 - Math.clz32(bits & -bits);
        bits &= bits - 1;
        const s = (w << 5) + j;
        if (s > this.sources) break;
        const p = this.priority[s]!;
        if (p > prio) {
          prio = p;
          id = s;
        }
      }
    }
    return id;
  }

  private update(): void {
    for (let c = 0; c < this.outputs.length; c++) this.outputs[c]!.set(this.best(c) !== 0 ? 1 : 0);
  }

  /** A priority or threshold as written: WARL (mod max+1) when that is a power of two, as QEMU. */
  private legal(value: number, old: number): number {
    const m = this.maxPriority;
    if (((m + 1) & m) === 0) return value & m;
    return value <= m ? value : old;
  }

  private read(offset: number): number {
    if (offset < 4 * (this.sources + 1)) return this.priority[offset >>> 2]!;
    if (offset >= PENDING && offset < PENDING + 4 * this.words) {
      return this.pending[(offset - PENDING) >>> 2]!;
    }
    const ctx = this.outputs.length;
    if (offset >= ENABLE && offset < ENABLE + ctx * ENABLE_STRIDE) {
      const c = (offset - ENABLE) >>> 7;
      const w = ((offset - ENABLE) & (ENABLE_STRIDE - 1)) >>> 2;
      if (w < this.words) return this.enable[c * this.words + w]!;
    } else if (offset >= CONTEXT && offset < CONTEXT + ctx * CONTEXT_STRIDE) {
      const c = (offset - CONTEXT) >>> 12;
      const reg = (offset - CONTEXT) & (CONTEXT_STRIDE - 1);
      if (reg === 0) return this.threshold[c]!;
      if (reg === 4) return this.claim(c);
    }
    this.log?.debug(`plic: read of no register at 0x${offset.toString(16)}`);
    return 0;
  }

  private write(offset: number, value: number): undefined {
    const ctx = this.outputs.length;
    if (offset < 4 * (this.sources + 1)) {
      const s = offset >>> 2;
      this.priority[s] = this.legal(value, this.priority[s]!);
      this.update();
      return undefined;
    }
    if (offset >= ENABLE && offset < ENABLE + ctx * ENABLE_STRIDE) {
      const c = (offset - ENABLE) >>> 7;
      const w = ((offset - ENABLE) & (ENABLE_STRIDE - 1)) >>> 2;
      if (w < this.words) {
        this.enable[c * this.words + w] = value;
        this.update();
        return undefined;
      }
    } else if (offset >= CONTEXT && offset < CONTEXT + ctx * CONTEXT_STRIDE) {
      const c = (offset - CONTEXT) >>> 12;
      const reg = (offset - CONTEXT) & (CONTEXT_STRIDE - 1);
      if (reg === 0) {
        this.threshold[c] = this.legal(value, this.threshold[c]!);
        this.update();
        return undefined;
      }
      if (reg === 4) {
        this.complete(value);
        return undefined;
      }
    }
    this.log?.debug(`plic: write of no register at 0x${offset.toString(16)}`);
    return undefined;
  }

  private claim(c: number): number {
    const id = this.best(c);
    if (id !== 0) {
      const bit = 1 << (id & 31);
      this.pending[id >>> 5] = this.pending[id >>> 5]! & ~bit;
      this.claimed[id >>> 5] = this.claimed[id >>> 5]! | bit;
    }
    this.update();
    return id;
  }

  /**
   * Ends the claim of source `id`, whichever context completes it and whether or not that
   * context enables it (QEMU's leniency; the PLIC specification ignores such completions).
   */
  private complete(id: number): void {
    if (id < 1 || id > this.sources) return;
    const w = id >>> 5;
    const bit = 1 << (id & 31);
    if (!(this.claimed[w]! & bit)) return;
    this.claimed[w] = this.claimed[w]! & ~bit;
    this.pending[w] = (this.pending[w]! & ~bit) | (this.level[w]! & bit);
    this.update();
  }
}

/** The PLIC's saved state: 32-bit registers and bit masks as numbers. */
export interface PlicState {
  readonly sources: number;
  readonly contexts: number;
  readonly priority: readonly number[];
  readonly threshold: readonly number[];
  readonly enable: readonly number[];
  readonly level: readonly number[];
  readonly pending: readonly number[];
  readonly claimed: readonly number[];
}
