/**
 * The Debian half of `guest:fetch`: refresh the riscv64 indices, choose and fetch a kernel
 * (falling back along the candidates), then trixie's OpenSBI and busybox-static.
 *
 * Everything downloaded goes to a scratch directory inside the cache (same filesystem, so
 * the final rename is atomic) and is deleted as soon as the files the guest needs are out.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { EmuhostError } from '@emuhost/sdk';
import { type Archive, DownloadFailure } from './apt.js';
import { putFile } from './cache.js';
import { abisFromPackages, parseAbi, planKernels } from './kernel-abi.js';
import { fetchKernel, isKernelSkip } from './kernel-fetch.js';
import {
  type GuestManifest,
  type KernelRecord,
  MANIFEST_FORMAT,
  type PackageRecord,
} from './manifest.js';

export interface FetchRequest {
  readonly archive: Archive;
  readonly dir: string;
  readonly mirror: string;
  readonly securityMirror: string;
  /** A kernel ABI to prefer (EMUHOST_GUEST_KERNEL); falls back with a warning if it is gone. */
  readonly pin?: string;
  readonly log: (line: string) => void;
}

/** What the packages hold, pinned down in OpenSBI's and busybox's packages. */
export const OPENSBI = {
  spec: 'opensbi/trixie',
  file: 'usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin',
} as const;
export const BUSYBOX = {
  spec: 'busybox-static/trixie',
  files: ['usr/bin/busybox', 'bin/busybox'],
} as const;

export type Fetched = Omit<GuestManifest, 'disk' | 'initramfs'>;

export async function fetchFromDebian(req: FetchRequest): Promise<Fetched> {
  mkdirSync(req.dir, { recursive: true });
  const work = mkdtempSync(join(req.dir, 'work-'));
  try {
    req.log(
      `apt-get update (riscv64: trixie, trixie-backports, trixie-security, sid; ${req.mirror})`,
    );
    const indexFailures = await req.archive.update();
    for (const w of indexFailures) req.log(`warning: ${w}`);
    const kernel = await chooseKernel(req, work, indexFailures);
    const [sbiDeb, bbDeb] = await downloadOrFail(req, [OPENSBI.spec, BUSYBOX.spec], work);
    const opensbi = await unpackOne(
      req,
      work,
      sbiDeb!,
      OPENSBI.spec,
      [OPENSBI.file],
      'opensbi',
      'fw_dynamic.bin',
    );
    const busybox = await unpackOne(
      req,
      work,
      bbDeb!,
      BUSYBOX.spec,
      BUSYBOX.files,
      'busybox',
      'busybox',
    );
    checkRiscv64Elf(readFileSync(join(req.dir, busybox.file.path)), BUSYBOX.spec);
    return {
      format: MANIFEST_FORMAT,
      mirror: req.mirror,
      securityMirror: req.securityMirror,
      fetchedAt: new Date().toISOString(),
      kernel,
      opensbi,
      busybox,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function chooseKernel(
  req: FetchRequest,
  work: string,
  indexFailures: readonly string[],
): Promise<KernelRecord> {
  const available = abisFromPackages(await req.archive.packageNames('linux-image-'));
  const pin = req.pin === undefined ? undefined : (parseAbi(req.pin)?.abi ?? req.pin);
  const plan = planKernels(available, pin);
  if (pin !== undefined && !plan.pinListed) {
    req.log(
      `warning: EMUHOST_GUEST_KERNEL=${pin} is not in the archive's indices; taking the newest instead`,
    );
  }
  req.log(`kernels >= 6.13, newest first: ${plan.order.join(', ') || 'none'}`);
  const skipped: { abi: string; why: string }[] = [];
  for (const abi of plan.order) {
    const scratch = join(work, abi);
    mkdirSync(scratch, { recursive: true });
    try {
      req.log(`trying ${abi}`);
      const k = await fetchKernel(
        { archive: req.archive, dir: req.dir, work: scratch, log: req.log },
        abi,
      );
      return { ...k, ...(pin !== undefined ? { requested: pin } : {}), skipped };
    } catch (e) {
      if (!isKernelSkip(e)) throw e;
      skipped.push({ abi, why: e.message });
      const what =
        abi === pin
          ? `warning: the pinned kernel ${abi} is unusable, falling back`
          : `  ${abi} skipped`;
      req.log(`${what}: ${e.message}`);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  if (available.length === 0 && indexFailures.length > 0) {
    throw new EmuhostError(
      'E_GUEST_FETCH',
      `cannot reach Debian's archive (network? EMUHOST_DEBIAN_MIRROR?): the index downloads failed:\n  ${indexFailures.join('\n  ')}`,
    );
  }
  const tried = skipped.map((s) => `  ${s.abi}: ${s.why}`).join('\n');
  const index = indexFailures.length
    ? `\nindex downloads that failed:\n  ${indexFailures.join('\n  ')}`
    : '';
  throw new EmuhostError(
    'E_GUEST_FETCH',
    `no riscv64 kernel >= 6.13 could be downloaded from ${req.mirror} ` +
      `(${available.length} kernel ABIs listed)${tried ? `; tried:\n${tried}` : ''}${index}`,
  );
}

async function downloadOrFail(
  req: FetchRequest,
  specs: readonly string[],
  work: string,
): Promise<string[]> {
  try {
    return await req.archive.download(specs, work);
  } catch (e) {
    if (!(e instanceof DownloadFailure)) throw e;
    throw new EmuhostError('E_GUEST_FETCH', `cannot download ${e.message}`);
  }
}

/** Unpacks a package and keeps the first of `candidates` it holds as `<cacheDir>/<version>/<name>`. */
async function unpackOne(
  req: FetchRequest,
  work: string,
  deb: string,
  spec: string,
  candidates: readonly string[],
  cacheDir: string,
  name: string,
): Promise<PackageRecord> {
  const root = join(work, cacheDir);
  const version = await req.archive.debVersion(deb);
  await req.archive.extract(deb, root);
  for (const rel of candidates) {
    let data: Buffer;
    try {
      data = readFileSync(join(root, rel));
    } catch {
      continue;
    }
    req.log(`${spec}: ${version}, ${rel} (${data.length} bytes)`);
    return { version, file: putFile(req.dir, `${cacheDir}/${safeName(version)}/${name}`, data) };
  }
  throw new EmuhostError(
    'E_GUEST_FETCH',
    `${spec} ${version} has none of ${candidates.join(', ')}`,
  );
}

/** A Debian version as a directory name (`1:1.37.0-6+b9` -> `1_1.37.0-6+b9`). */
function safeName(version: string): string {
  return version.replace(/[^A-Za-z0-9.+~-]/g, '_');
}

/** ELF, 64-bit, e_machine RISC-V (0xf3): a busybox the guest can run. */
export function checkRiscv64Elf(b: Uint8Array, what: string): void {
  const ok =
    b.length > 0x14 &&
    b[0] === 0x7f &&
    b[1] === 0x45 &&
    b[2] === 0x4c &&
    b[3] === 0x46 &&
    b[4] === 2 &&
    b[0x12] === 0xf3 &&
    b[0x13] === 0;
  if (!ok) throw new EmuhostError('E_GUEST_FETCH', `${what} is not a 64-bit RISC-V ELF executable`);
}
