/**
 * Tier 2: a hot guest page's blocks compiled into one WebAssembly function (v86 compiles per
 * hot page the same way). V8 compiles the module with its baseline compiler (Liftoff) at
 * once and tiers hot functions up to TurboFan in the background.
 *
 * `run(off, budget)` starts at the block at byte `off` of the page and goes on block after
 * block through a dispatch loop (a `br_table` over the page's halfword offsets) while control
 * stays on the region's blocks and fewer than `budget` instructions ran; it leaves the next pc
 * in the scratch area and returns the instructions it retired.
 *
 * Guest registers are read and written in the scratch area by every instruction, not cached
 * in wasm locals: measured, V8's baseline code is as fast either way (it keeps locals in stack
 * slots too), and nothing needs writing back before a call into JavaScript or when a trap (a
 * JavaScript `throw TRAP` from a helper, after it set `h.k`) unwinds through the wasm frames.
 */
import type { CpuWasm } from '@emuhost/sdk';
import {
  SCRATCH_FRM,
  SCRATCH_FS,
  SCRATCH_FW,
  SCRATCH_PC,
  SCRATCH_TMP,
  SCRATCH_X,
  TLB_OFF,
  TLB_WTAG,
} from '../../scratch.js';
import type { Block } from '../block.js';
import {
  F_AUX,
  F_CODE,
  F_IMM,
  F_LEN,
  F_PCOFF,
  F_RD,
  F_RS1,
  F_RS2,
  F_RS3,
  FIELDS,
} from '../operands.js';
import { assemble, F64, FuncWriter, I32, I64, type Label, OP } from './emitter.js';
import { type RegionWriter, WASM_SEMANTICS, type WasmSemantics } from './wsem.js';
import { type FpShape, fpCall, WASM_FP_SEMANTICS } from './wsem-fp.js';

/** What a region calls back into: the hart's slow paths (see `Tier2` in `tier2.ts`). */
export interface RegionHelpers {
  /** A load the TLB missed: leaves the value (extended to 64 bits) in the scratch TMP. */
  ld(lo: number, hi: number, size: number, signed: number, pc: number, k: number): void;
  /** A store the TLB missed: returns 1 when the block must leave (a device was touched). */
  st(lo: number, hi: number, size: number, vlo: number, vhi: number, pc: number, k: number): number;
  /** jalr to a faulting target: raises the fault. */
  badJump(lo: number, hi: number, k: number): void;
  /** Runs `insns[idx]` with tier 1; returns 0 (next), 1 (jumped), 2 (leave); the pc in PC. */
  slow(insns: readonly Block[], leaves: Uint8Array, idx: number, k: number): number;
  /** The softfloat operation `name` (fpu FP_OPS), called as (rd, rs1, rs2, rs3, rm). */
  fp(
    name: string,
    shape: FpShape,
  ): (rd: number, a: number, b: number, c: number, m: number) => void;
}

/** How an instruction code compiles: native semantics, a softfloat call, or tier 1's (neither). */
export interface NativeEntry {
  readonly sem?: WasmSemantics;
  readonly fp?: { readonly name: string; readonly shape: FpShape };
}
export type NativeTable = readonly NativeEntry[];

/** Builds the native table from instructions by code: name, and the softfloat call if any. */
export function nativeTable(
  insns: readonly { name: string; fp?: { name: string; shape: FpShape } }[],
): NativeTable {
  return insns.map((i) => {
    const sem = WASM_SEMANTICS[i.name] ?? WASM_FP_SEMANTICS[i.name];
    if (sem !== undefined) return { sem };
    return i.fp === undefined ? {} : { fp: i.fp };
  });
}

const IMP_LD = 0;
const IMP_ST = 1;
const IMP_SLOW = 2;
const IMP_BADJUMP = 3;
/** The softfloat imports follow; then `run`, then mulhu. */
const IMP_FP = 4;

/**
 * Compiles `blocks` (all in the virtual page at `vbase`, one data regime whose read and write
 * TLBs are at `rtlb` and `wtlb`) into a region; `run(off, budget)`.
 */
