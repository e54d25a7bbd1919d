/**
 * `ensureGuest`: the reference guest's files, fetched and built if needed, as absolute paths.
 * What the boot tests and `npm run guest:fetch` call.
 *
 * Lifecycle of the cache directory (one run at a time, under its lock):
 *   1. read `guest.json`; fetch from Debian only if it is missing, of another format, asked
 *      to (`refresh`), pinned to another kernel, or its files are not intact;
 *   2. make the disk image if it is missing;
 *   3. build each `/init` flavour's initramfs whose inputs changed (editing a script in
 *      `guest/init/` rebuilds it on the next call, without the network);
 *   4. write `guest.json` last, then remove what it no longer names.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { EmuhostError } from '@emuhost/sdk';
import {
  AptArchive,
  type AptSources,
  type Archive,
  DEFAULT_KEYRING,
  DEFAULT_MIRROR,
  DEFAULT_SECURITY_MIRROR,
} from './apt.js';
import {
  type FileRecord,
  fileIntact,
  guestDir,
  putFile,
  sweepTemporaries,
  withLock,
} from './cache.js';
import { diskImage } from './disk.js';
import { type Fetched, fetchFromDebian } from './fetch.js';
import { buildInitramfs, flavourModules, initFlavours, initramfsInputsHash } from './initramfs.js';
import { GUEST_DRIVERS } from './kconfig.js';
import { parseAbi } from './kernel-abi.js';
import {
  type BuiltRecord,
  type GuestManifest,
  MANIFEST_NAME,
  readManifest,
  writeManifest,
} from './manifest.js';
import { requireTools } from './tools.js';

export interface EnsureOptions {
  /** The cache directory; default `guestDir()`. */
  readonly dir?: string;
  /** Debian archive; default `$EMUHOST_DEBIAN_MIRROR`, else http://deb.debian.org/debian. */
  readonly mirror?: string;
  /** Where trixie-security is; default `$EMUHOST_DEBIAN_SECURITY_MIRROR`, else beside `mirror`. */
  readonly securityMirror?: string;
  /** Kernel ABI to prefer (`7.2.13+deb14`); default `$EMUHOST_GUEST_KERNEL`. Falls back if gone. */
  readonly kernel?: string;
  /** Fetch from Debian again even if the cache is complete. */
  readonly refresh?: boolean;
  /** Check every cached file's sha256, not only its size. */
  readonly verify?: boolean;
  /** Progress and warnings, one line each; default: stderr. */
  readonly log?: (line: string) => void;
  /** Where the `/init` flavours are; default `guest/init/`. */
  readonly initDir?: string;
  /** The archive to fetch from; default Debian's, through a private APT state (tests pass a fake). */
  readonly archive?: (aptRoot: string, sources: AptSources) => Promise<Archive>;
}

/** The guest's files, as absolute paths. */
export interface GuestFiles {
  readonly dir: string;
  /** `guest.json`, the record of all this (sizes, sha256s, versions). */
  readonly manifest: string;
  readonly kernel: {
    /** `7.2.13+deb14` */
    readonly abi: string;
    /** The Debian package version, `7.2.13-1`. */
    readonly version: string;
    readonly suites: readonly string[];
    /** The uncompressed RISC-V Image (checked: "RSC\x05" at 0x38). */
    readonly image: string;
    readonly config: string;
    /** Module name -> `.ko` file, for the drivers that are modules in this kernel. */
    readonly modules: Readonly<Record<string, string>>;
    /** Drivers this kernel has built in (no module to load). */
    readonly builtin: readonly string[];
    /** From the Image header: load offset above RAM base and size once running, hex. */
    readonly textOffset: string;
    readonly imageSize: string;
  };
  readonly opensbi: { readonly version: string; readonly fwDynamic: string };
  readonly busybox: { readonly version: string; readonly path: string };
  /** Flavour (`test`, `shell`, ...) -> gzip-compressed newc initramfs. */
  readonly initramfs: Readonly<Record<string, string>>;
  /** The pristine 16 MiB disk image. Copy it before attaching it writable. */
  readonly disk: string;
}

