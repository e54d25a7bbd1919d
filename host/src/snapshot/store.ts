/**
 * Tagged snapshots in a directory (`-snapshot-dir DIR`): QEMU's `savevm TAG`, `loadvm TAG`,
 * `delvm TAG` and `info snapshots`, one file per tag (`TAG.emusnap`). Files are written to a
 * temporary name and renamed, so that a crash mid-save never leaves half a snapshot under a tag.
 */
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Emulator } from '../emulator.js';
import { captureSnapshot } from './capture.js';
import { SnapshotError } from './errors.js';
import { type RestoreReport, readSnapshotMeta, restoreSnapshot } from './restore.js';

const EXT = '.emusnap';

/** One line of `info snapshots`. */
export interface SnapshotListing {
  readonly tag: string;
  readonly bytes: number;
  readonly savedAt: string;
  readonly virtualNs: number;
}

/** Writes `bytes` to `file` through a temporary file and a rename. */
export function writeSnapshotFile(file: string, bytes: Uint8Array): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new SnapshotError('io', `cannot write ${file}: ${(e as Error).message}`);
  }
}

export function readSnapshotFile(file: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(file));
  } catch (e) {
    throw new SnapshotError('io', `cannot read ${file}: ${(e as Error).message}`);
  }
}

export class SnapshotStore {
  constructor(readonly dir: string) {}

  private file(tag: string): string {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(tag))
      throw new SnapshotError('io', `'${tag}' is not a snapshot tag (letters, digits, . _ -)`);
    return join(this.dir, `${tag}${EXT}`);
  }

  /** `savevm [TAG]`: returns the tag (a dated one when none is given). */
  save(emu: Emulator, tag?: string): string {
    const t =
      tag ??
      `vm-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-')}`;
    const file = this.file(t);
    mkdirSync(this.dir, { recursive: true });
    writeSnapshotFile(file, captureSnapshot(emu, { tag: t }));
    return t;
  }

  /** `loadvm TAG`. */
  load(emu: Emulator, tag: string): RestoreReport {
    const file = this.file(tag);
    if (!this.has(tag)) throw new SnapshotError('io', `no snapshot '${tag}' in ${this.dir}`);
    return restoreSnapshot(emu, readSnapshotFile(file));
  }

  has(tag: string): boolean {
    try {
      return statSync(this.file(tag)).isFile();
    } catch {
      return false;
    }
  }

  /** `delvm TAG`. */
  delete(tag: string): void {
    if (!this.has(tag)) throw new SnapshotError('io', `no snapshot '${tag}' in ${this.dir}`);
    rmSync(this.file(tag));
  }

  /** `info snapshots`: every tag, oldest first; a file that does not read is listed as such. */
  list(): SnapshotListing[] {
    let names: string[];
    try {
      names = readdirSync(this.dir).filter((n) => n.endsWith(EXT));
    } catch {
      return [];
    }
    const out: SnapshotListing[] = [];
    for (const n of names) {
      const file = join(this.dir, n);
      const bytes = statSync(file).size;
      try {
        const meta = readSnapshotMeta(readSnapshotFile(file));
        out.push({
          tag: n.slice(0, -EXT.length),
          bytes,
          savedAt: meta.savedAt,
          virtualNs: meta.virtualNs,
        });
      } catch (e) {
        out.push({
          tag: n.slice(0, -EXT.length),
          bytes,
          savedAt: `(unreadable: ${(e as Error).message})`,
          virtualNs: 0,
        });
      }
    }
    return out.sort((a, b) => a.savedAt.localeCompare(b.savedAt));
  }
}

/** `info snapshots` as QEMU prints it, roughly: one line per tag. */
export function formatSnapshotList(list: readonly SnapshotListing[]): string {
  if (list.length === 0) return 'There is no snapshot available.';
  const rows = list.map(
    (s) =>
      `${s.tag.padEnd(20)} ${`${(s.bytes / 2 ** 20).toFixed(1)} MiB`.padStart(10)}  ${s.savedAt.padEnd(24)} ${(s.virtualNs / 1e9).toFixed(6)} s`,
  );
  return [
    `${'TAG'.padEnd(20)} ${'SIZE'.padStart(10)}  ${'DATE'.padEnd(24)} VM CLOCK`,
    ...rows,
  ].join('\n');
}