export function compileRegion(
  wasm: CpuWasm,
  helpers: RegionHelpers,
  native: NativeTable,
  blocks: readonly Block[],
  vbase: number,
  rtlb: number,
  wtlb: number,
  leavesAlways: (code: number) => boolean,
): (off: number, budget: number) => number {
  const c = new RegionCompiler(wasm.scratch, native, blocks, vbase, rtlb, wtlb);
  const bytes = c.module(wasm.buffer.byteLength / 65536);
  const insns = c.slowInsns;
  const leaves = Uint8Array.from(insns, (b) => (leavesAlways(b.ops[F_CODE]!) ? 1 : 0));
  const imports: Record<string, (...args: never[]) => unknown> = {
    ld: helpers.ld,
    st: helpers.st,
    badJump: helpers.badJump,
    slow: (idx: number, k: number) => helpers.slow(insns, leaves, idx, k),
  };
  for (const [name, i] of c.fpImports) imports[`fp${i}`] = helpers.fp(name, c.fpShapes.get(name)!);
  const exports = wasm.instantiate(bytes, imports);
  return exports.run as (off: number, budget: number) => number;
}

class RegionCompiler implements RegionWriter {
  readonly f = new FuncWriter(2);
  private readonly n: number;
  private readonly pcL: number;
  private readonly a: number;
  private readonly e: number;
  private readonly v: number;
  readonly t0: number;
  readonly t1: number;
  private readonly v2: number;
  readonly mulhu: number;
  /** Softfloat operations the region calls, by name: their import index. */
  readonly fpImports = new Map<string, number>();
  readonly fpShapes = new Map<string, FpShape>();
  /** Instructions that run through tier 1, as one-instruction blocks. */
  readonly slowInsns: Block[] = [];
  private loop: Label = 0;
  private exit: Label = 0;
  private readonly starts = new Map<number, number>();
  // The instruction being compiled.
  rd = 0;
  rs1 = 0;
  rs2 = 0;
  rs3 = 0;
  aux = 0;
  imm = 0;
  pc = 0;
  next = 0;
  private k = 0;
  private j = 0;
  private block_: Block | undefined;
  private ops: Int32Array = new Int32Array(0);

  constructor(
    private readonly scratch: number,
    private readonly native: NativeTable,
    private readonly blocks: readonly Block[],
    private readonly vbase: number,
    private readonly rtlb: number,
    private readonly wtlb: number,
  ) {
    const f = this.f;
    this.n = f.local(I32);
    this.e = f.local(I32);
    this.pcL = f.local(I64);
    this.a = f.local(I64);
    this.v = f.local(I64);
    this.t0 = f.local(I64);
    this.t1 = f.local(I64);
    this.v2 = f.local(I64);
    blocks.forEach((b, i) => {
      this.starts.set(b.pc - vbase, i);
    });
    for (const b of blocks)
      for (let j = 0; j < b.n; j++) {
        const fp = native[b.ops[j * FIELDS + F_CODE]!]?.fp;
        if (fp === undefined || this.fpImports.has(fp.name)) continue;
        this.fpImports.set(fp.name, IMP_FP + this.fpImports.size);
        this.fpShapes.set(fp.name, fp.shape);
      }
    this.mulhu = IMP_FP + this.fpImports.size + 1;
  }

  module(pages: number): Uint8Array {
    this.body();
    return assemble({
      imports: [
        { name: 'ld', type: { params: [I32, I32, I32, I32, F64, I32], results: [] } },
        { name: 'st', type: { params: [I32, I32, I32, I32, I32, F64, I32], results: [I32] } },
        { name: 'slow', type: { params: [I32, I32], results: [I32] } },
        { name: 'badJump', type: { params: [I32, I32, I32], results: [] } },
        ...[...this.fpImports.values()].map((i) => ({
          name: `fp${i}`,
          type: { params: [I32, I32, I32, I32, I32], results: [] },
        })),
      ],
      funcs: [
        { type: { params: [I32, I32], results: [I32] }, body: this.f },
        { type: { params: [I64, I64], results: [I64] }, body: mulhuBody() },
      ],
      memoryPages: pages,
    });
  }

