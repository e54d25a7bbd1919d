/**
 * RV64I: integer computation, control transfer, loads and stores (unprivileged spec ch. 2 and
 * 5). Loads and stores try the block's TLB inline (a hit is two compares and a DataView access)
 * and call `LOAD`/`STORE` otherwise, which translate, check, fill the TLB or reach MMIO, and
 * throw a trap on a fault.
 */
import type { Operands } from './operands.js';
import {
  ea,
  exitIfAsked,
  hi,
  jump,
  lo,
  lt64,
  ltu64,
  put,
  putNumber,
  putW,
  retiredSoFar,
  type Semantics,
  shift64,
} from './sem-base.js';

const alu = (f: (o: Operands) => string): Semantics => ({ gen: (o) => `{${f(o)}}` });

/** 64-bit add of register a and (bl, bh) into rd. */
const add64 = (o: Operands, bl: string, bh: string) =>
  `const a_=${lo(o.rs1)};const l_=(a_+${bl})|0;` +
  `const h_=(${hi(o.rs1)}+${bh}+((l_>>>0)<(a_>>>0)?1:0))|0;${put(o.rd, 'l_', 'h_')}`;

const branch = (cond: (a: string, b: string) => string): Semantics => ({
  gen: (o) => `if(${cond(o.rs1, o.rs2)}){${jump(o, `${o.pc}+${o.imm}`)}}`,
});

const GETTERS = { 1: 'getInt8', 2: 'getInt16', 4: 'getInt32' } as const;
const UGETTERS = { 1: 'getUint8', 2: 'getUint16', 4: 'getInt32' } as const;
const SETTERS = { 1: 'setInt8', 2: 'setInt16', 4: 'setInt32' } as const;

/** The inline TLB test for an access of `size` bytes at (al, ah): sets `e_`. */
const tlbHit = (tag: 'R' | 'W', size: number) =>
  `const e_=(al>>>12)&255;if(${tag}LO[e_]===(al&-4096)&&${tag}HI[e_]===ah` +
  (size > 1 ? `&&(al&4095)<=${4096 - size}` : '') +
  ')';

/** lb/lh/lw/lbu/lhu/lwu: the loaded 32 bits, then the high word by extension. */
function load(size: 1 | 2 | 4, signed: boolean): Semantics {
  const get = signed ? GETTERS[size] : UGETTERS[size];
  return {
    gen: (o) =>
      `{${ea(o)}let v_;${tlbHit('R', size)}{v_=RV[e_].${get}(ROFF[e_]+(al&4095),true);}` +
      `else{${retiredSoFar(o)}v_=LOAD(h,al,ah,${size},${signed ? 1 : 0},${o.pc});}` +
      (signed ? putW(o.rd, 'v_') : put(o.rd, 'v_', '0')) +
      '}',
  };
}

const ld: Semantics = {
  gen: (o) =>
    `{${ea(o)}let v_,w_;${tlbHit('R', 8)}{const d_=RV[e_],p_=ROFF[e_]+(al&4095);` +
    `v_=d_.getInt32(p_,true);w_=d_.getInt32(p_+4,true);}` +
    `else{${retiredSoFar(o)}v_=LOAD(h,al,ah,8,0,${o.pc});w_=h.ldHi;}${put(o.rd, 'v_', 'w_')}}`,
};

function store(size: 1 | 2 | 4 | 8): Semantics {
  const fast =
    size === 8
      ? `{const d_=WV[e_],p_=WOFF[e_]+(al&4095);d_.setInt32(p_,${lo('rs2_')},true);d_.setInt32(p_+4,${hi('rs2_')},true);}`
      : `{WV[e_].${SETTERS[size]}(WOFF[e_]+(al&4095),${lo('rs2_')},true);}`;
  return {
    gen: (o) =>
      `{const rs2_=${o.rs2};${ea(o)}${tlbHit('W', size)}${fast}` +
      `else{${retiredSoFar(o)}STORE(h,al,ah,${size},${lo('rs2_')},${hi('rs2_')},${o.pc});${exitIfAsked(o)}}}`,
  };
}

