/**
 * The real-time clock of QEMU's virt machine (`google,goldfish-rtc` at 0x101000, IRQ 11), as
 * hw/rtc/goldfish_rtc.c models it: a 64-bit count of ns since the Unix epoch and one alarm.
 *
 *   0x00 TIME_LOW         read: the low half, and latches the high half for TIME_HIGH;
 *                         write: replaces the low half of the time
 *   0x04 TIME_HIGH        read: the half latched by the last TIME_LOW read;
 *                         write: replaces the high half of the time
 *   0x08 ALARM_LOW        write: the alarm's low half, then arms it (at once if not in the future)
 *   0x0c ALARM_HIGH       write: the alarm's high half (write it first)
 *   0x10 IRQ_ENABLED      bit 0: the alarm may interrupt
 *   0x14 CLEAR_ALARM      write: disarms the alarm
 *   0x18 ALARM_STATUS     read: 1 while the alarm is armed
 *   0x1c CLEAR_INTERRUPT  write: acknowledges the alarm's interrupt
 *   0x24..                nothing: decode error (QEMU maps 0x24 bytes of the 4 KiB window)
 *
 * 32-bit accesses only. The time is `base + clock.now()` plus whatever the guest's writes
 * added: the machine chooses `base` (a fixed one keeps deterministic runs byte-identical, the
 * host's time gives a real clock). It counts on the virtual clock, where QEMU's counts on its
 * `rtc_clock` (the host's by default). An armed alarm fires at the virtual time it was due
 * when armed; writing the time afterwards does not move it, as in QEMU.
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

export const GOLDFISH_RTC_SIZE = 0x1000;
/** What QEMU maps of the window. */
const REGS_SIZE = 0x24;

const TIME_LOW = 0x00;
const TIME_HIGH = 0x04;
const ALARM_LOW = 0x08;
const ALARM_HIGH = 0x0c;
const IRQ_ENABLED = 0x10;
const CLEAR_ALARM = 0x14;
const ALARM_STATUS = 0x18;
const CLEAR_INTERRUPT = 0x1c;

const U64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const LO32 = 0xffffffffn;

export interface GoldfishRtcOptions {
  readonly clock: ClockHandle;
  /** Its interrupt output (the machine wires `Plic.sourceSetter(11)`). */
  readonly irq: IrqSetter;
  /** The time at virtual time 0, in ns since the Unix epoch, in [0, 2^64). */
  readonly baseNs: bigint;
  /** Prefix of the timer names (unique on the machine's clock). Default `'rtc'`. */
  readonly name?: string;
  readonly log?: Logger;
}

export class GoldfishRtc implements VirtDevice {
  readonly size = GOLDFISH_RTC_SIZE;
  readonly rules: MmioAccessRules = {
    valid: { min: 4, max: 4 },
    impl: { min: 4, max: 4 },
    endianness: 'little',
  };
  readonly ops: MmioOps = {
    read: (offset) => (offset < REGS_SIZE ? this.read(offset) : 'decode-error'),
    write: (offset, _size, value) => {
      if (offset >= REGS_SIZE) return 'decode-error';
      this.write(offset, BigInt(Number(value) >>> 0));
      return undefined;
    },
  };

  private readonly clock: ClockHandle;
  private readonly irq: IrqLine;
  private readonly timer: TimerHandle;
  private readonly log: Logger | undefined;
  /** The time minus the virtual clock, mod 2^64. Survives a reset, as in QEMU. */
  private tickOffset: bigint;
  private timeHigh = 0;
  private alarmNext = 0n;
  private alarmRunning = false;
  private irqPending = false;
  private irqEnabled = false;

