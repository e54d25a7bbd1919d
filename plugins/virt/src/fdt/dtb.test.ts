import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { toDts } from './dts.js';
import { FDT_BEGIN_NODE, FDT_END, FDT_END_NODE, FDT_NOP, FDT_PROP, HEADER } from './format.js';
import { type DtbErrorKind, parseDtb, readDtb } from './parse.js';
import { arbitraryFdt } from './test-support/arbitrary.js';
import { fdt, findNode, getProp, node } from './tree.js';
import { readCells, readString, readStringList, readU32, u32, u64 } from './values.js';
import { toDtb } from './write.js';

const fixture = (name: string) =>
  new Uint8Array(readFileSync(join(import.meta.dirname, 'fixtures', name)));
/** QEMU 10.0's virt device tree (iommu-sys, WSI, minimal CPU), compiled by dtc 1.6.1. */
const qemuDtb = fixture('virt-iommu-sys-wsi-mincpu.dtb');
const qemuDts = new TextDecoder().decode(fixture('virt-iommu-sys-wsi-mincpu.dts'));

const hasDtc = spawnSync('dtc', ['--version']).status === 0;
const scratch = mkdtempSync(join(tmpdir(), 'emuhost-fdt-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('toDtb', { timeout: 60_000 }, () => {
  it('writes a v17 header, an empty reservation block and 4-aligned tokens', () => {
    const blob = toDtb(fdt(node('', { a: 1 }, [node('c@1', { s: 'x' })]), { bootCpuId: 3 }));
    const v = new DataView(blob.buffer);
    const field = (off: number) => v.getUint32(off);
    expect(field(HEADER.magic)).toBe(0xd00dfeed);
    expect(field(HEADER.totalsize)).toBe(blob.length);
    expect(field(HEADER.offMemRsvmap)).toBe(40);
    expect(field(HEADER.offDtStruct)).toBe(56);
    expect(field(HEADER.version)).toBe(17);
    expect(field(HEADER.lastCompVersion)).toBe(16);
    expect(field(HEADER.bootCpuidPhys)).toBe(3);
    const struct = field(HEADER.offDtStruct);
    const strings = field(HEADER.offDtStrings);
    expect(strings).toBe(struct + field(HEADER.sizeDtStruct));
    expect(blob.length).toBe(strings + field(HEADER.sizeDtStrings));
    // root "" padded to 4; PROP len=4 nameoff=0 value; child "c@1" padded; PROP; END_NODE x2; END
    // biome-ignore format: one line per token, as the block reads
    expect(readCells(blob.subarray(struct, strings))).toEqual([
      FDT_BEGIN_NODE, 0,
      FDT_PROP, 4, 0, 1,
      FDT_BEGIN_NODE, 0x63403100,
      FDT_PROP, 2, 2, 0x78000000,
      FDT_END_NODE, FDT_END_NODE, FDT_END,
    ]);
    expect(readStringList(blob.subarray(strings))).toEqual(['a', 's']);
  });

  it('stores a property name once, and reuses the tail of a longer one as dtc does', () => {
    const blob = toDtb(
      node('', { 'linux,phandle': 1 }, [node('a', { phandle: 2, 'linux,phandle': 3 })]),
    );
    const v = new DataView(blob.buffer);
    const strings = blob.subarray(v.getUint32(HEADER.offDtStrings));
    expect(readStringList(strings)).toEqual(['linux,phandle']);
  });

  it('writes reservations and refuses a {0, 0} one (it would end the block)', () => {
    const t = fdt(node(''), { reservations: [{ address: 0x8000_0000n, size: 0x20_0000n }] });
    expect(parseDtb(toDtb(t)).reservations).toEqual(t.reservations);
    expect(() => toDtb(t, { reservations: [{ address: 0n, size: 0n }] })).toThrow(
      expect.objectContaining({ code: 'E_BAD_ARGUMENT' }),
    );
    expect(() => toDtb(t, { bootCpuId: -1 })).toThrow(
      expect.objectContaining({ code: 'E_BAD_ARGUMENT' }),
    );
  });
});

describe('parseDtb(toDtb(t)) is t', { timeout: 60_000 }, () => {
  it('for random trees (names, value shapes, reservations, boot CPU)', () => {
    fc.assert(
      fc.property(arbitraryFdt, (t) => {
        expect(parseDtb(toDtb(t))).toEqual(t);
      }),
      { numRuns: 300 },
    );
  });

  it('and toDtb(parseDtb(b)) is b for any blob this library wrote', () => {
    fc.assert(
      fc.property(arbitraryFdt, (t) => {
        const b = toDtb(t);
        expect(toDtb(parseDtb(b))).toEqual(b);
      }),
      { numRuns: 100 },
    );
  });
});