/** Fetches and builds whatever is missing; returns the paths. Throws E_GUEST_FETCH. */
export async function ensureGuest(opts: EnsureOptions = {}): Promise<GuestFiles> {
  const dir = opts.dir ?? guestDir();
  const log = opts.log ?? ((line: string) => process.stderr.write(`[guest] ${line}\n`));
  const mirror = opts.mirror ?? (process.env.EMUHOST_DEBIAN_MIRROR || DEFAULT_MIRROR);
  const securityMirror =
    opts.securityMirror ?? (process.env.EMUHOST_DEBIAN_SECURITY_MIRROR || securityBeside(mirror));
  const rawPin = opts.kernel ?? (process.env.EMUHOST_GUEST_KERNEL || undefined);
  const pin = rawPin === undefined ? undefined : (parseAbi(rawPin)?.abi ?? rawPin);
  const verify = opts.verify ?? false;

  return withLock(dir, async () => {
    sweepTemporaries(dir);
    const cached = readManifest(dir);
    const why = opts.refresh ? 'asked to refresh' : staleReason(dir, cached, pin, verify);
    let m: GuestManifest;
    if (why === undefined && cached) {
      m = cached;
    } else {
      log(`fetching from Debian: ${why}`);
      const keyring = process.env.EMUHOST_DEBIAN_KEYRING || DEFAULT_KEYRING;
      const archive = opts.archive
        ? await opts.archive(join(dir, 'apt'), { mirror, securityMirror, keyring })
        : await realArchive(join(dir, 'apt'), { mirror, securityMirror, keyring });
      let fetched: Fetched;
      try {
        fetched = await fetchFromDebian({
          archive,
          dir,
          mirror,
          securityMirror,
          log,
          ...(pin ? { pin } : {}),
        });
      } finally {
        // apt's lists and caches (~250 MB) serve only a fetch, and the next one refreshes them.
        rmSync(join(dir, 'apt'), { recursive: true, force: true });
      }
      m = {
        ...fetched,
        initramfs: cached?.initramfs ?? {},
        ...(cached?.disk ? { disk: cached.disk } : {}),
      };
    }
    if (pin !== undefined && m.kernel.abi !== pin) {
      log(`warning: EMUHOST_GUEST_KERNEL=${pin} could not be had; using ${m.kernel.abi}`);
    }

    const disk =
      m.disk && fileIntact(dir, m.disk, verify) ? m.disk : putFile(dir, 'disk.img', diskImage());
    const initramfs = buildFlavours(dir, m, opts.initDir, verify, log);
    const next: GuestManifest = { ...m, disk, initramfs };
    if (JSON.stringify(next) !== JSON.stringify(cached)) writeManifest(dir, next);
    prune(dir, next);
    return guestFiles(dir, next);
  });
}

/** Why the cache cannot serve as it is, or undefined if it can. */
function staleReason(
  dir: string,
  m: GuestManifest | undefined,
  pin: string | undefined,
  verify: boolean,
): string | undefined {
  if (!m) return `nothing cached in ${dir}`;
  if (pin !== undefined && pin !== m.kernel.abi && pin !== m.kernel.requested) {
    return `EMUHOST_GUEST_KERNEL=${pin}, the cache has ${m.kernel.abi}`;
  }
  const missingDriver = GUEST_DRIVERS.find((d) => !(d.module in m.kernel.modules) && d.required);
  if (missingDriver) return `the cached kernel has no ${missingDriver.module}`;
  const files: FileRecord[] = [m.kernel.image, m.kernel.config, m.opensbi.file, m.busybox.file];
  for (const rec of Object.values(m.kernel.modules)) if (rec !== 'builtin') files.push(rec);
  const bad = files.find((f) => !fileIntact(dir, f, verify));
  return bad ? `${bad.path} is missing or damaged` : undefined;
}

