/**
 * Tier 2 against tier 1: random RV64IM code (ALU, shifts, the W forms, multiply and divide
 * with their corner operands, loads and stores of every size, forward branches), run in a
 * loop so that the first pass is interpreted and the next ones run as WebAssembly, must leave
 * the same registers and memory as the interpreter alone. The riscv-tests suite runs every
 * instruction in both tiers too; this adds operands and combinations it does not try.
 */
import { addCpu } from '@emuhost/host';
import type { GuestPhysAddr } from '@emuhost/sdk';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Hart } from '../../hart.js';
import { bareRiscvMachine, rv64 } from '../../test-support/isa-test.js';

const BASE = 0x80000000;
const DATA = 0x80080000;
const LOOP_REG = 27;
const DATA_REG = 31;

const R = (f7: number, f3: number, op: number) => (rd: number, a: number, b: number) =>
  (f7 << 25) | (b << 20) | (a << 15) | (f3 << 12) | (rd << 7) | op;
const I = (op: number, f3: number, rd: number, a: number, imm: number) =>
  ((imm & 0xfff) << 20) | (a << 15) | (f3 << 12) | (rd << 7) | op;
const S = (f3: number, a: number, b: number, imm: number, op = 0x23) =>
  (((imm >> 5) & 0x7f) << 25) | (b << 20) | (a << 15) | (f3 << 12) | ((imm & 0x1f) << 7) | op;
/** OP-FP: funct7, rm (funct3), rd, rs1, rs2. */
const FP = (f7: number, rm: number, rd: number, a: number, b: number) => R(f7, rm, 0x53)(rd, a, b);
const B = (f3: number, a: number, b: number, imm: number) =>
  (((imm >> 12) & 1) << 31) |
  (((imm >> 5) & 0x3f) << 25) |
  (b << 20) |
  (a << 15) |
  (f3 << 12) |
  (((imm >> 1) & 0xf) << 8) |
  (((imm >> 11) & 1) << 7) |
  0x63;

const R_OPS = [
  R(0, 0, 0x33),
  R(0x20, 0, 0x33),
  R(0, 1, 0x33),
  R(0, 2, 0x33),
  R(0, 3, 0x33),
  R(0, 4, 0x33),
  R(0, 5, 0x33),
  R(0x20, 5, 0x33),
  R(0, 6, 0x33),
  R(0, 7, 0x33),
  ...[0, 1, 2, 3, 4, 5, 6, 7].map((f3) => R(1, f3, 0x33)),
  R(0, 0, 0x3b),
  R(0x20, 0, 0x3b),
  R(0, 1, 0x3b),
  R(0, 5, 0x3b),
  R(0x20, 5, 0x3b),
  ...[0, 4, 5, 6, 7].map((f3) => R(1, f3, 0x3b)),
];

const reg = fc.integer({ min: 0, max: 31 });
const dest = fc.integer({ min: 1, max: 30 }).filter((r) => r !== LOOP_REG);
const imm12 = fc.integer({ min: -2048, max: 2047 });

/** One instruction (or two: a branch over the next one). */
const insn: fc.Arbitrary<number[]> = fc.oneof(
  fc.tuple(fc.constantFrom(...R_OPS), dest, reg, reg).map(([f, d, a, b]) => [f(d, a, b)]),
  fc
    .tuple(fc.constantFrom(0, 2, 3, 4, 6, 7), dest, reg, imm12)
    .map(([f3, d, a, i]) => [I(0x13, f3, d, a, i)]),
  fc
    .tuple(fc.constantFrom(1, 5, 0x405), dest, reg, fc.integer({ min: 0, max: 63 }))
    .map(([k, d, a, s]) => [I(0x13, k & 7, d, a, (k & 0x400) | s)]),
  fc.tuple(dest, reg, imm12).map(([d, a, i]) => [I(0x1b, 0, d, a, i)]),
  fc
    .tuple(fc.constantFrom(1, 5, 0x405), dest, reg, fc.integer({ min: 0, max: 31 }))
    .map(([k, d, a, s]) => [I(0x1b, k & 7, d, a, (k & 0x400) | s)]),
  fc
    .tuple(fc.constantFrom(0x37, 0x17), dest, fc.integer({ min: 0, max: 0xfffff }))
    .map(([op, d, u]) => [(u << 12) | (d << 7) | op]),
  fc
    .tuple(fc.constantFrom(0, 1, 2, 3, 4, 5, 6), dest, imm12)
    .map(([f3, d, i]) => [I(0x03, f3, d, DATA_REG, i)]),
  fc.tuple(fc.constantFrom(0, 1, 2, 3), reg, imm12).map(([f3, b, i]) => [S(f3, DATA_REG, b, i)]),
  fc
    .tuple(fc.constantFrom(0, 1, 4, 5, 6, 7), reg, reg, fc.constantFrom(...R_OPS), dest, reg, reg)
    .map(([f3, a, b, f, d, x, y]) => [B(f3, a, b, 8), f(d, x, y)]),
);

const freg = fc.integer({ min: 0, max: 31 });
const rm = fc.constantFrom(0, 1, 2, 3, 4, 7);

