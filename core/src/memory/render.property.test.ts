/**
 * Property-based tests of region-tree rendering and dispatch.
 *
 * Random region trees (containers nested up to depth 3, RAM, ROM, MMIO, aliases onto earlier
 * regions including containers, offsets that reach past the parent, signed priorities with
 * ties, disabled regions, read-only and write-only decoding) are built through the memory
 * system and compared with a naive reference model that walks the tree for every single
 * address. The model reads only its own copy of the tree (never `region.subregions`, never
 * render.ts), so it is an independent statement of the semantics:
 *
 * - a disabled region, or one that does not decode the access's direction, is invisible
 *   (through an alias too: the alias target's own `enabled`/`decodes` count, its offset not);
 * - every region is clipped to each ancestor's window;
 * - subregions are tried highest priority first, among equal priorities the most recently
 *   added (or re-prioritised) first; the region's own content answers only if it terminates
 *   (RAM, ROM, MMIO) and no subregion answered. Moving a region (setOffset) re-adds it, as
 *   QEMU's memory_region_set_address does, which makes it the most recent among its equals;
 * - an alias at base B answers address X as its target at `aliasOffset + (X - B)`.
 */
import type { AccessSize, Endianness, MemTxResult } from '@emuhost/sdk';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AddressSpace } from './address-space.js';
import type { FlatView } from './flat-view.js';
import { createMemorySystem, type MemorySystem } from './memory-system.js';
import type { DecodeDirection, MemoryRegion } from './region.js';

// ---------------------------------------------------------------------------------------
// Tree specifications (what fast-check generates)
// ---------------------------------------------------------------------------------------

type Kind = 'container' | 'ram' | 'rom' | 'mmio' | 'alias';
type Dir = 'read' | 'write';

/**
 * A length or offset relative to a reference length (the parent's size, the alias target's
 * size), so one spec scales to any root size: an absolute small value, a fraction in 1/1024
 * (up to 1.25, so regions reach past their parent), or a distance back from the end.
 */
type Span = { readonly abs: number } | { readonly rel: number } | { readonly fromEnd: number };

interface NodeSpec {
  readonly kind: Kind;
  readonly size: Span;
  readonly detached: boolean;
  /** Placed directly in the root (else in a region chosen by `parent`). */
  readonly inRoot: boolean;
  readonly parent: number;
  readonly offset: Span;
  readonly priority: number;
  readonly enabled: boolean;
  readonly decodes: DecodeDirection;
  readonly target: number;
  readonly aliasOffset: Span;
  readonly implMax: 1 | 2 | 4;
  readonly endian: Endianness;
}

function span(s: Span, ref: number): number {
  if ('abs' in s) return s.abs;
  if ('rel' in s) return Math.floor((s.rel * ref) / 1024);
  return Math.max(0, ref - s.fromEnd);
}

/** A fraction of the reference length, in 1/1024, without fast-check's bias to small values. */
const relArb = (min: number, max: number) =>
  fc.record({ rel: fc.noBias(fc.integer({ min, max })) });

/** Offsets inside a parent: often past its end, so that clipping matters. */
const spanArb: fc.Arbitrary<Span> = fc.oneof(
  fc.record({ abs: fc.integer({ min: 0, max: 16 }) }),
  { arbitrary: relArb(0, 1280), weight: 4 },
  fc.record({ fromEnd: fc.integer({ min: 0, max: 16 }) }),
);

/** Region sizes: a few bytes, or an eighth to five quarters of the reference length. */
const sizeSpanArb: fc.Arbitrary<Span> = fc.oneof(
  fc.record({ abs: fc.integer({ min: 1, max: 16 }) }),
  { arbitrary: relArb(64, 1280), weight: 4 },
  fc.record({ fromEnd: fc.integer({ min: 0, max: 16 }) }),
);

/** Alias offsets into the target: zero, small, anywhere, or near its end. */
const aliasOffsetArb: fc.Arbitrary<Span> = fc.oneof(
  { arbitrary: fc.record({ abs: fc.integer({ min: 0, max: 16 }) }), weight: 2 },
  { arbitrary: relArb(0, 1024), weight: 2 },
  fc.record({ fromEnd: fc.integer({ min: 0, max: 16 }) }),
);

const priorityArb = fc.integer({ min: -2, max: 2 });

const decodesArb: fc.Arbitrary<DecodeDirection> = fc.oneof(
  { arbitrary: fc.constant<DecodeDirection>('read-write'), weight: 8 },
  fc.constant<DecodeDirection>('read'),
  fc.constant<DecodeDirection>('write'),
);

