/**
 * A WebAssembly binary writer: the handful of opcodes, the LEB128 encodings, structured
 * control with named labels, and the module layout tier 2 needs (imported functions and
 * memory, one exported function, internal helper functions). Hand-written because the
 * encoder is small and runs per compiled region: a general toolkit (binaryen, wabt) would
 * bring megabytes and an optimizer pass that costs more than V8's own baseline compiler.
 *
 * Reference: the WebAssembly core specification, binary format (chapter 5).
 */

export const I32 = 0x7f;
export const I64 = 0x7e;
export const F64 = 0x7c;
const VOID = 0x40;

/** Opcodes used here, by their text-format names. */
export const OP = {
  unreachable: 0x00,
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  br_if: 0x0d,
  br_table: 0x0e,
  return: 0x0f,
  call: 0x10,
  drop: 0x1a,
  select: 0x1b,
  local_get: 0x20,
  local_set: 0x21,
  local_tee: 0x22,
  i32_load: 0x28,
  i64_load: 0x29,
  i32_load8_s: 0x2c,
  i32_load8_u: 0x2d,
  i32_load16_s: 0x2e,
  i32_load16_u: 0x2f,
  i64_load8_s: 0x30,
  i64_load8_u: 0x31,
  i64_load16_s: 0x32,
  i64_load16_u: 0x33,
  i64_load32_s: 0x34,
  i64_load32_u: 0x35,
  i32_store: 0x36,
  i64_store: 0x37,
  i64_store8: 0x3c,
  i64_store16: 0x3d,
  i64_store32: 0x3e,
  i32_const: 0x41,
  i64_const: 0x42,
  f64_const: 0x44,
  i32_eqz: 0x45,
  i32_eq: 0x46,
  i32_ne: 0x47,
  i32_lt_s: 0x48,
  i32_lt_u: 0x49,
  i32_gt_u: 0x4b,
  i32_ge_s: 0x4e,
  i32_le_u: 0x4d,
  i64_eqz: 0x50,
  i64_eq: 0x51,
  i64_ne: 0x52,
  i64_lt_s: 0x53,
  i64_lt_u: 0x54,
  i64_ge_s: 0x59,
  i64_ge_u: 0x5a,
  i32_add: 0x6a,
  i32_sub: 0x6b,
  i32_mul: 0x6c,
  i32_div_s: 0x6d,
  i32_div_u: 0x6e,
  i32_rem_s: 0x6f,
  i32_rem_u: 0x70,
  i32_and: 0x71,
  i32_or: 0x72,
  i32_xor: 0x73,
  i32_shl: 0x74,
  i32_shr_s: 0x75,
  i32_shr_u: 0x76,
  i64_add: 0x7c,
  i64_sub: 0x7d,
  i64_mul: 0x7e,
  i64_div_s: 0x7f,
  i64_div_u: 0x80,
  i64_rem_s: 0x81,
  i64_rem_u: 0x82,
  i64_and: 0x83,
  i64_or: 0x84,
  i64_xor: 0x85,
  i64_shl: 0x86,
  i64_shr_s: 0x87,
  i64_shr_u: 0x88,
  i32_wrap_i64: 0xa7,
  f64_convert_i64_s: 0xb9,
  i64_extend_i32_s: 0xac,
  i64_extend_i32_u: 0xad,
} as const;

const F64_SCRATCH = new Float64Array(1);
const F64_BYTES = new Uint8Array(F64_SCRATCH.buffer);

/** A growable byte buffer with the binary format's integer encodings. */
export class Bytes {
  buf = new Uint8Array(4096);
  len = 0;

  byte(b: number): this {
    if (this.len === this.buf.length) {
      const n = new Uint8Array(this.buf.length * 2);
      n.set(this.buf);
      this.buf = n;
    }
    this.buf[this.len++] = b;
    return this;
  }

