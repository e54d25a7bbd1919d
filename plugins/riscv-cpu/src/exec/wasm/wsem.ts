/**
 * Tier 2's instruction semantics: what each instruction is as WebAssembly. The integer
 * instructions (RV64I, RV64M) are native i64 code here; loads and stores try the block's data
 * TLB inline (`RegionWriter.load`/`store`). Every other instruction (CSRs, the privileged
 * ones, atomics, F and D through the exact softfloat) runs its tier-1 semantics through
 * `RegionWriter.slow`: one copy of each instruction's meaning per tier.
 *
 * Registers are i64 values (`get` pushes one, `set` pops into one): the same bytes as the
 * interpreter's int32 pairs.
 */
import { type FuncWriter, OP } from './emitter.js';

/** What a generator may use while writing instruction `k` of a block. */
export interface RegionWriter {
  readonly f: FuncWriter;
  readonly rd: number;
  readonly rs1: number;
  readonly rs2: number;
  readonly rs3: number;
  /** The rounding-mode field (F and D). */
  readonly aux: number;
  /** The immediate as the decoder left it (sign-extended int32; U-type already shifted). */
  readonly imm: number;
  /** The instruction's virtual address and the next one's (JS numbers, exact). */
  readonly pc: number;
  readonly next: number;
  /** Pushes register `r` (x0 reads 0). */
  get(r: number): void;
  /** Pops an i64 into register `rd` (rd 32, the decoded x0, drops it). */
  set(rd: number): void;
  /** Retires this instruction and continues at `target` (a constant). */
  jump(target: number): void;
  /** Pops an i64 target; retires this instruction and continues there. */
  jumpDynamic(): void;
  /** Pops an i64 address; pushes the i64 loaded (`size` bytes, extended as `signed` says). */
  load(size: 1 | 2 | 4 | 8, signed: boolean): void;
  /** Pops an i64 value, then an i64 address (address pushed first); stores `size` bytes. */
  store(size: 1 | 2 | 4 | 8): void;
  /** Pushes rs1 + imm (the effective address). */
  ea(): void;
  /** A temporary i64 local. */
  readonly t0: number;
  readonly t1: number;
  /** The module's mulhu function: (i64, i64) -> i64, the high half of the unsigned product. */
  readonly mulhu: number;
  /** Jumps to a faulting target (outside every address space): the helper raises the fault. */
  badJump(): void;
  /** Runs this instruction through tier 1 (see `region.ts`). */
  slow(): void;
  /** Pushes i32 1 when mstatus.FS is Dirty, else 0. */
  fsDirty(): void;
  /** Pushes the dynamic rounding mode (i32). */
  frm(): void;
  /** Pushes f register `r`'s 64 bits; pops an i64 into f register `rd`. */
  getF(r: number): void;
  setF(rd: number): void;
}

export type WasmSemantics = (w: RegionWriter) => void;

const bin =
  (op: number): WasmSemantics =>
  (w) => {
    w.get(w.rs1);
    w.get(w.rs2);
    w.f.op(op);
    w.set(w.rd);
  };

const imm =
  (op: number): WasmSemantics =>
  (w) => {
    w.get(w.rs1);
    w.f.i64(w.imm).op(op);
    w.set(w.rd);
  };

/** A 32-bit operation on the low words, the result sign-extended. */
const word =
  (op: number, immediate: boolean): WasmSemantics =>
  (w) => {
    w.get(w.rs1);
    w.f.op(OP.i32_wrap_i64);
    if (immediate) w.f.i32(w.imm);
    else {
      w.get(w.rs2);
      w.f.op(OP.i32_wrap_i64);
    }
    w.f.op(op).op(OP.i64_extend_i32_s);
    w.set(w.rd);
  };

const compare =
  (op: number, immediate: boolean): WasmSemantics =>
  (w) => {
    w.get(w.rs1);
    if (immediate) w.f.i64(w.imm);
    else w.get(w.rs2);
    w.f.op(op).op(OP.i64_extend_i32_u);
    w.set(w.rd);
  };

const branch =
  (op: number): WasmSemantics =>
  (w) => {
    w.get(w.rs1);
    w.get(w.rs2);
    w.f.op(op);
    const l = w.f.open(OP.if);
    w.jump(w.pc + w.imm);
    w.f.end();
    void l;
  };

const load =
  (size: 1 | 2 | 4 | 8, signed: boolean): WasmSemantics =>
  (w) => {
    w.ea();
    w.load(size, signed);
    w.set(w.rd);
  };

const store =
  (size: 1 | 2 | 4 | 8): WasmSemantics =>
  (w) => {
    w.ea();
    w.get(w.rs2);
    w.store(size);
  };

/**
 * Division: `zero` is the result for a zero divisor (as the instruction on stack operands
 * computes it), and signed division of the most negative value by -1 gives the dividend
 * (WebAssembly traps there; RISC-V does not).
 */
