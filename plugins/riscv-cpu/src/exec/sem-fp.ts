/**
 * F and D: the loads and stores (raw bits; flw NaN-boxes) here, every computational
 * instruction through the exact softfloat in `../fpu/` (`FP_<name>` in generated code). Every
 * FP instruction traps as illegal while `mstatus.FS` is Off, and sets FS to Dirty.
 */
import type { Format } from '../isa/opcodes.js';
import { FS_DIRTY } from '../priv/mstatus.js';
import type { Operands } from './operands.js';
import { ea, exitIfAsked, retiredSoFar, type Semantics } from './sem-base.js';

const fsCheck = (o: Operands) => `if(h.fsOff){${retiredSoFar(o)}ILLEGAL(h,${o.pc},${o.raw});}`;
// Through markFsDirty, which keeps the scratch area's copy (tier 2 tests it) in step.
const dirty = `if((h.mstatus&${FS_DIRTY})!==${FS_DIRTY})h.markFsDirty();`;

const tlbHit = (tag: 'R' | 'W', size: number) =>
  `const e_=(al>>>12)&255;if(${tag}T[e_*2]===(al&-4096)&&${tag}T[e_*2+1]===ah&&(al&4095)<=${4096 - size})`;

const flw: Semantics = {
  gen: (o) =>
    `{${fsCheck(o)}${ea(o)}let v_;${tlbHit('R', 4)}{v_=RV[e_].getInt32(ROFF[e_]+(al&4095),true);}` +
    `else{${retiredSoFar(o)}v_=LOAD(h,al,ah,4,1,${o.pc});}fw[${o.rd}*2]=v_;fw[${o.rd}*2+1]=-1;${dirty}}`,
};
const fld: Semantics = {
  gen: (o) =>
    `{${fsCheck(o)}${ea(o)}let v_,w_;${tlbHit('R', 8)}{const d_=RV[e_],p_=ROFF[e_]+(al&4095);` +
    `v_=d_.getInt32(p_,true);w_=d_.getInt32(p_+4,true);}` +
    `else{${retiredSoFar(o)}v_=LOAD(h,al,ah,8,0,${o.pc});w_=h.ldHi;}fw[${o.rd}*2]=v_;fw[${o.rd}*2+1]=w_;${dirty}}`,
};
const fsw: Semantics = {
  gen: (o) =>
    `{${fsCheck(o)}const v_=fw[${o.rs2}*2];${ea(o)}${tlbHit('W', 4)}{WV[e_].setInt32(WOFF[e_]+(al&4095),v_,true);}` +
    `else{${retiredSoFar(o)}STORE(h,al,ah,4,v_,0,${o.pc});${exitIfAsked(o)}}}`,
};
const fsd: Semantics = {
  gen: (o) =>
    `{${fsCheck(o)}const v_=fw[${o.rs2}*2],w_=fw[${o.rs2}*2+1];${ea(o)}${tlbHit('W', 8)}` +
    `{const d_=WV[e_],p_=WOFF[e_]+(al&4095);d_.setInt32(p_,v_,true);d_.setInt32(p_+4,w_,true);}` +
    `else{${retiredSoFar(o)}STORE(h,al,ah,8,v_,w_,${o.pc});${exitIfAsked(o)}}}`,
};

export const FP_MEMORY: Readonly<Record<string, Semantics>> = { flw, fld, fsw, fsd };

/** The name of an instruction's softfloat function in generated code (`fadd.d` → `FP_fadd_d`). */
export const fpHelper = (name: string) => `FP_${name.replace(/\./g, '_')}`;

/**
 * A computational FP instruction: the softfloat function with the operands its format has,
 * the rounding mode resolved (a dynamic one from `frm`; reserved ones are illegal).
 */
export function fpCompute(name: string, format: Format): Semantics {
  const fn = fpHelper(name);
  const withRm = format === 'R-rm' || format === 'R4-rm' || format === 'R1-rm';
  return {
    gen: (o) => {
      const regs =
        format === 'R4-rm'
          ? `${o.rd},${o.rs1},${o.rs2},${o.rs3}`
          : format === 'R1' || format === 'R1-rm'
            ? `${o.rd},${o.rs1}`
            : `${o.rd},${o.rs1},${o.rs2}`;
      if (!withRm) return `{${fsCheck(o)}${fn}(fr,${regs});${dirty}}`;
      return (
        `{const m_=${o.aux}===7?h.frm:${o.aux};` +
        `if(m_>4||h.fsOff){${retiredSoFar(o)}ILLEGAL(h,${o.pc},${o.raw});}` +
        `${fn}(fr,${regs},m_);${dirty}}`
      );
    },
  };
}
