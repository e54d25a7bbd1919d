/**
 * Physical memory protection: 16 entries (`pmpcfg0`, `pmpcfg2`, `pmpaddr0..15`), checked as
 * the privileged spec (3.7) says: the lowest-numbered entry that matches any byte of an access
 * decides; it must match every byte; M-mode is checked only against locked entries; an S- or
 * U-mode access no entry matches fails (entries are implemented, whether active or not).
 * Granularity is 4 bytes (G = 0). Entries 16..63 are read-only zero.
 *
 * The TLB caches a page only when one decision covers all of it (`pagePerm`), so the check is
 * per page fill, not per access.
 */
import { PRV_M } from '../priv/causes.js';

export const PMP_ENTRIES = 16;

const R = 1;
const W = 2;
const X = 4;
const A_SHIFT = 3;
const L = 0x80;
const A_OFF = 0;
const A_TOR = 1;
const A_NA4 = 2;

/** Access kinds as permission bits (the same bits as a cfg byte's R, W, X). */
export const PMP_R = R;
export const PMP_W = W;
export const PMP_X = X;

/** pmpaddr holds address bits 55..2: 54 bits. */
const ADDR_HI_MASK = 0x3fffff;

export class Pmp {
  readonly cfg = new Uint8Array(PMP_ENTRIES);
  /** pmpaddr as written (54 bits), low and high words. */
  readonly addrLo = new Int32Array(PMP_ENTRIES);
  readonly addrHi = new Int32Array(PMP_ENTRIES);
  /** Decoded ranges [start, end) in bytes (doubles: exact below 2^53, where memory is). */
  private readonly start = new Float64Array(PMP_ENTRIES);
  private readonly end = new Float64Array(PMP_ENTRIES);
  /** Whether any entry is active (A != OFF): nothing to check in M-mode otherwise. */
  private anyActive = false;
  private anyLocked = false;

  reset(): void {
    this.cfg.fill(0);
    this.addrLo.fill(0);
    this.addrHi.fill(0);
    this.decode();
  }

  /** Reads `pmpcfgN` (N even, 0..14): 8 cfg bytes as two words. */
  readCfg(n: number): [number, number] {
    const base = n * 4;
    if (base >= PMP_ENTRIES) return [0, 0];
    const c = this.cfg;
    const w = (i: number) =>
      c[base + i]! |
      (c[base + i + 1]! << 8) |
      (c[base + i + 2]! << 16) |
      (c[base + i + 3]! << 24) |
      0;
    return [w(0), w(4)];
  }

  writeCfg(n: number, lo: number, hi: number): void {
    const base = n * 4;
    if (base >= PMP_ENTRIES) return;
    for (let i = 0; i < 8; i++) {
      const e = base + i;
      if (this.cfg[e]! & L) continue;
      let v = (i < 4 ? lo >>> (8 * i) : hi >>> (8 * (i - 4))) & 0xff & ~0x60;
      // R=0,W=1 is reserved: keep the entry's permissions as they were.
      if ((v & (R | W)) === W) v = (v & ~(R | W | X)) | (this.cfg[e]! & (R | W | X));
      this.cfg[e] = v;
    }
    this.decode();
  }

  readAddr(i: number): [number, number] {
    if (i >= PMP_ENTRIES) return [0, 0];
    return [this.addrLo[i]!, this.addrHi[i]!];
  }

  writeAddr(i: number, lo: number, hi: number): void {
    if (i >= PMP_ENTRIES || this.addrLocked(i)) return;
    this.addrLo[i] = lo;
    this.addrHi[i] = hi & ADDR_HI_MASK;
    this.decode();
  }

  /** An address register is locked by its own L, or by the next entry's L when that is TOR. */
  private addrLocked(i: number): boolean {
    if (this.cfg[i]! & L) return true;
    const next = this.cfg[i + 1];
    return next !== undefined && (next & L) !== 0 && ((next >> A_SHIFT) & 3) === A_TOR;
  }

  private decode(): void {
    this.anyActive = false;
    this.anyLocked = false;
    for (let i = 0; i < PMP_ENTRIES; i++) {
      const c = this.cfg[i]!;
      const a = (c >> A_SHIFT) & 3;
      const addr = (this.addrHi[i]! >>> 0) * 2 ** 32 + (this.addrLo[i]! >>> 0);
      if (c & L) this.anyLocked = true;
      if (a === A_OFF) {
        this.start[i] = 0;
        this.end[i] = 0;
        continue;
      }
      this.anyActive = true;
      if (a === A_TOR) {
        const prev =
          i === 0 ? 0 : (this.addrHi[i - 1]! >>> 0) * 2 ** 32 + (this.addrLo[i - 1]! >>> 0);
        this.start[i] = prev * 4;
        this.end[i] = addr * 4;
      } else if (a === A_NA4) {
        this.start[i] = addr * 4;
        this.end[i] = addr * 4 + 4;
      } else {
        // NAPOT: the trailing ones of pmpaddr give the size.
        const ones = trailingOnes(this.addrLo[i]!, this.addrHi[i]!);
        const size = 2 ** (ones + 3);
        // Clear the low `ones` bits (and the 0 after them) exactly, in halves: pmpaddr has 54
        // bits, more than a double holds.
        const lo = ones + 1 >= 32 ? 0 : (this.addrLo[i]! >>> (ones + 1)) << (ones + 1);
        const hi =
          ones + 1 <= 32 ? this.addrHi[i]! : (this.addrHi[i]! >>> (ones - 31)) << (ones - 31);
        const base = ((hi >>> 0) * 2 ** 32 + (lo >>> 0)) * 4;
        this.start[i] = base;
        this.end[i] = base + size;
      }
    }
  }

  /**
   * Whether an access of `size` bytes at `addr` with permission `perm` (PMP_R/W/X) is allowed
   * in privilege `priv` (the effective one: MPRV applied).
   */
  check(addr: number, size: number, priv: number, perm: number): boolean {
    if (priv === PRV_M && !this.anyLocked) return true;
    for (let i = 0; i < PMP_ENTRIES; i++) {
      const s = this.start[i]!;
      const e = this.end[i]!;
      if (e <= s || addr + size <= s || addr >= e) continue;
      if (addr < s || addr + size > e) return false;
      const c = this.cfg[i]!;
      if (priv === PRV_M && (c & L) === 0) return true;
      return (c & perm) === perm;
    }
    return priv === PRV_M;
  }

  /**
   * The permissions (PMP_R|W|X bits) that hold for every byte of the 4 KiB page at `page`
   * in privilege `priv`, or -1 when the page is split between entries (check per access).
   */
  pagePerm(page: number, priv: number): number {
    if (priv === PRV_M && !this.anyLocked) return R | W | X;
    if (!this.anyActive) return priv === PRV_M ? R | W | X : 0;
    const pageEnd = page + 4096;
    for (let i = 0; i < PMP_ENTRIES; i++) {
      const s = this.start[i]!;
      const e = this.end[i]!;
      if (e <= s || pageEnd <= s || page >= e) continue;
      if (page < s || pageEnd > e) return -1;
      const c = this.cfg[i]!;
      if (priv === PRV_M && (c & L) === 0) return R | W | X;
      return c & (R | W | X);
    }
    return priv === PRV_M ? R | W | X : 0;
  }
}

/** Trailing one bits of the 64-bit value (hi, lo). */
function trailingOnes(lo: number, hi: number): number {
  const t = (v: number) => {
    let n = 0;
    while (n < 32 && ((v >>> n) & 1) === 1) n++;
    return n;
  };
  const a = t(lo);
  return a < 32 ? a : 32 + t(hi);
}