export const RV64I: Readonly<Record<string, Semantics>> = {
  lui: alu((o) => put(o.rd, o.imm, `${o.imm}>>31`)),
  auipc: alu((o) => putNumber(o.rd, `${o.pc}+${o.imm}`)),
  jal: {
    ends: true,
    gen: (o) => `{${putNumber(o.rd, o.next)}${jump(o, `${o.pc}+${o.imm}`)}}`,
  },
  jalr: {
    ends: true,
    // The target is read before rd is written (rd may be rs1). A target a double cannot
    // hold is outside every address space here: BADJUMP faults there, exactly.
    gen: (o) =>
      `{${ea(o)}const tl_=al&-2;${putNumber(o.rd, o.next)}` +
      `if(ah>=-2097152&&ah<2097152){${jump(o, 'ah*4294967296+(tl_>>>0)')}}` +
      `h.k=${o.k}+1;BADJUMP(h,tl_,ah);}`,
  },
  beq: branch((a, b) => `${lo(a)}===${lo(b)}&&${hi(a)}===${hi(b)}`),
  bne: branch((a, b) => `${lo(a)}!==${lo(b)}||${hi(a)}!==${hi(b)}`),
  blt: branch((a, b) => lt64(lo(a), hi(a), lo(b), hi(b))),
  bge: branch((a, b) => `!${lt64(lo(a), hi(a), lo(b), hi(b))}`),
  bltu: branch((a, b) => ltu64(lo(a), hi(a), lo(b), hi(b))),
  bgeu: branch((a, b) => `!${ltu64(lo(a), hi(a), lo(b), hi(b))}`),

  lb: load(1, true),
  lh: load(2, true),
  lw: load(4, true),
  lbu: load(1, false),
  lhu: load(2, false),
  lwu: load(4, false),
  ld,
  sb: store(1),
  sh: store(2),
  sw: store(4),
  sd: store(8),

  addi: alu((o) => add64(o, o.imm, `(${o.imm}>>31)`)),
  slti: alu((o) => put(o.rd, `${lt64(lo(o.rs1), hi(o.rs1), o.imm, `(${o.imm}>>31)`)}?1:0`, '0')),
  sltiu: alu((o) => put(o.rd, `${ltu64(lo(o.rs1), hi(o.rs1), o.imm, `(${o.imm}>>31)`)}?1:0`, '0')),
  xori: alu(
    (o) =>
      `const l_=${lo(o.rs1)}^${o.imm};const h_=${hi(o.rs1)}^(${o.imm}>>31);${put(o.rd, 'l_', 'h_')}`,
  ),
  ori: alu(
    (o) =>
      `const l_=${lo(o.rs1)}|${o.imm};const h_=${hi(o.rs1)}|(${o.imm}>>31);${put(o.rd, 'l_', 'h_')}`,
  ),
  andi: alu(
    (o) =>
      `const l_=${lo(o.rs1)}&${o.imm};const h_=${hi(o.rs1)}&(${o.imm}>>31);${put(o.rd, 'l_', 'h_')}`,
  ),
  slli: alu((o) => `${shift64('sll', o.imm, lo(o.rs1), hi(o.rs1))}${put(o.rd, 'rl', 'rh')}`),
  srli: alu((o) => `${shift64('srl', o.imm, lo(o.rs1), hi(o.rs1))}${put(o.rd, 'rl', 'rh')}`),
  srai: alu((o) => `${shift64('sra', o.imm, lo(o.rs1), hi(o.rs1))}${put(o.rd, 'rl', 'rh')}`),

  add: alu((o) => `const b_=${lo(o.rs2)},c_=${hi(o.rs2)};${add64(o, 'b_', 'c_')}`),
  sub: alu(
    (o) =>
      `const a_=${lo(o.rs1)},b_=${lo(o.rs2)};const l_=(a_-b_)|0;` +
      `const h_=(${hi(o.rs1)}-${hi(o.rs2)}-((a_>>>0)<(b_>>>0)?1:0))|0;${put(o.rd, 'l_', 'h_')}`,
  ),
  sll: alu(
    (o) => `${shift64('sll', `(${lo(o.rs2)}&63)`, lo(o.rs1), hi(o.rs1))}${put(o.rd, 'rl', 'rh')}`,
  ),
  srl: alu(
    (o) => `${shift64('srl', `(${lo(o.rs2)}&63)`, lo(o.rs1), hi(o.rs1))}${put(o.rd, 'rl', 'rh')}`,
  ),
  sra: alu(
    (o) => `${shift64('sra', `(${lo(o.rs2)}&63)`, lo(o.rs1), hi(o.rs1))}${put(o.rd, 'rl', 'rh')}`,
  ),
  slt: alu((o) => put(o.rd, `${lt64(lo(o.rs1), hi(o.rs1), lo(o.rs2), hi(o.rs2))}?1:0`, '0')),
  sltu: alu((o) => put(o.rd, `${ltu64(lo(o.rs1), hi(o.rs1), lo(o.rs2), hi(o.rs2))}?1:0`, '0')),
  xor: alu(
    (o) =>
      `const l_=${lo(o.rs1)}^${lo(o.rs2)};const h_=${hi(o.rs1)}^${hi(o.rs2)};${put(o.rd, 'l_', 'h_')}`,
  ),
  or: alu(
    (o) =>
      `const l_=${lo(o.rs1)}|${lo(o.rs2)};const h_=${hi(o.rs1)}|${hi(o.rs2)};${put(o.rd, 'l_', 'h_')}`,
  ),
  and: alu(
    (o) =>
      `const l_=${lo(o.rs1)}&${lo(o.rs2)};const h_=${hi(o.rs1)}&${hi(o.rs2)};${put(o.rd, 'l_', 'h_')}`,
  ),

  addiw: alu((o) => putW(o.rd, `(${lo(o.rs1)}+${o.imm})|0`)),
  slliw: alu((o) => putW(o.rd, `${lo(o.rs1)}<<${o.imm}`)),
  srliw: alu((o) => putW(o.rd, `(${lo(o.rs1)}>>>${o.imm})|0`)),
  sraiw: alu((o) => putW(o.rd, `${lo(o.rs1)}>>${o.imm}`)),
  addw: alu((o) => putW(o.rd, `(${lo(o.rs1)}+${lo(o.rs2)})|0`)),
  subw: alu((o) => putW(o.rd, `(${lo(o.rs1)}-${lo(o.rs2)})|0`)),
  sllw: alu((o) => putW(o.rd, `${lo(o.rs1)}<<(${lo(o.rs2)}&31)`)),
  srlw: alu((o) => putW(o.rd, `(${lo(o.rs1)}>>>(${lo(o.rs2)}&31))|0`)),
  sraw: alu((o) => putW(o.rd, `${lo(o.rs1)}>>(${lo(o.rs2)}&31)`)),

  // Memory ordering is trivially kept: harts run one at a time, devices between accesses.
  fence: alu(() => ''),
};
