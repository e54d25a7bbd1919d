import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  buildInitramfs,
  flavourModules,
  initFlavours,
  initramfsInputsHash,
  initScriptsDir,
} from './initramfs.js';
import { readNewc } from './test-support/cpio-reader.js';

const inputs = {
  init: '#!/bin/sh\necho hi\n',
  busybox: Buffer.from('\x7fELF busybox'),
  modules: { virtio_blk: Buffer.from('blk'), 'virtio-rng': Buffer.from('rng') },
};

describe('the initramfs', { timeout: 60_000 }, () => {
  it('holds /init, busybox with /bin/sh, the device nodes and the modules', () => {
    const entries = readNewc(gunzipSync(buildInitramfs(inputs)));
    const byName = new Map(entries.map((e) => [e.name, e]));
    expect(byName.get('init')?.mode).toBe(0o100755);
    expect(Buffer.from(byName.get('bin/sh')!.data).toString()).toBe('busybox');
    expect(byName.get('dev/console')).toMatchObject({ mode: 0o020600, rdevmajor: 5, rdevminor: 1 });
    expect(byName.get('dev/null')).toMatchObject({ mode: 0o020666, rdevmajor: 1, rdevminor: 3 });
    expect(Buffer.from(byName.get('lib/modules/virtio-rng.ko')!.data).toString()).toBe('rng');
    for (const d of ['proc', 'sys', 'tmp', 'sbin', 'usr/bin'])
      expect(byName.get(d)?.mode ?? 0).toBeGreaterThan(0o040000);
  });

  it('is the same bytes for the same inputs (gzip -9 without a timestamp)', () => {
    const a = buildInitramfs(inputs);
    expect(buildInitramfs(inputs)).toEqual(a);
    expect(Buffer.from(a.subarray(4, 8)).readUInt32LE()).toBe(0); // gzip MTIME
  });

  it('hashes its inputs: any change to script, busybox or a module changes the hash', () => {
    const h = initramfsInputsHash('a', 'b', { m: 'c' });
    expect(initramfsInputsHash('a', 'b', { m: 'c' })).toBe(h);
    expect(
      new Set([
        h,
        initramfsInputsHash('A', 'b', { m: 'c' }),
        initramfsInputsHash('a', 'B', { m: 'c' }),
        initramfsInputsHash('a', 'b', { m: 'C' }),
        initramfsInputsHash('a', 'b', {}),
      ]).size,
    ).toBe(5);
  });

  it("takes a flavour's modules from its '# modules:' line, or all", () => {
    const all = ['virtio_blk', 'virtio-rng', 'virtio_net'];
    expect(flavourModules('#!/bin/sh\n# modules: virtio-rng nope\n', all)).toEqual(['virtio-rng']);
    expect(flavourModules('#!/bin/sh\n', all)).toEqual(all);
  });

  it('finds the flavours in guest/init (test and shell)', () => {
    expect(initScriptsDir()).toMatch(/guest\/init$/);
    const f = initFlavours();
    expect(Object.keys(f)).toEqual(expect.arrayContaining(['shell', 'test']));
    expect(f.test).toMatch(/^#!\/bin\/sh\n/);
    expect(flavourModules(f.test!, ['virtio_blk', 'virtio-rng', 'virtio_net'])).toEqual([
      'virtio_blk',
      'virtio-rng',
    ]);
  });
});