  private body(): void {
    const f = this.f;
    this.exit = f.open(OP.block);
    this.loop = f.open(OP.loop);
    // Interrupts and the clock are looked at between blocks: the budget bounds a region's turn.
    f.get(this.n).get(1).op(OP.i32_ge_s);
    f.open(OP.if);
    this.pcAtOff();
    f.br(this.exit);
    f.end();
    const k = this.blocks.length;
    const labels: Label[] = [];
    for (let i = k - 1; i >= 0; i--) labels[i] = f.open(OP.block);
    const dflt = f.open(OP.block);
    // br_table over halfword offsets: block i's label, or the default (leave at that pc).
    f.get(0).i32(1).op(OP.i32_shr_u).i32(2047).op(OP.i32_and);
    f.byte(OP.br_table).u32(2048);
    for (let s = 0; s < 2048; s++) {
      const i = this.starts.get(s * 2);
      f.u32(i === undefined ? 0 : f.depth(labels[i]!));
    }
    f.u32(0);
    f.end();
    void dflt;
    this.pcAtOff();
    f.br(this.exit);
    for (let i = 0; i < k; i++) {
      f.end();
      this.block(this.blocks[i]!);
    }
    f.end(); // loop
    f.end(); // exit block
    f.i32(0)
      .get(this.pcL)
      .mem(OP.i64_store, this.scratch + SCRATCH_PC);
    f.get(this.n);
  }

  /** pc = vbase + off. */
  private pcAtOff(): void {
    this.f.i64(this.vbase).get(0).op(OP.i64_extend_i32_u).op(OP.i64_add).set(this.pcL);
  }

  private block(b: Block): void {
    this.ops = b.ops;
    for (let j = 0; j < b.n; j++) {
      const i = j * FIELDS;
      const code = b.ops[i + F_CODE]!;
      this.k = j;
      this.rd = b.ops[i + F_RD]!;
      this.rs1 = b.ops[i + F_RS1]!;
      this.rs2 = b.ops[i + F_RS2]!;
      this.rs3 = b.ops[i + F_RS3]!;
      this.aux = b.ops[i + F_AUX]!;
      this.imm = b.ops[i + F_IMM]!;
      this.pc = b.pc + b.ops[i + F_PCOFF]!;
      this.next = this.pc + b.ops[i + F_LEN]!;
      this.block_ = b;
      this.j = j;
      const entry = this.native[code];
      if (entry?.sem !== undefined) entry.sem(this);
      else if (entry?.fp !== undefined)
        fpCall(this, this.fpImports.get(entry.fp.name)!, entry.fp.shape);
      else this.slow();
    }
    this.k = b.n - 1;
    this.jump(b.pc + b.endOff);
  }

  get(r: number): void {
    if (r === 0 || r === 32) this.f.i64(0);
    else this.f.i32(0).mem(OP.i64_load, this.scratch + SCRATCH_X + 8 * r);
  }

  set(rd: number): void {
    if (rd === 0 || rd === 32) this.f.op(OP.drop);
    else
      this.f
        .set(this.v2)
        .i32(0)
        .get(this.v2)
        .mem(OP.i64_store, this.scratch + SCRATCH_X + 8 * rd);
  }

  ea(): void {
    this.get(this.rs1);
    if (this.imm !== 0) this.f.i64(this.imm).op(OP.i64_add);
  }

  /** n += k + 1 (this instruction retires). */
  private retire(): void {
    this.f
      .get(this.n)
      .i32(this.k + 1)
      .op(OP.i32_add)
      .set(this.n);
  }

  jump(target: number): void {
    const f = this.f;
    this.retire();
    const off = target - this.vbase;
    if (off >= 0 && off < 4096 && this.starts.has(off)) {
      f.i32(off).set(0);
      f.br(this.loop);
    } else {
      f.i64(target).set(this.pcL);
      f.br(this.exit);
    }
  }

