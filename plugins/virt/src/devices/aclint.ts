/**
 * The CLINT of QEMU's virt machine (`sifive,clint0`, 64 KiB at 0x2000000): an ACLINT MSWI and
 * an ACLINT MTIMER in the SiFive layout, as hw/intc/riscv_aclint.c models them.
 *
 *   0x0000 + 4h  msip[h]      bit 0 drives hart h's MSIP; the rest reads 0. 4-byte accesses.
 *   0x4000 + 8h  mtimecmp[h]  hart h's MTIP is `mtime >= mtimecmp[h]`. 4- or 8-byte accesses.
 *   0xbff8       mtime        the virtual clock in timebase ticks; writable. 4 or 8 bytes.
 *   0xc000..     nothing      decode error (QEMU maps 0xc000 bytes of the 64 KiB window)
 *
 * Other offsets below 0xc000 read 0 and ignore writes. `mtime` is
 * `floor(clock.now() / (1e9 / timebase)) + offset`: the formula the CPU uses for its `time`
 * CSR, so the two agree while the offset is 0. A write to `mtime` changes the offset (QEMU's
 * `time_delta`); the CPU's `time` CSR does not follow it (see `timeOffset`). MTIP is kept by one
 * timer per hart armed for the exact nanosecond at which `mtime` reaches `mtimecmp`.
 */
import {
  type ClockHandle,
  EmuhostError,
  type Logger,
  type MmioAccessRules,
  type MmioOps,
  type TimerHandle,
} from '@emuhost/sdk';
import type { VirtDevice } from './device.js';
import { IrqLine, type IrqSetter } from './irq-line.js';
import { armAtOrNever, restoreDeadline, StateReader } from './saved-state.js';

export const CLINT_SIZE = 0x10000;
const MSWI_SIZE = 0x4000;
const MTIMER_BASE = 0x4000;
const MTIMER_END = 0xc000;
const MTIME = 0xbff8;
/** QEMU's RISCV_ACLINT_MAX_HARTS: what both layouts have room for. */
export const CLINT_MAX_HARTS = 4095;
/** QEMU's RISCV_ACLINT_DEFAULT_TIMEBASE_FREQ (the device tree's timebase-frequency). */
export const DEFAULT_TIMEBASE = 10_000_000;

/** Where one hart's two CLINT interrupts go (`CpuHandle.irq('msip')`, `irq('mtip')`). */
export interface ClintHartOutputs {
  readonly msip: IrqSetter;
  readonly mtip: IrqSetter;
}

export interface ClintOptions {
  readonly clock: ClockHandle;
  /** One entry per hart, hart 0 first (1..4095). */
  readonly harts: readonly ClintHartOutputs[];
  /** `mtime` ticks per second, an integer in [1, 2^32). Default 10 MHz. */
  readonly timebase?: number;
  /** Prefix of the timer names (unique on the machine's clock). Default `'clint'`. */
  readonly name?: string;
  /** Where guest errors (registers that do not exist) are logged, at debug level. */
  readonly log?: Logger;
}

const U64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const LO32 = 0xffffffffn;
const TWO64 = 1n << 64n;

/** Conversions between the virtual clock (ns) and timebase ticks. */
class Timebase {
  /** ns per tick when that is an integer (then plain float division is exact for ns < 2^53). */
  private readonly per: number;
  private readonly hz: bigint;

  constructor(hz: number) {
    this.per = 1e9 / hz;
    this.hz = BigInt(hz);
  }

  /** Ticks at `ns`: floor(ns * hz / 1e9). */
  ticksAt(ns: number): bigint {
    if (Number.isInteger(this.per)) return BigInt(Math.floor(ns / this.per));
    return (BigInt(ns) * this.hz) / 1_000_000_000n;
  }

  /** The first ns at which `ticksAt` reaches `ticks`. */
  nsOf(ticks: bigint): bigint {
    if (Number.isInteger(this.per)) return ticks * BigInt(this.per);
    return (ticks * 1_000_000_000n + this.hz - 1n) / this.hz;
  }
}