describe("QEMU's virt device tree, compiled by dtc", { timeout: 60_000 }, () => {
  const t = parseDtb(qemuDtb);

  it('reads nodes and properties', () => {
    expect(readString(getProp(t.root, 'compatible')!)).toBe('riscv-virtio');
    expect(t.root.children.map((c) => c.name)).toEqual([
      'poweroff',
      'reboot',
      'platform-bus@4000000',
      'memory@80000000',
      'cpus',
      'pmu',
      'fw-cfg@10100000',
      'flash@20000000',
      'aliases',
      'chosen',
      'soc',
    ]);
    const cpu = findNode(t.root, '/cpus/cpu@0')!;
    expect(readString(getProp(cpu, 'mmu-type')!)).toBe('riscv,sv39');
    expect(readStringList(getProp(cpu, 'riscv,isa-extensions')!).slice(0, 6)).toEqual([
      'i',
      'm',
      'a',
      'f',
      'd',
      'c',
    ]);
    expect(readU32(getProp(findNode(t.root, '/cpus')!, 'timebase-frequency')!)).toBe(10_000_000);
    expect(getProp(findNode(t.root, '/memory')!, 'reg')).toEqual(u64(0x8000_0000, 0x2000_0000));
    const iommu = findNode(t.root, '/soc/iommu@3010000')!;
    expect(readCells(getProp(iommu, 'interrupts')!)).toEqual([0x24, 1, 0x25, 1, 0x26, 1, 0x27, 1]);
    expect(getProp(iommu, 'msi-parent')).toBeUndefined();
    expect(readU32(getProp(findNode(t.root, '/soc/plic')!, 'riscv,ndev')!)).toBe(0x5f);
    expect(getProp(findNode(t.root, '/soc/pci')!, 'dma-coherent')).toEqual(new Uint8Array(0));
    expect(t.reservations).toEqual([]);
    expect(t.bootCpuId).toBe(0);
  });

  it('writes it back byte for byte', () => {
    expect(toDtb(t)).toEqual(qemuDtb);
  });

  it('prints it as the reference DTS text', () => {
    expect(toDts(t)).toBe(qemuDts);
  });
});

/** A v17 blob around hand-written structure words (strings: NUL-separated names). */
function assemble(
  words: readonly number[],
  strings = 'a\0',
  patch: Partial<Record<keyof typeof HEADER, number>> = {},
) {
  const struct = u32(...words);
  const str = Uint8Array.from(strings, (c) => c.charCodeAt(0));
  const out = new Uint8Array(56 + struct.length + str.length);
  const v = new DataView(out.buffer);
  const fields: Record<keyof typeof HEADER, number> = {
    magic: 0xd00dfeed,
    totalsize: out.length,
    offDtStruct: 56,
    offDtStrings: 56 + struct.length,
    offMemRsvmap: 40,
    version: 17,
    lastCompVersion: 16,
    bootCpuidPhys: 0,
    sizeDtStrings: str.length,
    sizeDtStruct: struct.length,
    ...patch,
  };
  for (const [k, off] of Object.entries(HEADER)) v.setUint32(off, fields[k as keyof typeof HEADER]);
  out.set(struct, 56);
  out.set(str, 56 + struct.length);
  return out;
}

const B = FDT_BEGIN_NODE;
const E = FDT_END_NODE;
const P = FDT_PROP;
const ROOT = [B, 0];
const CHILD = [B, 0x63000000]; // "c"

