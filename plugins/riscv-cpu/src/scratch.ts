/**
 * The hart's scratch area: the state that the interpreter (JavaScript, through typed-array
 * views) and the compiled code (WebAssembly, through linear-memory addresses) share without
 * copies. It is the CPU's private area in the machine's WebAssembly memory (`CpuWasm.scratch`)
 * when there is one, a plain buffer otherwise (then only the interpreter runs).
 *
 * Layout (byte offsets from the area's start; every 64-bit value little-endian, so a pair of
 * int32 words `w[2i]` low, `w[2i+1]` high is the same bytes as an i64):
 * - `X`: the 32 integer registers and the scratch pair 32 (rd = x0 writes there), 66 words.
 * - `PC`: the pc a compiled region leaves at (i64). `TMP`: a helper's 64-bit result (i64).
 * - `FS`: mstatus.FS as compiled code tests it (0 Off, 1 on and not Dirty, 2 Dirty), and
 *   `FRM`, the dynamic rounding mode (the hart's `frm` lives here).
 * - `FW`: the 32 f registers, 64 words.
 * - `TLB`: the six data TLBs (`mmu/tlb.ts`), `TLB_BYTES` each.
 */
import { CPU_SCRATCH_SIZE, type CpuWasm } from '@emuhost/sdk';

export const SCRATCH_X = 0;
export const SCRATCH_PC = 272;
export const SCRATCH_TMP = 280;
export const SCRATCH_FS = 288;
export const SCRATCH_FRM = 292;
export const SCRATCH_FW = 512;
export const SCRATCH_TLB = 1024;
/** A TLB's arrays: tag (256 i64), wasm tag (256 i64), page offset (256 i32). */
export const TLB_TAG = 0;
export const TLB_WTAG = 2048;
export const TLB_OFF = 4096;
export const TLB_BYTES = 5120;

export class Scratch {
  /** The buffer the area lives in, and the area's offset there (its linear-memory address). */
  readonly buffer: ArrayBuffer;
  readonly base: number;
  /** The integer registers: x[2i] low, x[2i+1] high. */
  readonly x: Int32Array;
  /** The f registers as doubles and as words (the same bytes). */
  readonly f: Float64Array;
  readonly fw: Int32Array;
  /** The exit pc and a helper's 64-bit result, as words. */
  readonly pc: Int32Array;
  readonly tmp: Int32Array;
  /** [FS state, frm] (see above). */
  readonly fs: Int32Array;

  constructor(readonly wasm: CpuWasm | undefined) {
    this.buffer = wasm?.buffer ?? new ArrayBuffer(CPU_SCRATCH_SIZE);
    this.base = wasm?.scratch ?? 0;
    this.x = new Int32Array(this.buffer, this.base + SCRATCH_X, 66);
    this.pc = new Int32Array(this.buffer, this.base + SCRATCH_PC, 2);
    this.tmp = new Int32Array(this.buffer, this.base + SCRATCH_TMP, 2);
    this.fs = new Int32Array(this.buffer, this.base + SCRATCH_FS, 2);
    this.f = new Float64Array(this.buffer, this.base + SCRATCH_FW, 32);
    this.fw = new Int32Array(this.buffer, this.base + SCRATCH_FW, 64);
  }

  /** Byte offset (linear-memory address) of data TLB `i`'s arrays. */
  tlbBase(i: number): number {
    return this.base + SCRATCH_TLB + i * TLB_BYTES;
  }
}