const kindArb: fc.Arbitrary<Kind> = fc.oneof(
  { arbitrary: fc.constant<Kind>('container'), weight: 3 },
  { arbitrary: fc.constant<Kind>('ram'), weight: 4 },
  { arbitrary: fc.constant<Kind>('rom'), weight: 2 },
  { arbitrary: fc.constant<Kind>('mmio'), weight: 3 },
  { arbitrary: fc.constant<Kind>('alias'), weight: 4 },
);

const nodeSpecArb: fc.Arbitrary<NodeSpec> = fc.record({
  kind: kindArb,
  size: sizeSpanArb,
  detached: fc.oneof({ arbitrary: fc.constant(false), weight: 8 }, fc.constant(true)),
  inRoot: fc.oneof({ arbitrary: fc.constant(false), weight: 2 }, fc.constant(true)),
  parent: fc.nat(63),
  offset: spanArb,
  priority: priorityArb,
  enabled: fc.oneof({ arbitrary: fc.constant(true), weight: 8 }, fc.constant(false)),
  decodes: decodesArb,
  target: fc.nat(63),
  aliasOffset: aliasOffsetArb,
  implMax: fc.constantFrom<1 | 2 | 4>(1, 2, 4),
  endian: fc.constantFrom<Endianness>('little', 'big'),
});

const treeArb = fc.array(nodeSpecArb, { minLength: 1, maxLength: 24, size: 'max' });

// ---------------------------------------------------------------------------------------
// The world: the implementation's regions and the model's own copy of the tree
// ---------------------------------------------------------------------------------------

interface MNode {
  readonly id: number;
  readonly kind: Kind;
  readonly size: number;
  readonly region: MemoryRegion;
  readonly target: MNode | null;
  /** Model backing of RAM and ROM (separate from the region's bytes). */
  readonly bytes: Uint8Array | null;
  parent: MNode | null;
  offset: number;
  priority: number;
  /** Insertion stamp: among equal priorities the highest stamp is tried first. */
  seq: number;
  enabled: boolean;
  decodes: DecodeDirection;
  aliasOffset: number;
}

type LogEntry = readonly [id: number, offset: number, byte: number];

interface World {
  readonly ms: MemorySystem;
  readonly as: AddressSpace<number>;
  readonly rootSize: number;
  readonly nodes: MNode[];
  /** Every byte an MMIO callback was asked to write, in call order. */
  readonly mmioLog: LogEntry[];
  /** Callbacks called outside their region. */
  readonly violations: string[];
  seq: number;
}

/** The byte an MMIO region shows at an offset: tells regions and offsets apart. */
function mmioByte(id: number, off: number): number {
  return (id * 0x47 + off * 0x1d + Math.floor(off / 256) * 0x0b + 0x5a) & 0xff;
}

/** Initial contents of RAM and ROM, distinct per region. */
function initialByte(id: number, off: number): number {
  return (id * 0x3d + off * 0x07 + Math.floor(off / 256) * 0x13 + 1) & 0xff;
}

function pattern(id: number, size: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = initialByte(id, i);
  return b;
}

function mmioOps(w: World, id: number, size: number, endian: Endianness) {
  const shift = (i: number, sz: number) => BigInt(8 * (endian === 'little' ? i : sz - 1 - i));
  const check = (what: string, off: number, sz: number) => {
    if (off < 0 || off + sz > size) w.violations.push(`n${id} ${what} ${off}/${sz}`);
  };
  return {
    read(off: number, sz: AccessSize): number | bigint {
      check('read', off, sz);
      let v = 0n;
      for (let i = 0; i < sz; i++) v |= BigInt(mmioByte(id, off + i)) << shift(i, sz);
      return sz === 8 ? v : Number(v);
    },
    write(off: number, sz: AccessSize, value: number | bigint): undefined {
      check('write', off, sz);
      const v = BigInt(value);
      for (let i = 0; i < sz; i++)
        w.mmioLog.push([id, off + i, Number((v >> shift(i, sz)) & 0xffn)]);
      return undefined;
    },
  };
}

function childrenOf(w: World, n: MNode): MNode[] {
  return w.nodes.filter((c) => c.parent === n);
}

function depth(n: MNode): number {
  let d = 0;
  for (let p = n.parent; p !== null; p = p.parent) d++;
  return d;
}