interface ClintHart {
  readonly msip: IrqLine;
  readonly mtip: IrqLine;
  readonly timer: TimerHandle;
  mtimecmp: bigint;
}

export class Clint implements VirtDevice {
  readonly size = CLINT_SIZE;
  readonly rules: MmioAccessRules = {
    // MSWI: 4 bytes only; MTIMER: 4 or 8 (QEMU's two regions' `valid`).
    valid: { min: 4, max: 8, accepts: (offset, size) => size === 4 || offset >= MSWI_SIZE },
    impl: { min: 4, max: 8 },
    endianness: 'little',
  };
  readonly ops: MmioOps = {
    read: (offset, size) => this.read(offset, size),
    write: (offset, size, value) => this.write(offset, size, value),
  };

  private readonly clock: ClockHandle;
  private readonly tb: Timebase;
  private readonly harts: ClintHart[];
  private readonly log: Logger | undefined;
  /** `mtime` minus the clock's ticks, mod 2^64. */
  private delta = 0n;

  constructor(opts: ClintOptions) {
    const n = opts.harts.length;
    if (n < 1 || n > CLINT_MAX_HARTS) {
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `a CLINT serves 1..${CLINT_MAX_HARTS} harts, not ${n}`,
      );
    }
    const hz = opts.timebase ?? DEFAULT_TIMEBASE;
    if (!Number.isInteger(hz) || hz < 1 || hz >= 2 ** 32) {
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `CLINT timebase must be an integer in [1, 2^32) Hz, not ${hz}`,
      );
    }
    this.clock = opts.clock;
    this.tb = new Timebase(hz);
    this.log = opts.log;
    const name = opts.name ?? 'clint';
    this.harts = opts.harts.map((o, h) => ({
      msip: new IrqLine(o.msip),
      mtip: new IrqLine(o.mtip),
      timer: opts.clock.timer(`${name}.mtimecmp${h}`, () => this.evaluate(h)),
      mtimecmp: 0n,
    }));
    this.reset();
  }

  /**
   * What a write to `mtime` added to it, as a signed tick count (0 until the guest writes it).
   * The CPU's `time` CSR reads the clock without it; a machine that wants the two to agree
   * after such a write would pass it to the CPU.
   */
  get timeOffset(): bigint {
    return BigInt.asIntN(64, this.delta);
  }

  /**
   * Power-on state: `msip` 0, `mtimecmp` 0 (so MTIP is raised, as in QEMU, until firmware
   * writes it), and `mtime` back on the virtual clock (offset 0). QEMU instead restarts
   * `mtime` at 0 and keeps `mtimecmp`; here `mtime` must stay equal to the CPU's `time`.
   */
  reset(): void {
    this.delta = 0n;
    for (const [h, hart] of this.harts.entries()) {
      hart.msip.force(0);
      hart.mtimecmp = 0n;
      this.evaluate(h, true);
    }
  }

  saveState(): ClintState {
    return {
      harts: this.harts.length,
      timeDelta: this.delta.toString(),
      mtimecmp: this.harts.map((h) => h.mtimecmp.toString()),
      msip: this.harts.map((h) => h.msip.level),
      mtip: this.harts.map((h) => h.mtip.level),
      deadlines: this.harts.map((h) => (h.timer.pending ? h.timer.deadline : -1)),
    };
  }

  loadState(state: unknown): void {
    const r = new StateReader('clint', state);
    const n = this.harts.length;
    r.int('harts', n, n);
    const delta = r.u64('timeDelta');
    const cmp = r.u64s('mtimecmp', n);
    const msip = r.ints('msip', n, 0, 1);
    const mtip = r.ints('mtip', n, 0, 1);
    const deadlines = r.ints('deadlines', n, -1, Number.MAX_SAFE_INTEGER);
    this.delta = delta;
    for (const [h, hart] of this.harts.entries()) {
      hart.mtimecmp = cmp[h]!;
      hart.msip.force(msip[h] as 0 | 1);
      hart.mtip.force(mtip[h] as 0 | 1);
      restoreDeadline(hart.timer, deadlines[h]!);
    }
  }

  private mtime(): bigint {
    return U64(this.tb.ticksAt(this.clock.now()) + this.delta);
  }

  /**
   * MTIP of hart `h` from `mtime` and its `mtimecmp` (driven even if unchanged when `force`),
   * and the timer armed for the nanosecond it next changes: when `mtime` reaches `mtimecmp`,
   * or, while raised, when `mtime` wraps to 0 (the comparison is unsigned; QEMU misses this).
   */
  private evaluate(h: number, force = false): void {
    const hart = this.harts[h]!;
    const raw = this.tb.ticksAt(this.clock.now());
    const mtime = U64(raw + this.delta);
    const due = mtime >= hart.mtimecmp;
    if (!due) armAtOrNever(hart.timer, this.tb.nsOf(raw + (hart.mtimecmp - mtime)));
    else if (hart.mtimecmp === 0n) hart.timer.cancel();
    else armAtOrNever(hart.timer, this.tb.nsOf(raw + (TWO64 - mtime)));
    if (force) hart.mtip.force(due ? 1 : 0);
    else hart.mtip.set(due ? 1 : 0);
  }

  private read(offset: number, size: number): number | bigint | 'decode-error' {
    if (offset < MSWI_SIZE) {
      const h = offset >> 2;
      if (h < this.harts.length) return this.harts[h]!.msip.level;
      return this.invalid('read', offset);
    }
    if (offset >= MTIMER_END) return 'decode-error';
    let v: bigint;
    if (offset >= MTIMER_BASE && offset < MTIMER_BASE + 8 * this.harts.length) {
      v = this.harts[(offset - MTIMER_BASE) >> 3]!.mtimecmp;
    } else if (offset === MTIME || offset === MTIME + 4) {
      v = this.mtime();
    } else {
      return this.invalid('read', offset);
    }
    if (size === 8) return v;
    return Number((offset & 4 ? v >> 32n : v) & LO32);
  }

  private write(offset: number, size: number, value: number | bigint): 'decode-error' | undefined {
    const v = U64(BigInt(value));
    if (offset < MSWI_SIZE) {
      const h = offset >> 2;
      if (h < this.harts.length) this.harts[h]!.msip.set(v & 1n ? 1 : 0);
      else this.invalid('write', offset);
      return undefined;
    }
    if (offset >= MTIMER_END) return 'decode-error';
    if (offset >= MTIMER_BASE && offset < MTIMER_BASE + 8 * this.harts.length) {
      const h = (offset - MTIMER_BASE) >> 3;
      const hart = this.harts[h]!;
      hart.mtimecmp = merge(hart.mtimecmp, offset, size, v);
      this.evaluate(h);
    } else if (offset === MTIME || offset === MTIME + 4) {
      const raw = this.tb.ticksAt(this.clock.now());
      this.delta = U64(merge(U64(raw + this.delta), offset, size, v) - raw);
      for (let h = 0; h < this.harts.length; h++) this.evaluate(h);
    } else {
      this.invalid('write', offset);
    }
    return undefined;
  }

  private invalid(what: 'read' | 'write', offset: number): 0 {
    this.log?.debug(`clint: ${what} of no register at 0x${offset.toString(16)}`);
    return 0;
  }
}

/** A 64-bit register after a write: all of it (8 bytes) or the addressed 32-bit half. */
function merge(old: bigint, offset: number, size: number, v: bigint): bigint {
  if (size === 8) return v;
  const half = v & LO32;
  return offset & 4 ? (half << 32n) | (old & LO32) : (old & ~LO32) | half;
}

/** The CLINT's saved state. */
export interface ClintState {
  readonly harts: number;
  /** `mtime` minus the clock's ticks, mod 2^64 (decimal). */
  readonly timeDelta: string;
  readonly mtimecmp: readonly string[];
  readonly msip: readonly (0 | 1)[];
  readonly mtip: readonly (0 | 1)[];
  /** Per hart: when its MTIP timer fires (ns), or -1. */
  readonly deadlines: readonly number[];
}
