/**
 * Tier 2's F and D instructions. The arithmetic stays the exact softfloat's (`../../fpu/`):
 * the region calls the operation directly, with the rounding mode resolved here, instead of
 * running the instruction through tier 1. Moves of bits (loads, stores, `fmv`, the double
 * sign injections) are native. Everything is conditional on mstatus.FS being Dirty (the
 * scratch area's FS word): otherwise, and for a reserved rounding mode, the instruction runs
 * through tier 1, which traps or marks FS Dirty exactly as the interpreter does.
 */
import { OP } from './emitter.js';
import type { RegionWriter, WasmSemantics } from './wsem.js';

const SIGN = -(2 ** 63);
const BOX = -(2 ** 32);

/** `native` when FS is Dirty, tier 1 otherwise. */
const guarded =
  (native: WasmSemantics): WasmSemantics =>
  (w) => {
    w.fsDirty();
    w.f.open(OP.if);
    native(w);
    w.f.else_();
    w.slow();
    w.f.end();
  };

const fload = (size: 4 | 8): WasmSemantics =>
  guarded((w) => {
    w.ea();
    w.load(size, false);
    if (size === 4) w.f.i64(BOX).op(OP.i64_or);
    w.setF(w.rd);
  });

const fstore = (size: 4 | 8): WasmSemantics =>
  guarded((w) => {
    w.ea();
    w.getF(w.rs2);
    w.store(size);
  });

/** fsgnj.d, fsgnjn.d, fsgnjx.d: the sign bit from rs2 (as is, negated, xored). */
const sgnj = (kind: 'j' | 'n' | 'x'): WasmSemantics =>
  guarded((w) => {
    const f = w.f;
    if (kind === 'x') {
      w.getF(w.rs1);
      w.getF(w.rs2);
      f.i64(SIGN).op(OP.i64_and).op(OP.i64_xor);
    } else {
      // rs1 without its sign bit, then rs2's (possibly negated) sign bit.
      w.getF(w.rs1);
      f.i64(1).op(OP.i64_shl).i64(1).op(OP.i64_shr_u);
      w.getF(w.rs2);
      if (kind === 'n') f.i64(-1).op(OP.i64_xor);
      f.i64(SIGN).op(OP.i64_and).op(OP.i64_or);
    }
    w.setF(w.rd);
  });

export const WASM_FP_SEMANTICS: Readonly<Record<string, WasmSemantics>> = {
  fld: fload(8),
  flw: fload(4),
  fsd: fstore(8),
  fsw: fstore(4),
  'fmv.x.d': guarded((w) => {
    w.getF(w.rs1);
    w.set(w.rd);
  }),
  'fmv.d.x': guarded((w) => {
    w.get(w.rs1);
    w.setF(w.rd);
  }),
  'fsgnj.d': sgnj('j'),
  'fsgnjn.d': sgnj('n'),
  'fsgnjx.d': sgnj('x'),
};

/** An FP operation through the softfloat, called from a region: how it takes its operands. */
export type FpShape = 'R' | 'R-rm' | 'R1' | 'R1-rm' | 'R4-rm';

/**
 * The call: FS Dirty and the rounding mode valid (a static one, or `frm` when dynamic), else
 * tier 1. `fn` is the import's function index; it takes (rd, rs1, rs2, rs3, rm).
 */
export function fpCall(w: RegionWriter, fn: number, shape: FpShape): void {
  const f = w.f;
  const rm = w.aux;
  const withRm = shape === 'R-rm' || shape === 'R1-rm' || shape === 'R4-rm';
  if (withRm && (rm === 5 || rm === 6)) {
    w.slow();
    return;
  }
  const dynamic = withRm && rm === 7;
  w.fsDirty();
  if (dynamic) {
    w.frm();
    f.i32(5).op(OP.i32_lt_u).op(OP.i32_and);
  }
  f.open(OP.if);
  f.i32(w.rd).i32(w.rs1).i32(w.rs2).i32(w.rs3);
  if (dynamic) w.frm();
  else f.i32(withRm ? rm : 0);
  f.call(fn);
  f.else_();
  w.slow();
  f.end();
}