/** Whether walking `from` (subregions and alias targets) reaches `to`. */
function reaches(w: World, from: MNode, to: MNode): boolean {
  const seen = new Set<MNode>();
  const stack = [from];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (n === to) return true;
    if (seen.has(n)) continue;
    seen.add(n);
    if (n.target !== null) stack.push(n.target);
    stack.push(...childrenOf(w, n));
  }
  return false;
}

function wouldCycle(w: World, child: MNode, parent: MNode): boolean {
  for (let p: MNode | null = parent; p !== null; p = p.parent)
    if (reaches(w, child, p)) return true;
  return false;
}

/** addSubregion on both sides; when the model says it must be refused, checks that it is. */
function place(w: World, child: MNode, parent: MNode, offset: number, priority: number): void {
  if (child.parent !== null || parent.kind === 'alias' || wouldCycle(w, child, parent)) {
    expect(() => parent.region.addSubregion(child.region, offset, { priority })).toThrow();
    return;
  }
  parent.region.addSubregion(child.region, offset, { priority });
  child.parent = parent;
  child.offset = offset;
  child.priority = priority;
  child.seq = ++w.seq;
}

function setEnabled(n: MNode, on: boolean): void {
  n.region.setEnabled(on);
  n.enabled = on;
}

function setDecodes(n: MNode, d: DecodeDirection): void {
  n.region.setDecodes(d);
  n.decodes = d;
}

function buildNode(w: World, s: NodeSpec, id: number): void {
  const { ms, nodes } = w;
  const targets = nodes.slice(1);
  const kind: Kind = s.kind === 'alias' && targets.length === 0 ? 'ram' : s.kind;
  const parents = nodes.filter((n) => n.kind !== 'alias' && depth(n) < 3);
  const parent = s.detached ? null : s.inRoot ? nodes[0]! : parents[s.parent % parents.length]!;
  const target = kind === 'alias' ? targets[s.target % targets.length]! : null;
  const ref = target?.size ?? parent?.size ?? w.rootSize;
  const size = Math.max(1, span(s.size, ref));
  const aliasOffset = target === null ? 0 : span(s.aliasOffset, target.size);
  const name = `n${id}`;
  let region: MemoryRegion;
  let bytes: Uint8Array | null = null;
  switch (kind) {
    case 'container':
      region = ms.createContainer(name, size);
      break;
    case 'ram':
      region = ms.createRam(name, size);
      bytes = pattern(id, size);
      // Distinct initial contents, so reads tell RAM regions apart.
      region.bytes!.set(bytes);
      break;
    case 'rom':
      bytes = pattern(id, size);
      region = ms.createRom(name, bytes);
      break;
    case 'mmio':
      region = ms.createMmio(name, size, mmioOps(w, id, size, s.endian), {
        valid: { unaligned: true },
        impl: { max: s.implMax },
        endianness: s.endian,
      });
      break;
    case 'alias':
      region = ms.createAlias(name, target!.region, aliasOffset, size);
      break;
  }
  const node: MNode = {
    id,
    kind,
    size,
    region,
    target,
    bytes,
    parent: null,
    offset: 0,
    priority: 0,
    seq: 0,
    enabled: true,
    decodes: 'read-write',
    aliasOffset,
  };
  nodes.push(node);
  setEnabled(node, s.enabled);
  setDecodes(node, s.decodes);
  if (parent !== null) place(w, node, parent, span(s.offset, parent.size), s.priority);
}

function build(specs: readonly NodeSpec[], rootSize: number): World {
  const ms = createMemorySystem();
  const rootRegion = ms.createContainer('n0', rootSize);
  const as = ms.createAddressSpace<number>('prop', rootRegion);
  const root: MNode = {
    id: 0,
    kind: 'container',
    size: rootSize,
    region: rootRegion,
    target: null,
    bytes: null,
    parent: null,
    offset: 0,
    priority: 0,
    seq: 0,
    enabled: true,
    decodes: 'read-write',
    aliasOffset: 0,
  };
  const w: World = { ms, as, rootSize, nodes: [root], mmioLog: [], violations: [], seq: 0 };
  ms.transaction(() => {
    specs.forEach((s, i) => {
      buildNode(w, s, i + 1);
    });
  });
  return w;
}

const hex = (n: number) => `0x${n.toString(16)}`;

