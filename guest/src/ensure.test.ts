import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type EnsureOptions, ensureGuest } from './ensure.js';
import { readManifest } from './manifest.js';
import { readNewc } from './test-support/cpio-reader.js';
import {
  FakeArchive,
  type FakePackage,
  fakeImage,
  firmware,
  singleKernel,
  splitKernel,
} from './test-support/fake-archive.js';

let dir: string;
let initDir: string;
let lines: string[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'emuhost-guest-'));
  initDir = join(dir, 'init-scripts');
  mkdirSync(initDir);
  writeFileSync(
    join(initDir, 'test.sh'),
    '#!/bin/sh\n# modules: virtio_blk virtio-rng\necho test\n',
  );
  writeFileSync(join(initDir, 'shell.sh'), '#!/bin/sh\nexec sh\n');
  lines = [];
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** The archive as it was on 2026-12-02: 7.3.4 listed but gone, 7.2.13 in sid, 7.2.11 in backports. */
function archive(extra: Record<string, FakePackage> = {}): FakeArchive {
  return new FakeArchive({
    ...splitKernel('7.3.4+deb13', '7.3.4-1~bpo13+1', 'trixie-backports', { gone: true }),
    ...splitKernel('7.2.13+deb14', '7.2.13-1', 'sid'),
    ...splitKernel('7.2.11+deb13', '7.2.11-1~bpo13+1', 'trixie-backports'),
    ...singleKernel('6.12.118+deb13', '6.12.118-1', 'trixie-security'),
    ...firmware(),
    ...extra,
  });
}

function ensure(a: FakeArchive, opts: EnsureOptions = {}) {
  return ensureGuest({ dir, initDir, log: (l) => lines.push(l), archive: async () => a, ...opts });
}