function buildFlavours(
  dir: string,
  m: GuestManifest,
  initDir: string | undefined,
  verify: boolean,
  log: (line: string) => void,
): Record<string, BuiltRecord> {
  const files: Record<string, FileRecord> = {};
  for (const [name, rec] of Object.entries(m.kernel.modules))
    if (rec !== 'builtin') files[name] = rec;
  const out: Record<string, BuiltRecord> = {};
  for (const [flavour, init] of Object.entries(initFlavours(initDir))) {
    const names = flavourModules(init, Object.keys(files));
    const shas = Object.fromEntries(names.map((n) => [n, files[n]!.sha256]));
    const inputs = initramfsInputsHash(init, m.busybox.file.sha256, shas);
    const have = m.initramfs[flavour];
    if (have && have.inputs === inputs && fileIntact(dir, have, verify)) {
      out[flavour] = have;
      continue;
    }
    const image = buildInitramfs({
      init,
      busybox: readFileSync(join(dir, m.busybox.file.path)),
      modules: Object.fromEntries(names.map((n) => [n, readFileSync(join(dir, files[n]!.path))])),
    });
    out[flavour] = {
      ...putFile(dir, `initramfs/${m.kernel.abi}/${flavour}.cpio.gz`, image),
      inputs,
    };
    log(`initramfs ${flavour}: ${image.length} bytes (modules: ${names.join(' ') || 'none'})`);
  }
  return out;
}

function guestFiles(dir: string, m: GuestManifest): GuestFiles {
  const abs = (rec: FileRecord) => join(dir, rec.path);
  const modules: Record<string, string> = {};
  const builtin: string[] = [];
  for (const [name, rec] of Object.entries(m.kernel.modules)) {
    if (rec === 'builtin') builtin.push(name);
    else modules[name] = abs(rec);
  }
  return {
    dir,
    manifest: join(dir, MANIFEST_NAME),
    kernel: {
      abi: m.kernel.abi,
      version: m.kernel.version,
      suites: m.kernel.suites,
      image: abs(m.kernel.image),
      config: abs(m.kernel.config),
      modules,
      builtin,
      textOffset: m.kernel.header.textOffset,
      imageSize: m.kernel.header.imageSize,
    },
    opensbi: { version: m.opensbi.version, fwDynamic: abs(m.opensbi.file) },
    busybox: { version: m.busybox.version, path: abs(m.busybox.file) },
    initramfs: Object.fromEntries(Object.entries(m.initramfs).map(([f, rec]) => [f, abs(rec)])),
    disk: abs(m.disk!),
  };
}

/** Removes kernels, packages and images of earlier fetches that the manifest no longer names. */
function prune(dir: string, m: GuestManifest): void {
  const keep = new Set<string>();
  const files: FileRecord[] = [
    m.kernel.image,
    m.opensbi.file,
    m.busybox.file,
    ...Object.values(m.initramfs),
  ];
  for (const f of files) keep.add(f.path.split('/').slice(0, 2).join('/'));
  for (const top of ['kernel', 'initramfs', 'opensbi', 'busybox']) {
    if (!existsSync(join(dir, top))) continue;
    for (const sub of readdirSync(join(dir, top))) {
      if (!keep.has(`${top}/${sub}`)) rmSync(join(dir, top, sub), { recursive: true, force: true });
    }
  }
}

async function realArchive(aptRoot: string, sources: AptSources): Promise<Archive> {
  requireTools(['apt-get', 'apt-cache', 'dpkg-deb', 'xz']);
  if (!existsSync(sources.keyring)) {
    throw new EmuhostError(
      'E_GUEST_FETCH',
      `Debian's archive keyring ${sources.keyring} is missing: install the package ` +
        'debian-archive-keyring, or set EMUHOST_DEBIAN_KEYRING to a copy of it',
    );
  }
  return AptArchive.create(aptRoot, sources);
}

/** `.../debian` -> `.../debian-security`, the archive's own layout; else Debian's. */
function securityBeside(mirror: string): string {
  return /\/debian\/?$/.test(mirror)
    ? mirror.replace(/\/debian\/?$/, '/debian-security')
    : DEFAULT_SECURITY_MIRROR;
}