function dump(w: World): string {
  return w.nodes
    .map((n) => {
      const where = n.parent === null ? 'detached' : `in n${n.parent.id} at ${hex(n.offset)}`;
      return [
        `  n${n.id} ${n.kind} size=${hex(n.size)} ${n.id === 0 ? 'root' : where}`,
        `prio=${n.priority} seq=${n.seq}`,
        n.enabled ? '' : 'DISABLED',
        n.decodes === 'read-write' ? '' : `decodes=${n.decodes}`,
        n.target === null ? '' : `-> n${n.target.id}+${hex(n.aliasOffset)}`,
      ]
        .filter((x) => x !== '')
        .join(' ');
    })
    .join('\n');
}

// ---------------------------------------------------------------------------------------
// The naive reference model
// ---------------------------------------------------------------------------------------

interface Hit {
  readonly node: MNode;
  readonly offset: number;
}

class Model {
  private readonly kids = new Map<MNode, MNode[]>();

  constructor(private readonly w: World) {
    for (const n of w.nodes) {
      if (n.parent === null) continue;
      const list = this.kids.get(n.parent) ?? [];
      list.push(n);
      this.kids.set(n.parent, list);
    }
    for (const list of this.kids.values()) {
      list.sort((a, b) => b.priority - a.priority || b.seq - a.seq);
    }
  }

  /** Which terminal region answers `addr` (in root coordinates), at which offset. */
  resolve(addr: number, dir: Dir): Hit | null {
    return this.visit(this.w.nodes[0]!, 0, addr, dir);
  }

  private visit(n: MNode, base: number, addr: number, dir: Dir): Hit | null {
    if (!n.enabled) return null;
    if (n.decodes !== 'read-write' && n.decodes !== dir) return null;
    if (addr < base || addr >= base + n.size) return null;
    if (n.target !== null) return this.visit(n.target, base - n.aliasOffset, addr, dir);
    for (const k of this.kids.get(n) ?? []) {
      const h = this.visit(k, base + k.offset, addr, dir);
      if (h !== null) return h;
    }
    return n.kind === 'container' ? null : { node: n, offset: addr - base };
  }

  /** Every clipped edge of every visible region, in root coordinates: where bugs hide. */
  boundaries(): number[] {
    const out = new Set<number>([0, this.w.rootSize]);
    let budget = 5000;
    const walk = (n: MNode, base: number, lo: number, hi: number) => {
      if (!n.enabled || budget-- <= 0) return;
      const s = Math.max(lo, base);
      const e = Math.min(hi, base + n.size);
      if (s >= e) return;
      out.add(s);
      out.add(e);
      if (n.target !== null) walk(n.target, base - n.aliasOffset, s, e);
      else for (const k of this.kids.get(n) ?? []) walk(k, base + k.offset, s, e);
    };
    walk(this.w.nodes[0]!, 0, 0, this.w.rootSize);
    return [...out].sort((a, b) => a - b);
  }

  /** The byte a read of `addr` returns, or null for unassigned. */
  readByte(addr: number): number | null {
    const h = this.resolve(addr, 'read');
    if (h === null) return null;
    return h.node.kind === 'mmio' ? mmioByte(h.node.id, h.offset) : h.node.bytes![h.offset]!;
  }

  /** Writes one byte; false when unassigned. Expected MMIO writes go to `log`. */
  writeByte(addr: number, b: number, log: LogEntry[]): boolean {
    const h = this.resolve(addr, 'write');
    if (h === null) return false;
    if (h.node.kind === 'ram') h.node.bytes![h.offset] = b;
    else if (h.node.kind === 'mmio') log.push([h.node.id, h.offset, b]);
    return true;
  }

  read(addr: number, len: number): { result: MemTxResult; bytes: number[] } {
    let result: MemTxResult = 'ok';
    const bytes: number[] = [];
    for (let i = 0; i < len; i++) {
      const b = this.readByte(addr + i);
      if (b === null) result = 'decode-error';
      bytes.push(b ?? 0);
    }
    return { result, bytes };
  }

  write(addr: number, data: Uint8Array, log: LogEntry[]): MemTxResult {
    let result: MemTxResult = 'ok';
    data.forEach((b, i) => {
      if (!this.writeByte(addr + i, b, log)) result = 'decode-error';
    });
    return result;
  }
}

// ---------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------

function fail(w: World, msg: string): never {
  throw new Error(`${msg}\ntree:\n${dump(w)}`);
}

function describeHit(region: MemoryRegion | null, offset: number): string {
  return region === null ? 'nothing' : `${region.name}+${hex(offset)}`;
}

