import { describe, expect, it } from 'vitest';
import { aptFailures, requireTools, run, which } from './tools.js';

/** What apt-get download printed when the pool lost 7.3.4 (2026-12-02). */
const APT_404 = `Err:1 http://deb.debian.org/debian trixie-backports/main riscv64 linux-image-7.3.4+deb13-riscv64 riscv64 7.3.4-1~bpo13+1
  404  Not Found [IP: 203.0.113.80 80]
E: Failed to fetch http://deb.debian.org/debian/pool/main/l/linux/linux-image-7.3.4%2bdeb13-riscv64_7.3.4-1%7ebpo13%2b1_riscv64.deb  404  Not Found [IP: 203.0.113.80 80]
`;

const APT_OFFLINE = `Err:1 http://deb.debian.org/debian trixie InRelease
  Could not resolve 'deb.debian.org'
W: Failed to fetch http://deb.debian.org/debian/dists/trixie/InRelease  Could not resolve 'deb.debian.org'
W: Some index files failed to download. They have been ignored, or old ones used instead.
`;

describe("apt's failures, for the user", () => {
  it('names the URL (decoded) and the reason', () => {
    expect(aptFailures(APT_404)).toEqual([
      'http://deb.debian.org/debian/pool/main/l/linux/linux-image-7.3.4+deb13-riscv64_7.3.4-1~bpo13+1_riscv64.deb: 404  Not Found [IP: 203.0.113.80 80]',
    ]);
    expect(aptFailures(APT_OFFLINE)).toEqual([
      "http://deb.debian.org/debian/dists/trixie/InRelease: Could not resolve 'deb.debian.org'",
    ]);
  });

  it('falls back to the E:/W:/Err: lines when no URL is named', () => {
    expect(aptFailures('Reading package lists...\nE: Unable to locate package nope\n')).toEqual([
      'E: Unable to locate package nope',
    ]);
  });
});

describe('host programs', () => {
  it('finds programs on PATH', () => {
    expect(which('sh')).toMatch(/\/sh$/);
    expect(which('sh', '')).toBeUndefined();
  });

  it('names every missing program and where it comes from', () => {
    expect(() => requireTools(['apt-get', 'dpkg-deb', 'xz'], '/nonexistent')).toThrow(
      expect.objectContaining({
        code: 'E_GUEST_FETCH',
        message: expect.stringMatching(
          /apt-get: Debian's apt .*\n {2}dpkg-deb: package `dpkg`\n {2}xz: package `xz-utils`/s,
        ),
      }),
    );
  });

  it('a program that cannot start is E_GUEST_FETCH, not a crash', async () => {
    await expect(run('emuhost-no-such-program', [])).rejects.toMatchObject({
      code: 'E_GUEST_FETCH',
      message: expect.stringContaining('cannot run emuhost-no-such-program: ENOENT'),
    });
    const r = await run('sh', ['-c', 'echo out; echo err >&2; exit 3']);
    expect([r.code, r.stdout.toString(), r.stderr]).toEqual([3, 'out\n', 'err\n']);
  });
});
