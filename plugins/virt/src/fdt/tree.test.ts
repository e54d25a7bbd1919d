import { describe, expect, it } from 'vitest';
import { setChosen } from './chosen.js';
import { addChild, ensureNode, fdt, findNode, getProp, node, removeProp, setProp } from './tree.js';
import { readString, readU64, str, strList, u32, u64 } from './values.js';

const soc = () =>
  node('soc', { '#address-cells': 2, '#size-cells': 2, compatible: 'simple-bus', ranges: true }, [
    node('serial@10000000', { reg: u64(0x1000_0000, 0x100), compatible: 'ns16550a' }),
    node('serial', { compatible: 'other' }),
    node('plic@c000000', { compatible: ['sifive,plic-1.0.0', 'riscv,plic0'] }),
  ]);

describe('the builder', () => {
  it('encodes DTS-style values and keeps property order', () => {
    const n = node('cpu@0', {
      device_type: 'cpu',
      reg: 0,
      'riscv,isa-extensions': ['i', 'm'],
      'interrupt-controller': true,
      phandle: u32(1),
    });
    expect(n.props.map((p) => p.name)).toEqual([
      'device_type',
      'reg',
      'riscv,isa-extensions',
      'interrupt-controller',
      'phandle',
    ]);
    expect(n.props[0]!.value).toEqual(str('cpu'));
    expect(n.props[1]!.value).toEqual(u32(0));
    expect(n.props[2]!.value).toEqual(strList('i', 'm'));
    expect(n.props[3]!.value.length).toBe(0);
  });

  it('takes pairs for names an object would reorder', () => {
    const n = node('x', [
      ['b', 1],
      ['1', 2],
    ]);
    expect(n.props.map((p) => p.name)).toEqual(['b', '1']);
  });

  it.each([
    [
      'a duplicate property',
      () =>
        node('x', [
          ['a', 1],
          ['a', 2],
        ]),
    ],
    ['a duplicate child', () => node('x', {}, [node('y'), node('y')])],
    ['a node name with a slash', () => node('a/b')],
    ['an empty property name', () => node('x', { '': 1 })],
  ])('refuses %s with E_BAD_ARGUMENT', (_, f) => {
    expect(f).toThrow(expect.objectContaining({ code: 'E_BAD_ARGUMENT' }));
  });

  it('fdt() defaults to no reservations and boot CPU 0', () => {
    expect(fdt(node(''))).toEqual({ root: node(''), reservations: [], bootCpuId: 0 });
  });
});

describe('paths and edits', () => {
  it('finds nodes by path; a name without a unit address matches exactly first, then by prefix', () => {
    const root = node('', {}, [soc()]);
    expect(findNode(root, '/')).toBe(root);
    expect(findNode(root, '/soc/serial@10000000')?.name).toBe('serial@10000000');
    expect(findNode(root, '/soc/serial')?.name).toBe('serial');
    expect(findNode(root, '/soc/plic')?.name).toBe('plic@c000000');
    expect(findNode(root, '/soc/plic@0')).toBeUndefined();
    expect(findNode(root, '/nope/serial')).toBeUndefined();
    expect(() => findNode(root, 'soc')).toThrow(
      expect.objectContaining({ code: 'E_BAD_ARGUMENT' }),
    );
  });

  it('ensureNode creates what is missing and returns what exists', () => {
    const root = node('', {}, [soc()]);
    const chosen = ensureNode(root, '/chosen');
    expect(root.children.at(-1)).toBe(chosen);
    expect(ensureNode(root, '/chosen')).toBe(chosen);
    expect(ensureNode(root, '/a/b').name).toBe('b');
    expect(findNode(root, '/a/b')).toBeDefined();
  });

  it('setProp replaces in place, removeProp removes, getProp reads', () => {
    const n = node('x', { a: 1, b: 2, c: 3 });
    setProp(n, 'b', 'two');
    setProp(n, 'd', 4);
    expect(n.props.map((p) => p.name)).toEqual(['a', 'b', 'c', 'd']);
    expect(readString(getProp(n, 'b')!)).toBe('two');
    expect(removeProp(n, 'a')).toBe(true);
    expect(removeProp(n, 'a')).toBe(false);
    expect(getProp(n, 'a')).toBeUndefined();
    expect(() => addChild(n, node('k'))).not.toThrow();
  });
});

describe('setChosen', () => {
  it('adds /chosen with bootargs, a 64-bit initrd range and stdout-path', () => {
    const root = node('', {}, [soc()]);
    setChosen(root, {
      bootargs: 'console=ttyS0 earlycon',
      initrd: { start: 0x8800_0000, end: 0x8810_0000 },
      stdoutPath: '/soc/serial@10000000',
    });
    const chosen = findNode(root, '/chosen')!;
    expect(chosen.props.map((p) => p.name)).toEqual([
      'bootargs',
      'linux,initrd-start',
      'linux,initrd-end',
      'stdout-path',
    ]);
    expect(readU64(getProp(chosen, 'linux,initrd-start')!)).toBe(0x8800_0000n);
    expect(getProp(chosen, 'linux,initrd-end')!.length).toBe(8);
  });

  it("keeps a user's properties it is not given and replaces those it is", () => {
    const root = node('', {}, [node('chosen', { 'stdout-path': '/uart', bootargs: 'old' })]);
    setChosen(root, { bootargs: 'new' });
    const chosen = findNode(root, '/chosen')!;
    expect(chosen.props.map((p) => [p.name, readString(p.value)])).toEqual([
      ['stdout-path', '/uart'],
      ['bootargs', 'new'],
    ]);
  });
});