/** findRange agrees with the model at every address of `addrs`, in both directions. */
function checkAddresses(w: World, m: Model, addrs: Iterable<number>): void {
  for (const addr of addrs) {
    for (const dir of ['read', 'write'] as const) {
      const exp = m.resolve(addr, dir);
      const got = w.as.findRange(addr, dir === 'write');
      const gotOffset = got === null ? 0 : got.regionOffset + (addr - got.start);
      if (
        (exp?.node.region ?? null) !== (got?.region ?? null) ||
        (exp?.offset ?? 0) !== gotOffset
      ) {
        fail(
          w,
          `${dir} at ${hex(addr)}: model says ${describeHit(exp?.node.region ?? null, exp?.offset ?? 0)}, ` +
            `findRange says ${describeHit(got?.region ?? null, gotOffset)}`,
        );
      }
    }
  }
}

/** Both flat views are sorted, disjoint, non-empty, inside the root, and fully merged. */
function checkViewInvariants(w: World): void {
  for (const dir of ['read', 'write'] as const) {
    const ranges = w.as.flatView(dir).ranges;
    ranges.forEach((r, i) => {
      const where = `${dir} view, range ${i} [${hex(r.start)}, ${hex(r.end)}) ${r.region.name}`;
      if (!(r.start >= 0 && r.start < r.end && r.end <= w.rootSize))
        fail(w, `${where}: bad extent`);
      if (r.region.kind === 'container' || r.region.kind === 'alias') {
        fail(w, `${where}: not a terminal region`);
      }
      if (r.regionOffset < 0 || r.regionOffset + (r.end - r.start) > r.region.size) {
        fail(w, `${where}: region offset ${hex(r.regionOffset)} outside the region`);
      }
      if (r.region.bytes !== null) {
        const b = r.bytes!;
        if (
          b.buffer !== r.region.bytes.buffer ||
          b.byteOffset !== r.region.bytes.byteOffset + r.regionOffset ||
          b.length !== r.end - r.start
        ) {
          fail(w, `${where}: bytes are not the region's backing at the region offset`);
        }
      }
      const prev = ranges[i - 1];
      if (prev === undefined) return;
      if (prev.end > r.start) fail(w, `${where}: overlaps or is out of order with the previous`);
      if (
        prev.end === r.start &&
        prev.region === r.region &&
        prev.regionOffset + (prev.end - prev.start) === r.regionOffset
      ) {
        fail(w, `${where}: continues the previous range but was not merged with it`);
      }
    });
  }
}

type Run = string;

/** The model's answer over [0, rootSize) as maximal runs, formatted like the flat view. */
function modelRuns(w: World, m: Model, dir: Dir): Run[] {
  const runs: { start: number; end: number; node: MNode; offset: number }[] = [];
  for (let a = 0; a < w.rootSize; a++) {
    const h = m.resolve(a, dir);
    if (h === null) continue;
    const last = runs[runs.length - 1];
    if (
      last !== undefined &&
      last.end === a &&
      last.node === h.node &&
      last.offset + (a - last.start) === h.offset
    ) {
      last.end++;
    } else {
      runs.push({ start: a, end: a + 1, node: h.node, offset: h.offset });
    }
  }
  return runs.map((r) => `[${hex(r.start)}, ${hex(r.end)}) ${r.node.region.name}+${hex(r.offset)}`);
}

function viewRuns(view: FlatView): Run[] {
  return view.ranges.map(
    (r) => `[${hex(r.start)}, ${hex(r.end)}) ${r.region.name}+${hex(r.regionOffset)}`,
  );
}

function checkExhaustive(w: World): void {
  const m = new Model(w);
  for (const dir of ['read', 'write'] as const) {
    const exp = modelRuns(w, m, dir);
    const got = viewRuns(w.as.flatView(dir));
    if (exp.join('\n') !== got.join('\n')) {
      fail(w, `${dir} view:\n${got.join('\n')}\nmodel:\n${exp.join('\n')}`);
    }
  }
  // Just past the root, and the edges, too.
  checkAddresses(w, m, [0, w.rootSize - 1, w.rootSize, w.rootSize + 1, w.rootSize + 0x1000]);
}