describe('blobs that are wrong', { timeout: 60_000 }, () => {
  const good = [...ROOT, P, 0, 0, E, FDT_END];
  it('the hand-assembled baseline parses', () => {
    expect(parseDtb(assemble(good))).toEqual(fdt(node('', { a: true })));
  });

  const cases: [string, Uint8Array, DtbErrorKind][] = [
    ['a PNG', Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]), 'bad-magic'],
    ['three bytes', Uint8Array.from([0xd0, 0x0d, 0xfe]), 'truncated'],
    ['a header cut short', assemble(good).subarray(0, 30), 'truncated'],
    ['a blob shorter than totalsize', assemble(good).subarray(0, 60), 'truncated'],
    ['version 15', assemble(good, 'a\0', { version: 15 }), 'bad-version'],
    ['last compatible version 18', assemble(good, 'a\0', { lastCompVersion: 18 }), 'bad-version'],
    ['a structure block past the end', assemble(good, 'a\0', { sizeDtStruct: 4096 }), 'bad-layout'],
    ['a strings block past the end', assemble(good, 'a\0', { sizeDtStrings: 4096 }), 'bad-layout'],
    ['reservations inside the header', assemble(good, 'a\0', { offMemRsvmap: 8 }), 'bad-layout'],
    ['token 7', assemble([...ROOT, 7, E, FDT_END]), 'bad-token'],
    ['no FDT_END', assemble([...ROOT, E]), 'truncated'],
    ['a property value past the block', assemble([...ROOT, P, 64, 0, E, FDT_END]), 'truncated'],
    [
      'a property after a child',
      assemble([...ROOT, ...CHILD, E, P, 0, 0, E, FDT_END]),
      'bad-structure',
    ],
    ['a property before any node', assemble([P, 0, 0, ...ROOT, E, FDT_END]), 'bad-structure'],
    ['an extra END_NODE', assemble([...ROOT, E, E, FDT_END]), 'bad-structure'],
    ['FDT_END inside a node', assemble([...ROOT, FDT_END]), 'bad-structure'],
    ['two roots', assemble([...ROOT, E, ...ROOT, E, FDT_END]), 'bad-structure'],
    ['FDT_END before any node', assemble([FDT_END]), 'bad-structure'],
    ['a name offset outside the strings', assemble([...ROOT, P, 0, 99, E, FDT_END]), 'bad-string'],
    ['a name without its NUL', assemble([...ROOT, P, 0, 0, E, FDT_END], 'ab'), 'bad-string'],
    ['a node name running off the block', assemble([B, 0x61616161]), 'truncated'],
  ];
  it.each(cases)('%s: %s', (_, blob, kind) => {
    const r = readDtb(blob);
    expect(r.ok ? 'ok' : r.error.kind).toBe(kind);
    expect(() => parseDtb(blob)).toThrow(
      expect.objectContaining({
        code: 'E_DTB',
        message: expect.stringContaining(`E_DTB: ${kind}: `),
      }),
    );
  });

  it('nesting deeper than 64 is refused (too-deep), 64 is read', () => {
    const chain = (depth: number) => {
      let n = node('n');
      for (let i = 1; i < depth; i++) n = node('n', {}, [n]);
      return node('', {}, [n]);
    };
    expect(readDtb(toDtb(chain(63))).ok).toBe(true);
    const r = readDtb(toDtb(chain(64)));
    expect(r.ok ? 'ok' : r.error.kind).toBe('too-deep');
  });

  it('the error says where: the offset of the bad token', () => {
    const r = readDtb(assemble([...ROOT, 7, E, FDT_END]));
    expect(r.ok ? -1 : r.error.offset).toBe(56 + 8);
  });

  it('any corruption of a valid blob is a tree or a DtbError, never a host exception', () => {
    fc.assert(
      fc.property(
        arbitraryFdt,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.option(fc.nat(), { nil: undefined }),
        (t, edits, cut) => {
          const b = toDtb(t);
          for (const [at, byte] of edits) b[at % b.length] = byte;
          const blob = cut === undefined ? b : b.subarray(0, cut % (b.length + 1));
          const r = readDtb(blob);
          if (!r.ok) expect(r.error.message).not.toBe('');
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('what older and looser blobs may hold', { timeout: 60_000 }, () => {
  it('reads version 16 (no size_dt_struct: the block runs to FDT_END)', () => {
    const blob = assemble([...ROOT, P, 0, 0, E, FDT_END], 'a\0', { version: 16, sizeDtStruct: 0 });
    expect(parseDtb(blob)).toEqual(fdt(node('', { a: true })));
  });

  it('skips NOP tokens anywhere between tokens', () => {
    const N = FDT_NOP;
    const blob = assemble([N, ...ROOT, N, P, 0, 0, N, ...CHILD, N, E, N, E, N, FDT_END]);
    expect(parseDtb(blob)).toEqual(fdt(node('', { a: true }, [node('c')])));
  });

  it('copies values out of the blob, a Node Buffer too: editing the blob later changes nothing', () => {
    for (const blob of [
      toDtb(node('', { a: 0x11223344 })),
      Buffer.from(toDtb(node('', { a: 0x11223344 }))),
    ]) {
      const t = parseDtb(blob);
      blob.fill(0);
      expect(getProp(t.root, 'a')).toEqual(u32(0x11223344));
      expect(Object.getPrototypeOf(getProp(t.root, 'a'))).toBe(Uint8Array.prototype);
    }
  });
});

describe.skipIf(!hasDtc)(
  'against dtc (skipped when dtc is not installed)',
  { timeout: 60_000 },
  () => {
    it('dtc rewrites our blobs byte for byte and prints them as toDts does', () => {
      let i = 0;
      fc.assert(
        fc.property(arbitraryFdt, (t) => {
          const file = join(scratch, `t${i++}.dtb`);
          writeFileSync(file, toDtb(t));
          const dtb = spawnSync('dtc', ['-q', '-f', '-I', 'dtb', '-O', 'dtb', file]);
          expect(dtb.status).toBe(0);
          expect(new Uint8Array(dtb.stdout)).toEqual(toDtb(t));
          const dts = spawnSync('dtc', ['-q', '-f', '-I', 'dtb', '-O', 'dts', file], {
            encoding: 'latin1',
          });
          expect(dts.stdout).toBe(toDts(t));
        }),
        { numRuns: 40 },
      );
    }, 60_000);
  },
);