  jumpDynamic(): void {
    this.f.set(this.t1);
    this.retire();
    this.dispatch(this.t1);
  }

  /** Continues at the pc in i64 local `t`: inside the page through the loop, else leaves. */
  private dispatch(t: number): void {
    const f = this.f;
    f.get(t).i64(this.vbase).op(OP.i64_sub).i64(4096).op(OP.i64_lt_u);
    f.open(OP.if);
    f.get(t).i64(this.vbase).op(OP.i64_sub).op(OP.i32_wrap_i64).set(0);
    f.br(this.loop);
    f.end();
    f.get(t).set(this.pcL);
    f.br(this.exit);
  }

  /** Pushes n + k: the instructions retired in this run before the current one. */
  private retiredSoFar(): void {
    this.f.get(this.n).i32(this.k).op(OP.i32_add);
  }

  /** e = the TLB entry's index times 8 for the address in local `a`. */
  private tlbHit(tlb: number, size: number): void {
    const f = this.f;
    f.get(this.a).op(OP.i32_wrap_i64).i32(9).op(OP.i32_shr_u).i32(0x7f8).op(OP.i32_and).tee(this.e);
    f.mem(OP.i64_load, tlb + TLB_WTAG);
    f.get(this.a).i64(-4096).op(OP.i64_and).op(OP.i64_eq);
    if (size > 1) {
      f.get(this.a)
        .op(OP.i32_wrap_i64)
        .i32(4095)
        .op(OP.i32_and)
        .i32(4096 - size)
        .op(OP.i32_le_u);
      f.op(OP.i32_and);
    }
  }

  /** Pushes the linear-memory address of the access at `a` through entry `e` of `tlb`. */
  private hostAddress(tlb: number): void {
    const f = this.f;
    f.get(this.e)
      .i32(1)
      .op(OP.i32_shr_u)
      .mem(OP.i32_load, tlb + TLB_OFF);
    f.get(this.a).op(OP.i32_wrap_i64).i32(4095).op(OP.i32_and).op(OP.i32_add);
  }

  private addressHalves(): void {
    const f = this.f;
    f.get(this.a).op(OP.i32_wrap_i64);
    f.get(this.a).i64(32).op(OP.i64_shr_u).op(OP.i32_wrap_i64);
  }

  load(size: 1 | 2 | 4 | 8, signed: boolean): void {
    const f = this.f;
    f.set(this.a);
    this.tlbHit(this.rtlb, size);
    f.open(OP.if, I64);
    this.hostAddress(this.rtlb);
    const op =
      size === 8
        ? OP.i64_load
        : size === 4
          ? signed
            ? OP.i64_load32_s
            : OP.i64_load32_u
          : size === 2
            ? signed
              ? OP.i64_load16_s
              : OP.i64_load16_u
            : signed
              ? OP.i64_load8_s
              : OP.i64_load8_u;
    f.mem(op, 0);
    f.else_();
    this.addressHalves();
    f.i32(size)
      .i32(signed ? 1 : 0)
      .f64(this.pc);
    this.retiredSoFar();
    f.call(IMP_LD);
    f.i32(0).mem(OP.i64_load, this.scratch + SCRATCH_TMP);
    f.end();
  }

  store(size: 1 | 2 | 4 | 8): void {
    const f = this.f;
    f.set(this.v);
    f.set(this.a);
    this.tlbHit(this.wtlb, size);
    f.open(OP.if);
    this.hostAddress(this.wtlb);
    f.get(this.v);
    f.mem(
      size === 8
        ? OP.i64_store
        : size === 4
          ? OP.i64_store32
          : size === 2
            ? OP.i64_store16
            : OP.i64_store8,
      0,
    );
    f.else_();
    this.addressHalves();
    f.i32(size);
    f.get(this.v).op(OP.i32_wrap_i64);
    f.get(this.v).i64(32).op(OP.i64_shr_u).op(OP.i32_wrap_i64);
    f.f64(this.pc);
    this.retiredSoFar();
    f.call(IMP_ST);
    // A device was touched: back to the run loop after this instruction.
    f.open(OP.if);
    this.retire();
    f.i64(this.next).set(this.pcL);
    f.br(this.exit);
    f.end();
    f.end();
  }