/** The implementation's RAM and ROM backing equals the model's, byte for byte. */
function checkBacking(w: World): void {
  for (const n of w.nodes) {
    if (n.bytes === null) continue;
    const got = n.region.bytes!;
    for (let i = 0; i < n.size; i++) {
      if (got[i] !== n.bytes[i]) {
        fail(w, `n${n.id} (${n.kind}) byte ${hex(i)} is ${got[i]}, model has ${n.bytes[i]}`);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// Byte-level operations
// ---------------------------------------------------------------------------------------

type AddrSpec = { readonly rand: number } | { readonly near: number; readonly delta: number };

type ByteOp =
  | { readonly op: 'write'; readonly a: AddrSpec; readonly data: readonly number[] }
  | { readonly op: 'read'; readonly a: AddrSpec; readonly len: number }
  | {
      readonly op: 'store';
      readonly a: AddrSpec;
      readonly size: 1 | 2 | 4;
      readonly value: number;
      readonly endian: Endianness;
    }
  | {
      readonly op: 'load';
      readonly a: AddrSpec;
      readonly size: 1 | 2 | 4;
      readonly endian: Endianness;
    }
  | {
      readonly op: 'store64';
      readonly a: AddrSpec;
      readonly value: bigint;
      readonly endian: Endianness;
    }
  | { readonly op: 'load64'; readonly a: AddrSpec; readonly endian: Endianness }
  | { readonly op: 'fill'; readonly a: AddrSpec; readonly byte: number; readonly len: number };

const addrSpecArb: fc.Arbitrary<AddrSpec> = fc.oneof(fc.record({ rand: fc.nat(0xffff) }), {
  arbitrary: fc.record({ near: fc.nat(63), delta: fc.integer({ min: -8, max: 8 }) }),
  weight: 3,
});

const endianArb = fc.constantFrom<Endianness>('little', 'big');
const sizeArb = fc.constantFrom<1 | 2 | 4>(1, 2, 4);

const byteOpArb: fc.Arbitrary<ByteOp> = fc.oneof(
  fc.record({
    op: fc.constant('write' as const),
    a: addrSpecArb,
    data: fc.array(fc.nat(255), { maxLength: 24 }),
  }),
  fc.record({ op: fc.constant('read' as const), a: addrSpecArb, len: fc.nat(24) }),
  fc.record({
    op: fc.constant('store' as const),
    a: addrSpecArb,
    size: sizeArb,
    value: fc.nat(0xffffffff),
    endian: endianArb,
  }),
  fc.record({ op: fc.constant('load' as const), a: addrSpecArb, size: sizeArb, endian: endianArb }),
  fc.record({
    op: fc.constant('store64' as const),
    a: addrSpecArb,
    value: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    endian: endianArb,
  }),
  fc.record({ op: fc.constant('load64' as const), a: addrSpecArb, endian: endianArb }),
  fc.record({
    op: fc.constant('fill' as const),
    a: addrSpecArb,
    byte: fc.nat(255),
    len: fc.nat(24),
  }),
);

function toBytes(value: bigint, size: number, endian: Endianness): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    b[endian === 'little' ? i : size - 1 - i] = Number((value >> BigInt(8 * i)) & 0xffn);
  }
  return b;
}

function fromBytes(b: readonly number[], endian: Endianness): bigint {
  let v = 0n;
  for (let i = 0; i < b.length; i++) {
    v |= BigInt(b[endian === 'little' ? i : b.length - 1 - i]!) << BigInt(8 * i);
  }
  return v;
}

function runByteOp(
  w: World,
  m: Model,
  bounds: readonly number[],
  op: ByteOp,
  expLog: LogEntry[],
): void {
  const a = op.a;
  const addr =
    'rand' in a
      ? a.rand % (w.rootSize + 32)
      : Math.max(0, bounds[a.near % bounds.length]! + a.delta);
  const what = `${JSON.stringify(op, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))} at ${hex(addr)}`;
  const same = (got: unknown, exp: unknown) => {
    const g = JSON.stringify(got, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));
    const e = JSON.stringify(exp, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));
    if (g !== e) fail(w, `${what}: got ${g}, model expects ${e}`);
  };
  switch (op.op) {
    case 'write': {
      const data = Uint8Array.from(op.data);
      const exp = m.write(addr, data, expLog);
      same(w.as.write(addr, data), exp);
      break;
    }
    case 'fill': {
      const exp = m.write(addr, new Uint8Array(op.len).fill(op.byte), expLog);
      same(w.as.fill(addr, op.byte, op.len), exp);
      break;
    }
    case 'store': {
      const exp = m.write(addr, toBytes(BigInt(op.value), op.size, op.endian), expLog);
      same(w.as.store(addr, op.size, op.value, op.endian), exp);
      break;
    }
    case 'store64': {
      const exp = m.write(addr, toBytes(op.value, 8, op.endian), expLog);
      same(w.as.store64(addr, op.value, op.endian), exp);
      break;
    }
    case 'read': {
      const exp = m.read(addr, op.len);
      const into = new Uint8Array(op.len).fill(0xee);
      const result = w.as.read(addr, into);
      same({ result, bytes: [...into] }, exp);
      break;
    }
    case 'load': {
      const exp = m.read(addr, op.size);
      const v = exp.result === 'ok' ? Number(fromBytes(exp.bytes, op.endian)) : exp.result;
      same(w.as.load(addr, op.size, op.endian), v);
      break;
    }
    case 'load64': {
      const exp = m.read(addr, 8);
      const v = exp.result === 'ok' ? fromBytes(exp.bytes, op.endian) : exp.result;
      same(w.as.load64(addr, op.endian), v);
      break;
    }
  }
}