/** D instructions: loads, stores, moves, sign injection, arithmetic in every rounding mode. */
const fpInsn: fc.Arbitrary<number[]> = fc.oneof(
  fc.tuple(fc.constantFrom(2, 3), freg, imm12).map(([f3, d, i]) => [I(0x07, f3, d, DATA_REG, i)]),
  fc.tuple(fc.constantFrom(2, 3), freg, imm12).map(([f3, b, i]) => [S(f3, DATA_REG, b, i, 0x27)]),
  fc.tuple(dest, freg).map(([d, a]) => [FP(0x71, 0, d, a, 0)]),
  fc.tuple(freg, reg).map(([d, a]) => [FP(0x79, 0, d, a, 0)]),
  fc
    .tuple(fc.constantFrom(0, 1, 2), freg, freg, freg)
    .map(([k, d, a, b]) => [FP(0x11, k, d, a, b)]),
  fc
    .tuple(fc.constantFrom(0x01, 0x05, 0x09, 0x0d), rm, freg, freg, freg)
    .map(([f7, m, d, a, b]) => [FP(f7, m, d, a, b)]),
  fc
    .tuple(rm, freg, freg, freg, freg)
    .map(([m, d, a, b, c]) => [
      (c << 27) | (1 << 25) | (b << 20) | (a << 15) | (m << 12) | (d << 7) | 0x43,
    ]),
  fc.tuple(rm, dest, freg).map(([m, d, a]) => [FP(0x61, m, d, a, 2)]),
  fc.tuple(rm, freg, reg).map(([m, d, a]) => [FP(0x69, m, d, a, 2)]),
);

/** Register values with the corner cases division and comparison care about. */
const value = fc.oneof(
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.constantFrom(0n, 1n, -1n, -(2n ** 63n), 2n ** 63n - 1n, 2n ** 31n, -(2n ** 31n), 0xffffffffn),
);

interface Outcome {
  readonly x: number[];
  readonly f: number[];
  readonly fflags: number;
  readonly data: number[];
  readonly regions: number;
}

function run(body: number[], regs: bigint[], jit: boolean, frm = 0): Outcome {
  const m = bareRiscvMachine(1 << 20);
  // li x27, 3; body; addi x27, x27, -1; bnez x27, body; j .
  const words = [I(0x13, 0, LOOP_REG, 0, 3), ...body];
  words.push(I(0x13, 0, LOOP_REG, LOOP_REG, -1));
  words.push(B(1, LOOP_REG, 0, -4 * (body.length + 1)));
  words.push(0x6f);
  m.memory.write(BASE as GuestPhysAddr, new Uint8Array(new Int32Array(words).buffer));
  const data = new Uint8Array(8192);
  for (let i = 0; i < data.length; i++) data[i] = (i * 131 + 7) & 0xff;
  m.memory.write((DATA - 4096) as GuestPhysAddr, data);
  const cpu = addCpu(m, rv64, {
    id: 'cpu0',
    index: 0,
    props: { resetvec: BASE, jit, 'jit-threshold': 1 },
  });
  const h = cpu.model as unknown as Hart;
  regs.forEach((v, i) => {
    const r = i + 1;
    h.x[2 * r] = Number(BigInt.asIntN(32, v));
    h.x[2 * r + 1] = Number(BigInt.asIntN(32, v >> 32n));
  });
  h.x[2 * DATA_REG] = DATA | 0;
  h.x[2 * DATA_REG + 1] = 0;
  // The FPU on (FS Initial: the first FP instruction makes it Dirty), f registers from x's.
  h.setMstatus(h.mstatus | (1 << 13));
  h.frm = frm;
  for (let i = 0; i < 64; i++) h.fw[i] = h.x[(i + 2) % 64]!;
  m.cpus.run({ untilNs: m.clock.now + 10 * (body.length + 4) });
  const after = new Uint8Array(8192);
  expect(m.memory.read((DATA - 4096) as GuestPhysAddr, after)).toBe('ok');
  return {
    x: Array.from(h.x.subarray(0, 64)),
    f: Array.from(h.fw),
    fflags: h.fr.fflags,
    data: Array.from(after),
    regions: h.tier2?.compiled ?? 0,
  };
}

describe('tier 2 (WebAssembly) computes what tier 1 does', () => {
  it('on random RV64IM code, loads and stores', { timeout: 120_000 }, () => {
    fc.assert(
      fc.property(
        fc.array(insn, { minLength: 1, maxLength: 40 }),
        fc.array(value, { minLength: 30, maxLength: 30 }),
        (parts, regs) => {
          const body = parts.flat();
          const interpreted = run(body, regs, false);
          const compiled = run(body, regs, true);
          expect(compiled.regions).toBeGreaterThan(0);
          expect(interpreted.regions).toBe(0);
          expect(compiled.x).toEqual(interpreted.x);
          expect(compiled.data).toEqual(interpreted.data);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('on random D code mixed with integer code, in every rounding mode', {
    timeout: 120_000,
  }, () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(insn, fpInsn, fpInsn), { minLength: 1, maxLength: 40 }),
        fc.array(value, { minLength: 30, maxLength: 30 }),
        fc.integer({ min: 0, max: 4 }),
        (parts, regs, frm) => {
          const body = parts.flat();
          const interpreted = run(body, regs, false, frm);
          const compiled = run(body, regs, true, frm);
          expect(compiled.regions).toBeGreaterThan(0);
          expect(compiled).toEqual({ ...interpreted, regions: compiled.regions });
        },
      ),
      { numRuns: 60 },
    );
  });
});