describe('ensureGuest, cold', { timeout: 60_000 }, () => {
  it('takes the newest kernel that downloads, skipping one the pool lost, and builds everything', async () => {
    const a = archive();
    const g = await ensure(a);
    expect(g.kernel).toMatchObject({ abi: '7.2.13+deb14', version: '7.2.13-1', suites: ['sid'] });
    expect(g.kernel.builtin).toEqual(['virtio_console']);
    expect(Object.keys(g.kernel.modules)).toEqual([
      'virtio_blk',
      'virtio-rng',
      'failover',
      'net_failover',
      'virtio_net',
    ]);
    expect(readFileSync(g.kernel.modules.virtio_blk!, 'utf8')).toBe('virtio_blk for 7.2.13+deb14');
    expect(readFileSync(g.kernel.image)).toEqual(Buffer.from(fakeImage('7.2.13+deb14')));
    expect(g.kernel.textOffset).toBe('0x200000');
    expect(readFileSync(g.opensbi.fwDynamic, 'utf8')).toBe('opensbi fw_dynamic');
    expect(g.opensbi.version).toBe('1.6-1');
    expect(g.busybox.version).toBe('1:1.37.0-6+b9');
    expect(readFileSync(g.disk).length).toBe(16 * 1024 * 1024);
    expect(lines.some((l) => l.includes('7.3.4+deb13 skipped') && l.includes('404'))).toBe(true);
    // the lost kernel failed on its 2 KB meta package, before the big ones
    expect(a.calls).toContain('download linux-image-7.3.4+deb13-riscv64');
    expect(a.calls.some((c) => c.includes('linux-modules-7.3.4'))).toBe(false);
    expect(readManifest(dir)?.kernel.skipped).toEqual([
      { abi: '7.3.4+deb13', why: expect.stringContaining('404') },
    ]);
    // scratch space is gone
    expect(readdirSync(dir).sort()).toEqual([
      'busybox',
      'disk.img',
      'guest.json',
      'init-scripts',
      'initramfs',
      'kernel',
      'opensbi',
    ]);
    expect(readFileSync(join(dir, 'guest.json'), 'utf8')).toContain('"abi": "7.2.13+deb14"');
  });

  it('builds one initramfs per /init flavour with the modules its script names', async () => {
    const g = await ensure(archive());
    expect(Object.keys(g.initramfs)).toEqual(['shell', 'test']);
    const names = (f: string) =>
      readNewc(gunzipSync(readFileSync(g.initramfs[f]!))).map((e) => e.name);
    expect(names('test')).toEqual(
      expect.arrayContaining(['init', 'bin/busybox', 'bin/sh', 'dev/console', 'dev/null']),
    );
    expect(names('test').filter((n) => n.startsWith('lib/modules/'))).toEqual([
      'lib/modules/virtio-rng.ko',
      'lib/modules/virtio_blk.ko',
    ]);
    expect(names('shell').filter((n) => n.endsWith('.ko'))).toHaveLength(5);
    const init = readNewc(gunzipSync(readFileSync(g.initramfs.test!))).find(
      (e) => e.name === 'init',
    )!;
    expect(Buffer.from(init.data).toString()).toContain('echo test');
  });

  it('handles the 6.x packaging: one deb, /boot files, plain modules', async () => {
    const g = await ensure(archive(), { kernel: '6.12.118+deb13' });
    expect(g.kernel).toMatchObject({ abi: '6.12.118+deb13', suites: ['trixie-security'] });
    expect(readFileSync(g.kernel.modules['virtio-rng']!, 'utf8')).toBe(
      'virtio-rng for 6.12.118+deb13',
    );
    expect(readManifest(dir)?.kernel.packaging).toBe('single');
    // CONFIG says m, the package has no virtio_net: optional, so noted and left out
    expect(g.kernel.modules.virtio_net).toBeUndefined();
    expect(lines.some((l) => l.includes('no virtio_net'))).toBe(true);
  });

  it('passes over a kernel whose Image lacks the RISC-V magic, and says why', async () => {
    const broken = splitKernel('7.2.13+deb14', '7.2.13-1', 'sid', { image: Buffer.alloc(4096) });
    const g = await ensure(archive(broken));
    expect(g.kernel.abi).toBe('7.2.11+deb13');
    expect(readManifest(dir)?.kernel.skipped[1]).toEqual({
      abi: '7.2.13+deb14',
      why: expect.stringContaining('not a RISC-V Image: bytes at 0x38 are 00 00 00 00'),
    });
  });

  it('passes over a kernel without a required driver', async () => {
    const noBlk = splitKernel('7.2.13+deb14', '7.2.13-1', 'sid', {
      config: 'CONFIG_HW_RANDOM_VIRTIO=m\n',
    });
    const g = await ensure(archive(noBlk));
    expect(g.kernel.abi).toBe('7.2.11+deb13');
    expect(lines.some((l) => l.includes('virtio_blk: CONFIG_VIRTIO_BLK is not set'))).toBe(true);
  });

  it('fails with E_GUEST_FETCH listing what it tried when no kernel >= 6.13 downloads', async () => {
    const a = new FakeArchive({
      ...splitKernel('7.3.4+deb13', '7.3.4-1~bpo13+1', 'trixie-backports', { gone: true }),
      ...singleKernel('6.12.118+deb13', '6.12.118-1', 'trixie-security'),
      ...firmware(),
    });
    await expect(ensure(a)).rejects.toMatchObject({
      code: 'E_GUEST_FETCH',
      message: expect.stringMatching(
        /no riscv64 kernel >= 6\.13 .*tried:\n {2}7\.3\.4\+deb13: .*404/s,
      ),
    });
    expect(existsSync(join(dir, 'guest.json'))).toBe(false);
  });

  it("fails with E_GUEST_FETCH naming the URL when trixie's opensbi is gone", async () => {
    const fw = firmware();
    const a = archive({ opensbi: { ...fw.opensbi!, gone: true } });
    await expect(ensure(a)).rejects.toMatchObject({
      code: 'E_GUEST_FETCH',
      message: expect.stringContaining('http://fake.invalid/pool/opensbi_1.6-1.deb: 404'),
    });
  });
});

describe('ensureGuest, pinned (EMUHOST_GUEST_KERNEL)', { timeout: 60_000 }, () => {
  it('takes the pinned kernel when it downloads', async () => {
    const g = await ensure(archive(), { kernel: '7.2.11+deb13-riscv64' });
    expect(g.kernel.abi).toBe('7.2.11+deb13');
  });

  it('falls back with a warning when the pin is gone, and does not retry it while cached', async () => {
    const a = archive();
    const g = await ensure(a, { kernel: '7.3.4+deb13' });
    expect(g.kernel.abi).toBe('7.2.13+deb14');
    expect(
      lines.some((l) => l.startsWith('warning: the pinned kernel 7.3.4+deb13 is unusable')),
    ).toBe(true);
    const calls = a.calls.length;
    lines = [];
    await ensure(a, { kernel: '7.3.4+deb13' });
    expect(a.calls.length).toBe(calls);
    expect(lines).toContain(
      'warning: EMUHOST_GUEST_KERNEL=7.3.4+deb13 could not be had; using 7.2.13+deb14',
    );
  });

  it('warns when the pin is not even listed', async () => {
    const g = await ensure(archive(), { kernel: '9.9.9+deb99' });
    expect(g.kernel.abi).toBe('7.2.13+deb14');
    expect(lines.some((l) => l.includes('9.9.9+deb99 is not in the archive'))).toBe(true);
  });

  it('fetches again when the pin changes to another kernel', async () => {
    const a = archive();
    await ensure(a);
    const g = await ensure(a, { kernel: '7.2.11+deb13' });
    expect(g.kernel.abi).toBe('7.2.11+deb13');
    // the earlier kernel's files are pruned
    expect(existsSync(join(dir, 'kernel', '7.2.13+deb14'))).toBe(false);
    expect(existsSync(join(dir, 'initramfs', '7.2.13+deb14'))).toBe(false);
  });
});