function divide(kind: 'div' | 'divu' | 'rem' | 'remu', is32: boolean): WasmSemantics {
  const ops = is32
    ? { div: OP.i32_div_s, divu: OP.i32_div_u, rem: OP.i32_rem_s, remu: OP.i32_rem_u }
    : { div: OP.i64_div_s, divu: OP.i64_div_u, rem: OP.i64_rem_s, remu: OP.i64_rem_u };
  return (w) => {
    const f = w.f;
    // t0 = dividend, t1 = divisor, both as i64 (the W forms: sign- or zero-extended words).
    const operand = (r: number) => {
      w.get(r);
      if (is32) {
        f.op(OP.i32_wrap_i64).op(
          kind === 'div' || kind === 'rem' ? OP.i64_extend_i32_s : OP.i64_extend_i32_u,
        );
      }
    };
    operand(w.rs1);
    f.set(w.t0);
    operand(w.rs2);
    f.set(w.t1);
    f.get(w.t1).op(OP.i64_eqz);
    f.open(OP.if, 0x7e);
    if (kind === 'div' || kind === 'divu') f.i64(-1);
    else f.get(w.t0);
    f.else_();
    if (kind === 'div' || kind === 'rem') {
      // x / -1 = -x and x % -1 = 0 exactly (and without WebAssembly's overflow trap).
      f.get(w.t1).i64(-1).op(OP.i64_eq);
      f.open(OP.if, 0x7e);
      if (kind === 'div') f.i64(0).get(w.t0).op(OP.i64_sub);
      else f.i64(0);
      f.else_();
      f.get(w.t0)
        .get(w.t1)
        .op(kind === 'div' ? OP.i64_div_s : OP.i64_rem_s);
      f.end();
    } else
      f.get(w.t0)
        .get(w.t1)
        .op(kind === 'divu' ? OP.i64_div_u : OP.i64_rem_u);
    f.end();
    if (is32) f.op(OP.i32_wrap_i64).op(OP.i64_extend_i32_s);
    w.set(w.rd);
    void ops;
  };
}

/** mulh (both signed) and mulhsu (rs1 signed): mulhu corrected by the signs. */
function mulhSigned(both: boolean): WasmSemantics {
  return (w) => {
    const f = w.f;
    w.get(w.rs1);
    w.get(w.rs2);
    f.call(w.mulhu);
    // - (rs1 < 0 ? rs2 : 0)
    w.get(w.rs2);
    w.get(w.rs1);
    f.i64(63).op(OP.i64_shr_s).op(OP.i64_and).op(OP.i64_sub);
    if (both) {
      w.get(w.rs1);
      w.get(w.rs2);
      f.i64(63).op(OP.i64_shr_s).op(OP.i64_and).op(OP.i64_sub);
    }
    w.set(w.rd);
  };
}

export const WASM_SEMANTICS: Readonly<Record<string, WasmSemantics>> = {
  lui: (w) => {
    w.f.i64(w.imm);
    w.set(w.rd);
  },
  auipc: (w) => {
    w.f.i64(w.pc + w.imm);
    w.set(w.rd);
  },
  jal: (w) => {
    w.f.i64(w.next);
    w.set(w.rd);
    w.jump(w.pc + w.imm);
  },
  jalr: (w) => {
    // The target is computed before rd is written (rd may be rs1).
    w.ea();
    w.f.i64(-2).op(OP.i64_and).set(w.t0);
    w.f.i64(w.next);
    w.set(w.rd);
    // A target a double cannot hold (|t| >= 2^53) lies outside every address space.
    w.f.get(w.t0).i64(53).op(OP.i64_shr_s).i64(1).op(OP.i64_add).i64(2).op(OP.i64_lt_u);
    w.f.open(OP.if);
    w.f.get(w.t0);
    w.jumpDynamic();
    w.f.end();
    w.badJump();
  },
  beq: branch(OP.i64_eq),
  bne: branch(OP.i64_ne),
  blt: branch(OP.i64_lt_s),
  bge: branch(OP.i64_ge_s),
  bltu: branch(OP.i64_lt_u),
  bgeu: branch(OP.i64_ge_u),

  lb: load(1, true),
  lh: load(2, true),
  lw: load(4, true),
  lbu: load(1, false),
  lhu: load(2, false),
  lwu: load(4, false),
  ld: load(8, true),
  sb: store(1),
  sh: store(2),
  sw: store(4),
  sd: store(8),

  addi: imm(OP.i64_add),
  slti: compare(OP.i64_lt_s, true),
  sltiu: compare(OP.i64_lt_u, true),
  xori: imm(OP.i64_xor),
  ori: imm(OP.i64_or),
  andi: imm(OP.i64_and),
  slli: imm(OP.i64_shl),
  srli: imm(OP.i64_shr_u),
  srai: imm(OP.i64_shr_s),
  add: bin(OP.i64_add),
  sub: bin(OP.i64_sub),
  // WebAssembly masks i64 shift amounts to 6 bits and i32 ones to 5, as RISC-V does.
  sll: bin(OP.i64_shl),
  srl: bin(OP.i64_shr_u),
  sra: bin(OP.i64_shr_s),
  slt: compare(OP.i64_lt_s, false),
  sltu: compare(OP.i64_lt_u, false),
  xor: bin(OP.i64_xor),
  or: bin(OP.i64_or),
  and: bin(OP.i64_and),
  addiw: word(OP.i32_add, true),
  slliw: word(OP.i32_shl, true),
  srliw: word(OP.i32_shr_u, true),
  sraiw: word(OP.i32_shr_s, true),
  addw: word(OP.i32_add, false),
  subw: word(OP.i32_sub, false),
  sllw: word(OP.i32_shl, false),
  srlw: word(OP.i32_shr_u, false),
  sraw: word(OP.i32_shr_s, false),
  fence: () => {},

  mul: bin(OP.i64_mul),
  mulw: word(OP.i32_mul, false),
  mulhu: (w) => {
    w.get(w.rs1);
    w.get(w.rs2);
    w.f.call(w.mulhu);
    w.set(w.rd);
  },
  mulh: mulhSigned(true),
  mulhsu: mulhSigned(false),
  div: divide('div', false),
  divu: divide('divu', false),
  rem: divide('rem', false),
  remu: divide('remu', false),
  divw: divide('div', true),
  divuw: divide('divu', true),
  remw: divide('rem', true),
  remuw: divide('remu', true),
};
