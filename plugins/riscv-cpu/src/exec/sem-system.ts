/**
 * Zicsr, the privileged instructions and the trap-raising ones. Each calls a helper (csr.ts,
 * trap.ts) that does the work and may trap; an instruction that changes what later
 * instructions of the block depend on (privilege, translation, interrupt enables) leaves the
 * block, so that the next one is looked up, and interrupts checked, afresh.
 */
import { exitIfAsked, hi, jumpToRun, lo, retiredSoFar, type Semantics } from './sem-base.js';

/** CSR operation codes, as `CSR` takes them. */
export const CSR_RW = 0;
export const CSR_RS = 1;
export const CSR_RC = 2;

function csr(op: number, immediate: boolean): Semantics {
  return {
    gen: (o) => {
      // csrrs/csrrc with rs1 = x0 (or a zero immediate) only read; csrrw always writes.
      const writes = op === CSR_RW ? 'true' : `${o.rs1}!==0`;
      const src = immediate ? `${o.rs1},0` : `${lo(o.rs1)},${hi(o.rs1)}`;
      return `{${retiredSoFar(o)}CSR(h,${op},${o.aux},${o.rd},${src},${writes},${o.pc},${o.raw});${exitIfAsked(o)}}`;
    },
  };
}

const leave = (call: string): Semantics => ({
  ends: true,
  gen: (o) =>
    `{${retiredSoFar(o)}${call.replace(/\$(\w+)/g, (_, f: string) => String(o[f as keyof typeof o]))};${jumpToRun(o, o.next)}}`,
});

export const SYSTEM: Readonly<Record<string, Semantics>> = {
  csrrw: csr(CSR_RW, false),
  csrrs: csr(CSR_RS, false),
  csrrc: csr(CSR_RC, false),
  csrrwi: csr(CSR_RW, true),
  csrrsi: csr(CSR_RS, true),
  csrrci: csr(CSR_RC, true),
  ecall: { ends: true, gen: (o) => `{${retiredSoFar(o)}ECALL(h,${o.pc});}` },
  ebreak: { ends: true, gen: (o) => `{${retiredSoFar(o)}EBREAK(h,${o.pc});}` },
  // MRET and SRET set the pc themselves.
  mret: {
    ends: true,
    gen: (o) => `{${retiredSoFar(o)}MRET(h,${o.pc},${o.raw});${jumpToRun(o, 'h.pc')}}`,
  },
  sret: {
    ends: true,
    gen: (o) => `{${retiredSoFar(o)}SRET(h,${o.pc},${o.raw});${jumpToRun(o, 'h.pc')}}`,
  },
  wfi: leave('WFI(h,$pc,$raw)'),
  'sfence.vma': leave('SFENCE(h,$rs1,$rs2,$pc,$raw)'),
  'fence.i': leave('FENCEI(h)'),
};

/** An encoding nothing decodes to. */
export const ILLEGAL_SEM: Semantics = {
  ends: true,
  gen: (o) => `{${retiredSoFar(o)}ILLEGAL(h,${o.pc},${o.raw});}`,
};
