/**
 * Reading saved device state back: plain data that may come from a file, checked field by
 * field so that state of the wrong shape is refused with the field named (host-side misuse,
 * an `EmuhostError` with code `E_BAD_ARGUMENT`), never half loaded. Also the two conversions
 * saved state needs: 64-bit values as decimal strings and timer deadlines.
 */
import { EmuhostError, type TimerHandle } from '@emuhost/sdk';

/** A reader of one device's saved state. */
export class StateReader {
  private readonly o: Record<string, unknown>;

  constructor(
    private readonly device: string,
    state: unknown,
  ) {
    if (typeof state !== 'object' || state === null || Array.isArray(state)) {
      throw this.error('is not an object');
    }
    this.o = state as Record<string, unknown>;
  }

  /** An integer in [min, max]. */
  int(key: string, min: number, max: number): number {
    const v = this.o[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw this.error(`${key} must be an integer in [${min}, ${max}]`);
    }
    return v;
  }

  /** 0 or 1. */
  bit(key: string): 0 | 1 {
    return this.int(key, 0, 1) as 0 | 1;
  }

  /** A timer deadline: ns on the virtual clock, or -1 for none. */
  deadline(key: string): number {
    return this.int(key, -1, Number.MAX_SAFE_INTEGER);
  }

  /** An array of `length` integers in [min, max]. */
  ints(key: string, length: number, min: number, max: number): number[] {
    const v = this.o[key];
    if (
      !Array.isArray(v) ||
      v.length !== length ||
      !v.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= min && x <= max)
    ) {
      throw this.error(`${key} must be ${length} integers in [${min}, ${max}]`);
    }
    return v as number[];
  }

  /** An array of at most `maxLength` integers in [min, max] (a FIFO's contents). */
  intList(key: string, maxLength: number, min: number, max: number): number[] {
    const v = this.o[key];
    const n = Array.isArray(v) ? v.length : -1;
    if (n < 0 || n > maxLength) throw this.error(`${key} must be at most ${maxLength} integers`);
    return this.ints(key, n, min, max);
  }

  /** An unsigned 64-bit value saved as a decimal string. */
  u64(key: string): bigint {
    const v = this.o[key];
    if (!isU64String(v)) throw this.error(`${key} must be a decimal string of a u64`);
    return BigInt(v);
  }

  /** An array of `length` u64 decimal strings. */
  u64s(key: string, length: number): bigint[] {
    const v = this.o[key];
    if (!Array.isArray(v) || v.length !== length || !v.every(isU64String)) {
      throw this.error(`${key} must be ${length} decimal strings of u64s`);
    }
    return v.map((x) => BigInt(x as string));
  }

  private error(what: string): EmuhostError {
    return new EmuhostError('E_BAD_ARGUMENT', `saved state of ${this.device}: ${what}`, {
      device: this.device,
    });
  }
}

const U64_MAX = (1n << 64n) - 1n;

function isU64String(v: unknown): v is string {
  return typeof v === 'string' && /^(0|[1-9][0-9]{0,19})$/.test(v) && BigInt(v) <= U64_MAX;
}

/**
 * Arms `timer` for `ns` on the virtual clock, or cancels it when `ns` lies past 2^53 - 1 ns
 * (about 104 days): the clock cannot represent that time, so the event never comes.
 */
export function armAtOrNever(timer: TimerHandle, ns: bigint): void {
  if (ns > BigInt(Number.MAX_SAFE_INTEGER)) timer.cancel();
  else timer.armAt(Number(ns < 0n ? 0n : ns));
}

/** Re-arms `timer` for a saved deadline (-1: not armed). */
export function restoreDeadline(timer: TimerHandle, deadline: number): void {
  if (deadline < 0) timer.cancel();
  else timer.armAt(deadline);
}
