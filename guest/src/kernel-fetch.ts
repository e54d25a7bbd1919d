/**
 * Fetching one Debian riscv64 kernel: its packages, the Image, the config, and the modules
 * the guest loads, into `kernel/<abi>/` of the cache.
 *
 * Two packagings exist. 6.x is one `linux-image-<abi>-riscv64` deb with `/boot/vmlinux-*`,
 * `/boot/config-*` and the modules. 7.x splits it: `linux-image-*` is a meta package that
 * depends on `linux-binary-*` (`/usr/lib/modules/<abi>-riscv64/vmlinuz`), `linux-modules-*`
 * and `linux-base-*` (`config`). Whatever is listed is downloaded, smallest first, so a pool
 * that lost the kernel fails on the 2 KB meta package rather than after 116 MB of modules.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { type Archive, DownloadFailure } from './apt.js';
import { type FileRecord, putFile } from './cache.js';
import { driverState, GUEST_DRIVERS, parseKconfig } from './kconfig.js';
import { KERNEL_FLAVOUR } from './kernel-abi.js';
import type { KernelRecord } from './manifest.js';
import { checkRiscvImage } from './riscv-image.js';

/** A kernel that downloaded but cannot serve the guest (no Image magic, a driver missing). */
export class KernelUnusable extends Error {
  override readonly name = 'KernelUnusable';
}

/** Package names of one ABI: the image package and the parts a split kernel adds. */
export function kernelPackages(abi: string): { image: string; parts: string[] } {
  const suffix = `${abi}-${KERNEL_FLAVOUR}`;
  return {
    image: `linux-image-${suffix}`,
    parts: [`linux-base-${suffix}`, `linux-binary-${suffix}`, `linux-modules-${suffix}`],
  };
}

export interface KernelFetch {
  readonly archive: Archive;
  /** The cache directory; files land in `kernel/<abi>/`. */
  readonly dir: string;
  /** Scratch space for debs and unpacked trees (the caller removes it). */
  readonly work: string;
  readonly log: (line: string) => void;
}

/**
 * Downloads and unpacks one ABI. Throws DownloadFailure if the pool does not deliver it and
 * KernelUnusable if what it delivers will not boot the guest.
 */
export async function fetchKernel(
  f: KernelFetch,
  abi: string,
): Promise<Omit<KernelRecord, 'requested' | 'skipped'>> {
  const { image, parts } = kernelPackages(abi);
  const listed = [image];
  for (const p of parts) if (await f.archive.has(p)) listed.push(p);
  const root = join(f.work, `kernel-${abi}`);
  // The meta package alone first: a pool that lost the kernel fails here, before 116 MB.
  const [imageDeb] = await f.archive.download([image], f.work);
  const debs = [
    imageDeb!,
    ...(listed.length > 1 ? await f.archive.download(listed.slice(1), f.work) : []),
  ];
  const version = await f.archive.debVersion(imageDeb!);
  for (const deb of debs) await f.archive.extract(deb, root);
  const suites = await f.archive.suitesOf(image, version);
  const packaging = listed.length > 1 ? 'split' : 'single';
  f.log(`  ${abi}: ${version} (${suites.join(', ') || 'suite unknown'}), ${packaging} packaging`);

  const moduleDir = firstExisting(root, [
    `usr/lib/modules/${abi}-${KERNEL_FLAVOUR}`,
    `lib/modules/${abi}-${KERNEL_FLAVOUR}`,
  ]);
  const imagePath = firstExisting(root, [
    `usr/lib/modules/${abi}-${KERNEL_FLAVOUR}/vmlinuz`,
    `lib/modules/${abi}-${KERNEL_FLAVOUR}/vmlinuz`,
    `boot/vmlinux-${abi}-${KERNEL_FLAVOUR}`,
    `boot/vmlinuz-${abi}-${KERNEL_FLAVOUR}`,
  ]);
  const configPath = firstExisting(root, [
    `usr/lib/modules/${abi}-${KERNEL_FLAVOUR}/config`,
    `boot/config-${abi}-${KERNEL_FLAVOUR}`,
  ]);
  if (!imagePath || !configPath || !moduleDir) {
    throw new KernelUnusable(
      `the packages hold no ${!imagePath ? 'kernel image' : !configPath ? 'config' : 'modules'} ` +
        `where Debian puts them (${listed.join(', ')})`,
    );
  }

  const imageBytes = readFileSync(imagePath);
  const check = checkRiscvImage(imageBytes.subarray(0, 64));
  if (!check.ok) throw new KernelUnusable(`${imagePath.slice(root.length + 1)} is ${check.why}`);
  const configText = readFileSync(configPath, 'utf8');
  const config = parseKconfig(configText);

  const found = moduleFiles(join(moduleDir, 'kernel'));
  const modules: Record<string, FileRecord | 'builtin'> = {};
  for (const d of GUEST_DRIVERS) {
    const state = driverState(config, d.option);
    if (state === 'builtin') {
      modules[d.module] = 'builtin';
      continue;
    }
    const file = state === 'module' ? found.get(d.module) : undefined;
    if (!file) {
      const why = `CONFIG_${d.option} is ${state === 'module' ? 'm but the module is not in the package' : 'not set'}`;
      if (d.required) throw new KernelUnusable(`${d.module}: ${why}`);
      f.log(`  ${abi}: no ${d.module} (${why}); flavours that need it will not have it`);
      continue;
    }
    modules[d.module] = putFile(
      f.dir,
      `kernel/${abi}/modules/${d.module}.ko`,
      await decompress(f.archive, file),
    );
  }

  const base = `kernel/${abi}`;
  const h = check.header;
  return {
    abi,
    version,
    suites,
    packaging,
    image: putFile(f.dir, `${base}/Image`, imageBytes),
    header: {
      textOffset: `0x${h.textOffset.toString(16)}`,
      imageSize: `0x${h.imageSize.toString(16)}`,
      version: h.version,
      peOffset: h.peOffset,
    },
    config: putFile(f.dir, `${base}/config`, Buffer.from(configText)),
    modules,
  };
}

/** Whether an error means "try the next kernel" rather than "stop". */
export function isKernelSkip(e: unknown): e is DownloadFailure | KernelUnusable {
  return e instanceof DownloadFailure || e instanceof KernelUnusable;
}

function firstExisting(root: string, rels: readonly string[]): string | undefined {
  return rels.map((r) => join(root, r)).find((p) => existsSync(p));
}

/** Module stem (`virtio_blk`, `virtio-rng`) -> file, under a modules `kernel/` tree. */
function moduleFiles(dir: string, out = new Map<string, string>()): Map<string, string> {
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    const m = /^(.+)\.ko(\.xz|\.gz)?$/.exec(e.name);
    if (e.isDirectory()) moduleFiles(path, out);
    else if (e.isFile() && m && !out.has(m[1]!)) out.set(m[1]!, path);
  }
  return out;
}

async function decompress(archive: Archive, file: string): Promise<Uint8Array> {
  if (file.endsWith('.xz')) return archive.unxz(file);
  if (file.endsWith('.gz')) return gunzipSync(readFileSync(file));
  return readFileSync(file);
}
