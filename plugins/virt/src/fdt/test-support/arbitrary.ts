/**
 * fast-check generators of device trees, shared by the round-trip and dtc-compatibility
 * tests: random names, random property bytes (so every value shape appears: strings, cells,
 * odd lengths, empty), unique sibling names, bounded depth.
 */
import fc from 'fast-check';
import type { Fdt, FdtNode } from '../tree.js';

const nameChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789,._+-'.split(''));
const baseName = fc.string({ unit: nameChar, minLength: 1, maxLength: 12 });
const nodeName = fc
  .tuple(baseName, fc.option(fc.integer({ min: 0, max: 0xffff_ffff }), { nil: undefined }))
  .map(([b, unit]) => (unit === undefined ? b : `${b}@${unit.toString(16)}`));
/** Property names dtc treats as plain data (no phandle or cell-count checks). */
const propName = fc
  .string({
    unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789,._+?-'.split('')),
    minLength: 1,
    maxLength: 16,
  })
  .filter(
    (n) => !/^(phandle|linux,phandle|reg|ranges|interrupts|name)$/.test(n) && !n.startsWith('#'),
  );

const printable = fc.string({
  unit: fc.constantFrom(...'abc xyz,=/_-:@\\"'.split('')),
  maxLength: 8,
});
/** Values of every shape dtc distinguishes. */
const value: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 24 }),
  fc.array(fc.integer({ min: 0, max: 0xffff_ffff }), { maxLength: 6 }).map((cells) => {
    const out = new Uint8Array(cells.length * 4);
    const view = new DataView(out.buffer);
    cells.forEach((c, i) => {
      view.setUint32(i * 4, c);
    });
    return out;
  }),
  fc.array(printable, { minLength: 1, maxLength: 4 }).map((ss) => {
    const text = ss.map((s) => `${s}\0`).join('');
    return Uint8Array.from(text, (c) => c.charCodeAt(0));
  }),
);

const props = fc.uniqueArray(fc.record({ name: propName, value }), {
  selector: (p) => p.name,
  maxLength: 6,
});

function nodeAt(depth: number): fc.Arbitrary<FdtNode> {
  const children =
    depth <= 0
      ? fc.constant([] as FdtNode[])
      : fc.uniqueArray(nodeAt(depth - 1), { selector: (n) => n.name, maxLength: 3 });
  return fc.record({ name: nodeName, props, children });
}

/** A whole tree: root named '', up to 4 levels below it. */
export const arbitraryFdt: fc.Arbitrary<Fdt> = fc.record({
  root: fc.record({
    name: fc.constant(''),
    props,
    children: fc.uniqueArray(nodeAt(3), { selector: (n) => n.name, maxLength: 4 }),
  }),
  reservations: fc.array(
    fc.record({
      address: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      size: fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }),
    }),
    { maxLength: 3 },
  ),
  bootCpuId: fc.integer({ min: 0, max: 0xffff_ffff }),
});