  badJump(): void {
    const f = this.f;
    f.get(this.t0).op(OP.i32_wrap_i64);
    f.get(this.t0).i64(32).op(OP.i64_shr_u).op(OP.i32_wrap_i64);
    f.i32(this.k + 1);
    f.get(this.n).op(OP.i32_add);
    f.call(IMP_BADJUMP);
    f.op(OP.unreachable);
  }

  fsDirty(): void {
    this.f
      .i32(0)
      .mem(OP.i32_load, this.scratch + SCRATCH_FS)
      .i32(2)
      .op(OP.i32_eq);
  }

  frm(): void {
    this.f.i32(0).mem(OP.i32_load, this.scratch + SCRATCH_FRM);
  }

  getF(r: number): void {
    this.f.i32(0).mem(OP.i64_load, this.scratch + SCRATCH_FW + 8 * r);
  }

  setF(rd: number): void {
    this.f
      .set(this.v2)
      .i32(0)
      .get(this.v2)
      .mem(OP.i64_store, this.scratch + SCRATCH_FW + 8 * rd);
  }

  /** This instruction through tier 1 (on the same registers); control goes on as it says. */
  slow(): void {
    const f = this.f;
    const b = this.block_!;
    const i = this.j * FIELDS;
    const one = new (b.constructor as typeof Block)(
      this.pc,
      b.regime,
      this.ops.slice(i, i + FIELDS),
      1,
      this.ops[i + F_LEN]!,
    );
    one.ops[F_PCOFF] = 0;
    const idx = this.slowInsns.length;
    this.slowInsns.push(one);
    f.i32(idx);
    this.retiredSoFar();
    f.call(IMP_SLOW);
    f.tee(this.e);
    f.open(OP.if);
    this.retire();
    f.i32(0)
      .mem(OP.i64_load, this.scratch + SCRATCH_PC)
      .set(this.t1);
    f.get(this.e).i32(2).op(OP.i32_eq);
    f.open(OP.if);
    f.get(this.t1).set(this.pcL);
    f.br(this.exit);
    f.end();
    this.dispatch(this.t1);
    f.end();
  }
}

/** The high 64 bits of the unsigned 128-bit product of two i64 (four 32x32 partial products). */
function mulhuBody(): FuncWriter {
  const f = new FuncWriter(2);
  const [al, ah, bl, bh, mid, p1, p2] = [I64, I64, I64, I64, I64, I64, I64].map((t) =>
    f.local(t),
  ) as [number, number, number, number, number, number, number];
  const lo32 = (x: number, into: number) => f.get(x).i64(0xffffffff).op(OP.i64_and).set(into);
  const hi32 = (x: number, into: number) => f.get(x).i64(32).op(OP.i64_shr_u).set(into);
  lo32(0, al);
  hi32(0, ah);
  lo32(1, bl);
  hi32(1, bh);
  f.get(al).get(bh).op(OP.i64_mul).set(p1);
  f.get(ah).get(bl).op(OP.i64_mul).set(p2);
  // mid = (al*bl >> 32) + lo32(p1) + lo32(p2): below 3 * 2^32, no overflow.
  f.get(al).get(bl).op(OP.i64_mul).i64(32).op(OP.i64_shr_u);
  f.get(p1).i64(0xffffffff).op(OP.i64_and).op(OP.i64_add);
  f.get(p2).i64(0xffffffff).op(OP.i64_and).op(OP.i64_add).set(mid);
  f.get(ah).get(bh).op(OP.i64_mul);
  f.get(p1).i64(32).op(OP.i64_shr_u).op(OP.i64_add);
  f.get(p2).i64(32).op(OP.i64_shr_u).op(OP.i64_add);
  f.get(mid).i64(32).op(OP.i64_shr_u).op(OP.i64_add);
  return f;
}
