/**
 * The WebAssembly writer: LEB128 against a BigInt model of the encoding, and assembled
 * modules that V8 accepts and that compute what they should.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assemble, Bytes, FuncWriter, I32, I64, OP } from './emitter.js';

interface WasmApi {
  Memory: new (d: { initial: number; maximum: number }) => object;
  Module: new (b: Uint8Array) => object;
  Instance: new (m: object, i: object) => { exports: Record<string, unknown> };
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** Signed LEB128 of a BigInt, the specification's way (7 bits at a time, arithmetic shift). */
function slebModel(v: bigint): number[] {
  const out: number[] = [];
  for (;;) {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    const done = (v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0);
    out.push(done ? b : b | 0x80);
    if (done) return out;
  }
}

describe('LEB128', () => {
  it('signed: any safe integer, as the model encodes it', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), (v) => {
        expect(Array.from(new Bytes().sleb(v).result())).toEqual(slebModel(BigInt(v)));
      }),
    );
  });

  it('unsigned: any u32', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (v) => {
        const bytes = Array.from(new Bytes().u32(v).result());
        const back = bytes.reduce((acc, b, i) => acc + (b & 0x7f) * 2 ** (7 * i), 0);
        expect(back).toBe(v);
        expect(bytes.slice(0, -1).every((b) => b & 0x80)).toBe(true);
      }),
    );
  });
});

describe('assemble', () => {
  it('makes a module V8 validates, whose exported run computes with i64 and memory', () => {
    const mem = new WA.Memory({ initial: 1, maximum: 1 });
    // run(a, b) = (i32) ((i64 a * 3 + mem64[8]) >> 1), through a loop and a label.
    const f = new FuncWriter(2);
    const t = f.local(I64);
    f.get(0).op(OP.i64_extend_i32_s).i64(3).op(OP.i64_mul).set(t);
    const out = f.open(OP.block);
    const loop = f.open(OP.loop);
    f.get(t).i32(0).mem(OP.i64_load, 8).op(OP.i64_add).set(t);
    f.get(1).i32(1).op(OP.i32_sub).tee(1);
    f.brIf(loop);
    f.br(out);
    f.end();
    f.end();
    f.get(t).i64(1).op(OP.i64_shr_s).op(OP.i32_wrap_i64);
    const bytes = assemble({
      imports: [],
      funcs: [{ type: { params: [I32, I32], results: [I32] }, body: f }],
      memoryPages: 1,
    });
    const inst = new WA.Instance(new WA.Module(bytes), { env: { memory: mem } });
    const view = new DataView((mem as { buffer: ArrayBuffer }).buffer);
    view.setBigInt64(8, 10n, true);
    const run = inst.exports.run as (a: number, b: number) => number;
    expect(run(5, 2)).toBe((5 * 3 + 10 * 2) >> 1);
    expect(run(-7, 1)).toBe((-21 + 10) >> 1);
  });
});