function checkMmioLog(w: World, expLog: readonly LogEntry[]): void {
  if (w.violations.length > 0) fail(w, `MMIO callbacks outside their region: ${w.violations}`);
  const got = w.mmioLog.map((e) => e.join(':')).join(' ');
  const exp = expLog.map((e) => e.join(':')).join(' ');
  if (got !== exp) fail(w, `MMIO writes (id:offset:byte)\n got ${got}\n exp ${exp}`);
}

// ---------------------------------------------------------------------------------------
// Mutations
// ---------------------------------------------------------------------------------------

type Mutation =
  | { readonly m: 'enable'; readonly node: number; readonly on: boolean }
  | { readonly m: 'offset'; readonly node: number; readonly off: Span }
  | { readonly m: 'priority'; readonly node: number; readonly prio: number }
  | { readonly m: 'remove'; readonly node: number }
  | {
      readonly m: 'add';
      readonly node: number;
      readonly parent: number;
      readonly off: Span;
      readonly prio: number;
    }
  | { readonly m: 'aliasOffset'; readonly node: number; readonly off: Span }
  | { readonly m: 'decodes'; readonly node: number; readonly d: DecodeDirection };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ m: fc.constant('enable' as const), node: fc.nat(63), on: fc.boolean() }),
  fc.record({ m: fc.constant('offset' as const), node: fc.nat(63), off: spanArb }),
  fc.record({ m: fc.constant('priority' as const), node: fc.nat(63), prio: priorityArb }),
  fc.record({ m: fc.constant('remove' as const), node: fc.nat(63) }),
  {
    arbitrary: fc.record({
      m: fc.constant('add' as const),
      node: fc.nat(63),
      parent: fc.nat(63),
      off: spanArb,
      prio: priorityArb,
    }),
    weight: 2,
  },
  fc.record({ m: fc.constant('aliasOffset' as const), node: fc.nat(63), off: aliasOffsetArb }),
  fc.record({ m: fc.constant('decodes' as const), node: fc.nat(63), d: decodesArb }),
);

const batchArb = fc.record({
  inTransaction: fc.boolean(),
  mutations: fc.array(mutationArb, { minLength: 1, maxLength: 5 }),
  probes: fc.array(fc.nat(0xffff), { maxLength: 6 }),
});

const pick = <T>(xs: readonly T[], i: number): T | undefined => xs[i % Math.max(1, xs.length)];

function applyMutation(w: World, mu: Mutation): void {
  const all = w.nodes;
  switch (mu.m) {
    case 'enable':
      setEnabled(pick(all, mu.node)!, mu.on);
      break;
    case 'decodes':
      setDecodes(pick(all, mu.node)!, mu.d);
      break;
    case 'offset': {
      const n = pick(all, mu.node)!;
      const off = span(mu.off, n.parent?.size ?? w.rootSize);
      n.region.setOffset(off);
      // Moving re-inserts the region (QEMU's memory_region_set_address): first among equals.
      if (n.offset !== off) n.seq = ++w.seq;
      n.offset = off;
      break;
    }
    case 'priority': {
      const n = pick(all, mu.node)!;
      n.region.setPriority(mu.prio);
      // Re-prioritising re-inserts the region: first among its new equals.
      if (n.priority !== mu.prio) n.seq = ++w.seq;
      n.priority = mu.prio;
      break;
    }
    case 'remove': {
      const n = pick(
        all.filter((x) => x.parent !== null),
        mu.node,
      );
      if (n === undefined) return;
      n.parent!.region.removeSubregion(n.region);
      n.parent = null;
      break;
    }
    case 'add': {
      const detached = all.filter((x) => x.parent === null && x.id !== 0);
      // With nothing detached, try a placed region: it must be refused.
      const n = pick(detached.length > 0 ? detached : all.slice(1), mu.node);
      const parent = pick(
        all.filter((x) => x.kind !== 'alias'),
        mu.parent,
      )!;
      if (n === undefined) return;
      place(w, n, parent, span(mu.off, parent.size), mu.prio);
      break;
    }
    case 'aliasOffset': {
      const n = pick(
        all.filter((x) => x.kind === 'alias'),
        mu.node,
      );
      if (n === undefined) return;
      const off = span(mu.off, n.target!.size);
      n.region.setAliasOffset(off);
      n.aliasOffset = off;
      break;
    }
  }
}