  bytes(b: ArrayLike<number>): this {
    this.reserve(b.length);
    for (let i = 0; i < b.length; i++) this.buf[this.len++] = b[i]!;
    return this;
  }

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    grown.set(this.buf.subarray(0, this.len));
    this.buf = grown;
  }

  /** Appends another buffer's bytes. */
  append(b: Bytes): this {
    this.reserve(b.len);
    this.buf.set(b.buf.subarray(0, b.len), this.len);
    this.len += b.len;
    return this;
  }

  /** Unsigned LEB128 (values below 2^32). */
  u32(v: number): this {
    let x = v >>> 0;
    do {
      const b = x & 0x7f;
      x >>>= 7;
      this.byte(x !== 0 ? b | 0x80 : b);
    } while (x !== 0);
    return this;
  }

  /** Signed LEB128 of an integer-valued number (exact below 2^53 in magnitude). */
  sleb(v: number): this {
    if ((v | 0) === v) {
      // int32: shifts (most immediates and offsets).
      let y = v;
      for (;;) {
        const b = y & 0x7f;
        y >>= 7;
        const done = (y === 0 && (b & 0x40) === 0) || (y === -1 && (b & 0x40) !== 0);
        this.byte(done ? b : b | 0x80);
        if (done) return this;
      }
    }
    let x = v;
    for (;;) {
      const b = ((x % 128) + 128) % 128;
      x = Math.floor(x / 128);
      const done = (x === 0 && (b & 0x40) === 0) || (x === -1 && (b & 0x40) !== 0);
      this.byte(done ? b : b | 0x80);
      if (done) return this;
    }
  }

  name(s: string): this {
    this.u32(s.length);
    for (let i = 0; i < s.length; i++) this.byte(s.charCodeAt(i));
    return this;
  }

  /** A length-prefixed copy of `b`. */
  vec(b: Bytes): this {
    return this.u32(b.len).append(b);
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** A label: the nesting level its block, loop or if opened at. */
export type Label = number;

/** A function body being written, with structured control by label. */
export class FuncWriter extends Bytes {
  private level = 0;
  private readonly localTypes: number[] = [];

  constructor(readonly params: number) {
    super();
  }

  /** Declares a local of `type`; returns its index. */
  local(type: number): number {
    this.localTypes.push(type);
    return this.params + this.localTypes.length - 1;
  }

  op(o: number): this {
    return this.byte(o);
  }

  /** Opens a block, loop or if (`kind`) of result `type` (default none); returns its label. */
  open(kind: number, type: number = VOID): Label {
    this.byte(kind).byte(type);
    return ++this.level;
  }

  else_(): this {
    return this.byte(OP.else);
  }

  end(): this {
    this.level--;
    return this.byte(OP.end);
  }

  /** The relative depth of `label` from here. */
  depth(label: Label): number {
    return this.level - label;
  }

  br(label: Label): this {
    return this.byte(OP.br).u32(this.depth(label));
  }

  brIf(label: Label): this {
    return this.byte(OP.br_if).u32(this.depth(label));
  }

  get(i: number): this {
    return this.byte(OP.local_get).u32(i);
  }

  set(i: number): this {
    return this.byte(OP.local_set).u32(i);
  }

  tee(i: number): this {
    return this.byte(OP.local_tee).u32(i);
  }

  i32(v: number): this {
    return this.byte(OP.i32_const).sleb(v | 0);
  }

  i64(v: number): this {
    return this.byte(OP.i64_const).sleb(v);
  }

  f64(v: number): this {
    F64_SCRATCH[0] = v;
    return this.byte(OP.f64_const).bytes(F64_BYTES);
  }

  /** A memory access `o` at constant `offset` (alignment hint 0: accesses may be misaligned). */
  mem(o: number, offset: number): this {
    return this.byte(o).u32(0).u32(offset);
  }

  call(f: number): this {
    return this.byte(OP.call).u32(f);
  }

  /** The body as the code section wants it: locals, code, `end`. */
  body(): Bytes {
    const out = new Bytes();
    out.u32(this.localTypes.length);
    for (const t of this.localTypes) out.u32(1).byte(t);
    out.append(this);
    out.byte(OP.end);
    return out;
  }
}

/** A function type: parameter and result types. */
export interface FuncType {
  readonly params: readonly number[];
  readonly results: readonly number[];
}

export interface ModuleSpec {
  /** Imported functions, `env.<name>`, indexes 0..n-1. */
  readonly imports: readonly { name: string; type: FuncType }[];
  /** Defined functions, indexes after the imports; the first is exported as `run`. */
  readonly funcs: readonly { type: FuncType; body: FuncWriter }[];
  /** The imported memory's size in 64 KiB pages (minimum and maximum: it never grows). */
  readonly memoryPages: number;
}

function section(out: Bytes, id: number, content: Bytes): void {
  out.byte(id).vec(content);
}

/** Assembles a module: imports `env.*` and `env.memory`, exports the first function as `run`. */
export function assemble(spec: ModuleSpec): Uint8Array {
  const types: FuncType[] = [];
  const key = (t: FuncType) => `${t.params.join(',')}:${t.results.join(',')}`;
  const typeIndex = (t: FuncType) => {
    const k = key(t);
    const i = types.findIndex((u) => key(u) === k);
    if (i >= 0) return i;
    types.push(t);
    return types.length - 1;
  };
  const importTypes = spec.imports.map((i) => typeIndex(i.type));
  const funcTypes = spec.funcs.map((f) => typeIndex(f.type));
  const out = new Bytes();
  out.bytes([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  const t = new Bytes().u32(types.length);
  for (const ty of types) {
    t.byte(0x60).u32(ty.params.length).bytes(ty.params).u32(ty.results.length).bytes(ty.results);
  }
  section(out, 1, t);
  const im = new Bytes().u32(spec.imports.length + 1);
  spec.imports.forEach((imp, i) => {
    im.name('env').name(imp.name).byte(0x00).u32(importTypes[i]!);
  });
  im.name('env').name('memory').byte(0x02).byte(0x01).u32(spec.memoryPages).u32(spec.memoryPages);
  section(out, 2, im);
  const fn = new Bytes().u32(funcTypes.length);
  for (const ti of funcTypes) fn.u32(ti);
  section(out, 3, fn);
  const ex = new Bytes().u32(1).name('run').byte(0x00).u32(spec.imports.length);
  section(out, 7, ex);
  const code = new Bytes().u32(spec.funcs.length);
  for (const f of spec.funcs) code.vec(f.body.body());
  section(out, 10, code);
  return out.result();
}