describe('ensureGuest, cached', { timeout: 60_000 }, () => {
  it('touches no archive when the cache is complete, and returns the same paths', async () => {
    const a = archive();
    const first = await ensure(a);
    const calls = a.calls.length;
    const manifest = readFileSync(join(dir, 'guest.json'));
    const again = await ensure(a);
    expect(a.calls.length).toBe(calls);
    expect(again).toEqual(first);
    expect(readFileSync(join(dir, 'guest.json'))).toEqual(manifest);
  });

  it('fetches again when a cached file is missing, or damaged (with verify)', async () => {
    const a = archive();
    const g = await ensure(a);
    rmSync(g.kernel.modules.virtio_blk!);
    await ensure(a);
    expect(a.calls.filter((c) => c === 'update')).toHaveLength(2);
    writeFileSync(g.opensbi.fwDynamic, 'OPENSBI fw_dynamic'); // same size, other bytes
    await ensure(a);
    expect(a.calls.filter((c) => c === 'update')).toHaveLength(2);
    await ensure(a, { verify: true });
    expect(a.calls.filter((c) => c === 'update')).toHaveLength(3);
    expect(readFileSync(g.opensbi.fwDynamic, 'utf8')).toBe('opensbi fw_dynamic');
  });

  it('refetches on refresh', async () => {
    const a = archive();
    await ensure(a);
    await ensure(a, { refresh: true });
    expect(a.calls.filter((c) => c === 'update')).toHaveLength(2);
  });

  it('rebuilds only the initramfs whose script changed, without the network', async () => {
    const a = archive();
    const g = await ensure(a);
    const calls = a.calls.length;
    const shell = readFileSync(g.initramfs.shell!);
    writeFileSync(join(initDir, 'test.sh'), '#!/bin/sh\n# modules: virtio_blk\necho changed\n');
    const again = await ensure(a);
    expect(a.calls.length).toBe(calls);
    expect(readFileSync(again.initramfs.shell!)).toEqual(shell);
    const names = readNewc(gunzipSync(readFileSync(again.initramfs.test!))).map((e) => e.name);
    expect(names.filter((n) => n.endsWith('.ko'))).toEqual(['lib/modules/virtio_blk.ko']);
    expect(lines).toContain(
      'initramfs test: ' +
        readFileSync(again.initramfs.test!).length +
        ' bytes (modules: virtio_blk)',
    );
  });

  it('an interrupted fetch leaves the previous cache whole', async () => {
    const a = archive();
    const g = await ensure(a);
    const before = readFileSync(join(dir, 'guest.json'), 'utf8');
    a.extract = async () => {
      throw new Error('disk full');
    };
    await expect(ensure(a, { refresh: true })).rejects.toThrow('disk full');
    expect(readFileSync(join(dir, 'guest.json'), 'utf8')).toBe(before);
    expect(readFileSync(g.kernel.image)).toEqual(Buffer.from(fakeImage('7.2.13+deb14')));
    expect(existsSync(join(dir, '.lock'))).toBe(false);
  });

  it('two concurrent calls fetch once', async () => {
    const a = archive();
    const [x, y] = await Promise.all([ensure(a), ensure(a)]);
    expect(x).toEqual(y);
    expect(a.calls.filter((c) => c === 'update')).toHaveLength(1);
  });
});

describe('ensureGuest, offline', { timeout: 60_000 }, () => {
  it('says the archive cannot be reached, with the URLs, when every index download failed', async () => {
    const a = new FakeArchive({});
    a.update = async () => ['http://127.0.0.1:9/debian/dists/sid/InRelease: Could not connect'];
    await expect(ensure(a)).rejects.toMatchObject({
      code: 'E_GUEST_FETCH',
      message: expect.stringContaining(
        "cannot reach Debian's archive (network? EMUHOST_DEBIAN_MIRROR?): the index downloads failed:\n  http://127.0.0.1:9/debian/dists/sid/InRelease: Could not connect",
      ),
    });
  });
});
