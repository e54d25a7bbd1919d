/**
 * The reference guest's initramfs: busybox-static at /bin/busybox (with /bin/sh), one `/init`
 * flavour script from `guest/init/<flavour>.sh`, the kernel's modules in /lib/modules, and
 * the two device nodes the kernel needs before devtmpfs is mounted. Gzip level 9, the
 * compression every Debian kernel unpacks (RD_GZIP=y).
 *
 * The other busybox applets are linked at boot (`busybox --install -s`), since which ones
 * exist depends on the busybox build.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { EmuhostError } from '@emuhost/sdk';
import { sha256 } from './cache.js';
import { type CpioEntry, newcArchive } from './cpio.js';

export interface InitramfsInputs {
  /** The `/init` script's text. */
  readonly init: string;
  /** busybox-static for riscv64. */
  readonly busybox: Uint8Array;
  /** Modules by name (`virtio_blk` -> `/lib/modules/virtio_blk.ko`). */
  readonly modules: Readonly<Record<string, Uint8Array>>;
}

/** Bumped when the layout below changes, so cached images are rebuilt. */
export const INITRAMFS_LAYOUT = 1;

const DIRS = [
  'bin',
  'dev',
  'etc',
  'lib/modules',
  'proc',
  'root',
  'run',
  'sbin',
  'sys',
  'usr/bin',
  'usr/sbin',
];

/** The archive's members. */
export function initramfsEntries(inputs: InitramfsInputs): CpioEntry[] {
  return [
    ...DIRS.map((path): CpioEntry => ({ path, type: 'dir' })),
    { path: 'tmp', type: 'dir', mode: 0o1777 },
    { path: 'init', type: 'file', mode: 0o755, data: Buffer.from(inputs.init, 'utf8') },
    { path: 'bin/busybox', type: 'file', mode: 0o755, data: inputs.busybox },
    { path: 'bin/sh', type: 'symlink', target: 'busybox' },
    { path: 'dev/console', type: 'char', mode: 0o600, major: 5, minor: 1 },
    { path: 'dev/null', type: 'char', mode: 0o666, major: 1, minor: 3 },
    ...Object.entries(inputs.modules).map(
      ([name, data]): CpioEntry => ({ path: `lib/modules/${name}.ko`, type: 'file', data }),
    ),
  ];
}

/** The gzip-compressed newc archive. Same inputs, same bytes. */
export function buildInitramfs(inputs: InitramfsInputs): Uint8Array {
  return gzipSync(newcArchive(initramfsEntries(inputs)), { level: 9 });
}

/**
 * The modules a flavour's image carries: those its script names on a `# modules: a b` line
 * (a lean test image unpacks faster in a slow emulator), or all when it names none.
 */
export function flavourModules(init: string, available: readonly string[]): string[] {
  const m = /^# modules:(.*)$/m.exec(init);
  if (!m) return [...available];
  const wanted = new Set(m[1]!.trim().split(/\s+/));
  return available.filter((name) => wanted.has(name));
}

/** A hash of everything an image is built from: equal hashes, equal images. */
export function initramfsInputsHash(
  init: string,
  busyboxSha: string,
  modules: Record<string, string>,
): string {
  const parts = [
    `layout ${INITRAMFS_LAYOUT}`,
    `init ${sha256(Buffer.from(init))}`,
    `busybox ${busyboxSha}`,
  ];
  for (const name of Object.keys(modules).sort()) parts.push(`module ${name} ${modules[name]}`);
  return sha256(Buffer.from(parts.join('\n')));
}

/** The flavours: `guest/init/<flavour>.sh` -> its text, sorted by name. */
export function initFlavours(dir = initScriptsDir()): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir).sort()) {
    const m = /^(.+)\.sh$/.exec(f);
    if (m) out[m[1]!] = readFileSync(join(dir, f), 'utf8');
  }
  return out;
}

/**
 * `guest/init/`, found from this module whether it runs from source (vitest) or from a bundle
 * under `guest/node_modules/.cache/` (scripts/run-ts.mjs): the nearest ancestor holding the
 * package's package.json.
 */
export function initScriptsDir(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let d = from; ; d = dirname(d)) {
    try {
      const pkg = JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === '@emuhost/guest') return join(d, 'init');
    } catch {
      // no package.json here
    }
    if (dirname(d) === d)
      throw new EmuhostError('E_GUEST_FETCH', `no @emuhost/guest package above ${from}`);
  }
}
