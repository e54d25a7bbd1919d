/**
 * `guest.json`: what the cache holds, so a later run knows without the network what it has
 * and whether it is intact. Paths in it are relative to the cache directory (the directory
 * can move); `GuestFiles` (ensure.ts) hands out absolute ones.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type FileRecord, putFile } from './cache.js';
import type { RiscvImageHeader } from './riscv-image.js';

/** Bumped when the layout changes: a cache of another format is fetched again. */
export const MANIFEST_FORMAT = 1;
export const MANIFEST_NAME = 'guest.json';

export interface KernelRecord {
  /** `7.2.13+deb14` */
  readonly abi: string;
  /** The Debian package version, `7.2.13-1`. */
  readonly version: string;
  /** Suites that list that version. */
  readonly suites: readonly string[];
  /** `split` (7.x: image meta + binary + modules + base) or `single` (6.x: one deb). */
  readonly packaging: 'split' | 'single';
  /** The pin (EMUHOST_GUEST_KERNEL) this choice answered, if any; it may be a fallback. */
  readonly requested?: string;
  readonly image: FileRecord;
  readonly header: Omit<RiscvImageHeader, 'textOffset' | 'imageSize' | 'flags'> & {
    readonly textOffset: string;
    readonly imageSize: string;
  };
  readonly config: FileRecord;
  /** Module name -> its file, or `builtin` when the config builds the driver in. */
  readonly modules: Readonly<Record<string, FileRecord | 'builtin'>>;
  /** ABIs tried before this one, and why each was passed over. */
  readonly skipped: readonly { readonly abi: string; readonly why: string }[];
}

export interface PackageRecord {
  readonly version: string;
  readonly file: FileRecord;
}

/** An initramfs and the hash of what it was built from (init script, busybox, modules). */
export interface BuiltRecord extends FileRecord {
  readonly inputs: string;
}

export interface GuestManifest {
  readonly format: typeof MANIFEST_FORMAT;
  readonly mirror: string;
  readonly securityMirror: string;
  /** When the Debian packages were fetched (ISO 8601), for people reading the file. */
  readonly fetchedAt: string;
  readonly kernel: KernelRecord;
  /** trixie's opensbi: `fw_dynamic.bin` for the generic platform. */
  readonly opensbi: PackageRecord;
  /** trixie's busybox-static, riscv64. */
  readonly busybox: PackageRecord;
  readonly disk?: FileRecord;
  readonly initramfs: Readonly<Record<string, BuiltRecord>>;
}

/** The manifest in `dir`, or undefined if there is none or it is of another format. */
export function readManifest(dir: string): GuestManifest | undefined {
  try {
    const m = JSON.parse(readFileSync(join(dir, MANIFEST_NAME), 'utf8')) as Partial<GuestManifest>;
    if (m.format !== MANIFEST_FORMAT || !m.kernel || !m.opensbi || !m.busybox) return undefined;
    return { initramfs: {}, ...m } as GuestManifest;
  } catch {
    return undefined;
  }
}

export function writeManifest(dir: string, m: GuestManifest): void {
  putFile(dir, MANIFEST_NAME, Buffer.from(`${JSON.stringify(m, null, 2)}\n`));
}