/** One-byte loads and stores at `addrs` through the (possibly cached) access path. */
function probe(w: World, addrs: readonly number[], expLog: LogEntry[]): void {
  const m = new Model(w);
  for (const raw of addrs) {
    const addr = raw % (w.rootSize + 8);
    const b = m.readByte(addr);
    const got = w.as.load(addr, 1);
    if (got !== (b ?? 'decode-error')) {
      fail(w, `load(${hex(addr)}, 1) = ${got}, model expects ${b ?? 'decode-error'}`);
    }
    const v = (addr * 7 + 3) & 0xff;
    const exp = m.writeByte(addr, v, expLog) ? 'ok' : 'decode-error';
    const res = w.as.store(addr, 1, v);
    if (res !== exp) fail(w, `store(${hex(addr)}, 1) = ${res}, model expects ${exp}`);
  }
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

describe('render (property-based, against a naive tree-walking model)', () => {
  it('findRange agrees with the model at random addresses and every region edge', () => {
    fc.assert(
      fc.property(treeArb, fc.array(fc.nat(0x10fff), { maxLength: 64 }), (specs, addrs) => {
        const w = build(specs, 0x10000);
        const m = new Model(w);
        const edges = m
          .boundaries()
          .flatMap((b) => [b - 1, b, b + 1])
          .filter((a) => a >= 0);
        checkAddresses(w, m, edges);
        checkAddresses(w, m, addrs);
      }),
      { numRuns: 200 },
    );
  });

  it('flat views are sorted, disjoint, non-empty, inside the root and fully merged', () => {
    fc.assert(
      fc.property(treeArb, (specs) => {
        checkViewInvariants(build(specs, 0x10000));
      }),
      { numRuns: 200 },
    );
  });

  it('exhaustively over a small root, each flat view is exactly the model’s maximal runs', () => {
    fc.assert(
      fc.property(treeArb, (specs) => {
        const w = build(specs, 0x400);
        checkViewInvariants(w);
        checkExhaustive(w);
      }),
      { numRuns: 150 },
    );
  });

  it('bytes: read/write/load/store/fill behave like a byte model of the tree', () => {
    fc.assert(
      fc.property(treeArb, fc.array(byteOpArb, { maxLength: 40 }), (specs, ops) => {
        const w = build(specs, 0x1000);
        const m = new Model(w);
        const bounds = m.boundaries();
        const expLog: LogEntry[] = [];
        for (const op of ops) runByteOp(w, m, bounds, op, expLog);
        checkMmioLog(w, expLog);
        checkBacking(w);
        // Finally the whole root in one bulk read.
        const exp = m.read(0, w.rootSize);
        const into = new Uint8Array(w.rootSize);
        const result = w.as.read(0, into);
        if (result !== exp.result) fail(w, `read of the root: ${result}, expected ${exp.result}`);
        const bad = into.findIndex((b, i) => b !== exp.bytes[i]);
        if (bad >= 0)
          fail(w, `read of the root: byte ${hex(bad)} is ${into[bad]}, expected ${exp.bytes[bad]}`);
      }),
      { numRuns: 150 },
    );
  });

  it('after random mutations (in and out of transactions) the views still match the model', () => {
    fc.assert(
      fc.property(treeArb, fc.array(batchArb, { minLength: 1, maxLength: 4 }), (specs, batches) => {
        const w = build(specs, 0x200);
        const expLog: LogEntry[] = [];
        checkExhaustive(w);
        for (const batch of batches) {
          // Touch the access path first, so a stale most-recently-used range would show.
          probe(w, batch.probes, expLog);
          const apply = () => {
            for (const mu of batch.mutations) applyMutation(w, mu);
          };
          if (batch.inTransaction) w.ms.transaction(apply);
          else apply();
          checkViewInvariants(w);
          checkExhaustive(w);
          probe(w, batch.probes, expLog);
        }
        checkMmioLog(w, expLog);
        checkBacking(w);
      }),
      { numRuns: 150 },
    );
  });
});