  constructor(opts: GoldfishRtcOptions) {
    if (opts.baseNs < 0n || opts.baseNs >= 1n << 64n) {
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `RTC base must be in [0, 2^64) ns, not ${opts.baseNs}`,
      );
    }
    this.clock = opts.clock;
    this.irq = new IrqLine(opts.irq);
    this.log = opts.log;
    this.tickOffset = opts.baseNs;
    this.timer = opts.clock.timer(`${opts.name ?? 'rtc'}.alarm`, () => this.alarm());
    this.reset();
  }

  /** The time the guest reads now, in ns since the Unix epoch. */
  now(): bigint {
    return U64(this.tickOffset + BigInt(this.clock.now()));
  }

  /** The alarm disarmed and cleared, the interrupt off; the time keeps running (QEMU). */
  reset(): void {
    this.timer.cancel();
    this.alarmNext = 0n;
    this.alarmRunning = false;
    this.irqPending = false;
    this.irqEnabled = false;
    this.irq.force(0);
  }

  saveState(): RtcState {
    return {
      tickOffset: this.tickOffset.toString(),
      timeHigh: this.timeHigh,
      alarmNext: this.alarmNext.toString(),
      alarmRunning: this.alarmRunning ? 1 : 0,
      irqPending: this.irqPending ? 1 : 0,
      irqEnabled: this.irqEnabled ? 1 : 0,
      alarmDeadline: this.timer.pending ? this.timer.deadline : -1,
    };
  }

  loadState(state: unknown): void {
    const r = new StateReader('goldfish-rtc', state);
    const tickOffset = r.u64('tickOffset');
    const timeHigh = r.int('timeHigh', 0, 0xffff_ffff);
    const alarmNext = r.u64('alarmNext');
    const alarmRunning = r.bit('alarmRunning');
    const irqPending = r.bit('irqPending');
    const irqEnabled = r.bit('irqEnabled');
    const deadline = r.deadline('alarmDeadline');
    this.tickOffset = tickOffset;
    this.timeHigh = timeHigh;
    this.alarmNext = alarmNext;
    this.alarmRunning = alarmRunning === 1;
    this.irqPending = irqPending === 1;
    this.irqEnabled = irqEnabled === 1;
    restoreDeadline(this.timer, deadline);
    this.irq.force(this.irqPending && this.irqEnabled ? 1 : 0);
  }

  private read(offset: number): number {
    switch (offset) {
      case TIME_LOW: {
        const t = this.now();
        this.timeHigh = Number(t >> 32n);
        return Number(t & LO32);
      }
      case TIME_HIGH:
        return this.timeHigh;
      case ALARM_LOW:
        return Number(this.alarmNext & LO32);
      case ALARM_HIGH:
        return Number(this.alarmNext >> 32n);
      case IRQ_ENABLED:
        return this.irqEnabled ? 1 : 0;
      case ALARM_STATUS:
        return this.alarmRunning ? 1 : 0;
      default:
        this.log?.debug(`goldfish-rtc: read of no register at 0x${offset.toString(16)}`);
        return 0;
    }
  }

  private write(offset: number, v: bigint): void {
    switch (offset) {
      case TIME_LOW:
      case TIME_HIGH: {
        const cur = this.now();
        const next = offset === TIME_LOW ? (cur & ~LO32) | v : (v << 32n) | (cur & LO32);
        this.tickOffset = U64(this.tickOffset + next - cur);
        break;
      }
      case ALARM_LOW:
        this.alarmNext = (this.alarmNext & ~LO32) | v;
        this.setAlarm();
        break;
      case ALARM_HIGH:
        this.alarmNext = (v << 32n) | (this.alarmNext & LO32);
        break;
      case IRQ_ENABLED:
        this.irqEnabled = (v & 1n) !== 0n;
        this.update();
        break;
      case CLEAR_ALARM:
        this.timer.cancel();
        this.alarmRunning = false;
        break;
      case CLEAR_INTERRUPT:
        this.irqPending = false;
        this.update();
        break;
      default:
        this.log?.debug(`goldfish-rtc: write of no register at 0x${offset.toString(16)}`);
    }
  }

  /** Arms the alarm for `alarmNext`, or fires it now if that is not in the future. */
  private setAlarm(): void {
    if (this.alarmNext <= this.now()) {
      this.timer.cancel();
      this.alarm();
      return;
    }
    // The virtual time at which the count reaches alarmNext, with today's offset.
    armAtOrNever(this.timer, U64(this.alarmNext - this.tickOffset));
    this.alarmRunning = true;
  }

  private alarm(): void {
    this.alarmRunning = false;
    this.irqPending = true;
    this.update();
  }

  private update(): void {
    this.irq.set(this.irqPending && this.irqEnabled ? 1 : 0);
  }
}

/** The RTC's saved state; 64-bit values as decimal strings. */
export interface RtcState {
  readonly tickOffset: string;
  readonly timeHigh: number;
  readonly alarmNext: string;
  readonly alarmRunning: 0 | 1;
  readonly irqPending: 0 | 1;
  readonly irqEnabled: 0 | 1;
  /** When the alarm fires (ns of virtual time), or -1. */
  readonly alarmDeadline: number;
}
