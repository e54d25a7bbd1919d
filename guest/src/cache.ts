/**
 * The guest cache directory, outside the repository: where it is, how files get into it
 * (whole or not at all), and one fetch at a time.
 *
 * A file is written under a temporary name in its own directory and renamed into place, so
 * an interrupted run leaves a stray `*.tmp-*` file, never a half file under a name a later
 * run trusts. The manifest is written last, the same way.
 */
import { createHash } from 'node:crypto';
import {
  type Dirent,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { EmuhostError } from '@emuhost/sdk';

/** `$EMUHOST_GUEST_DIR`, else `$XDG_CACHE_HOME/emuhost-guest`, else `~/.cache/emuhost-guest`. */
export function guestDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.EMUHOST_GUEST_DIR) return env.EMUHOST_GUEST_DIR;
  const cache = env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache');
  return join(cache, 'emuhost-guest');
}

/** A file in the cache: where (relative to the cache directory), how big, its sha256 (hex). */
export interface FileRecord {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Writes `data` to `dir/rel` whole or not at all; returns its record. */
export function putFile(dir: string, rel: string, data: Uint8Array): FileRecord {
  const path = join(dir, rel);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${Date.now()}`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
  }
  return { path: rel, size: data.length, sha256: sha256(data) };
}

/**
 * Whether the record's file is there with its size; with `verify`, also its sha256. Size is
 * enough against interruptions (files arrive whole); the hash is for a damaged disk.
 */
export function fileIntact(dir: string, rec: FileRecord, verify: boolean): boolean {
  const path = join(dir, rec.path);
  try {
    if (statSync(path).size !== rec.size) return false;
    return !verify || sha256(readFileSync(path)) === rec.sha256;
  } catch {
    return false;
  }
}

/**
 * Removes leftovers of interrupted runs under `dir`: files being written (`.*.tmp-*`, at any
 * depth), and at the top the scratch (`work-*`) and apt state of a fetch. Call it holding the
 * lock: no other run can be using them then.
 */
export function sweepTemporaries(dir: string, top = true): void {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const path = join(dir, e.name);
    if (top && e.isDirectory() && (e.name === 'apt' || /^work-/.test(e.name))) {
      rmSync(path, { recursive: true, force: true });
    } else if (e.isDirectory()) sweepTemporaries(path, false);
    else if (e.isFile() && /^\..*\.tmp-\d+-\d+$/.test(e.name)) rmSync(path, { force: true });
  }
}

export interface LockOptions {
  /** How long to wait for another run to finish, in milliseconds. */
  readonly waitMs?: number;
  /** Between looks at the lock, in milliseconds. */
  readonly pollMs?: number;
}

/**
 * Runs `fn` holding `dir/.lock` (a directory: mkdir is atomic). A lock whose process is gone
 * is taken over; one still held after `waitMs` is E_GUEST_FETCH naming the holder.
 */
export async function withLock<T>(
  dir: string,
  fn: () => Promise<T>,
  opts: LockOptions = {},
): Promise<T> {
  const lock = join(dir, '.lock');
  const deadline = Date.now() + (opts.waitMs ?? 15 * 60_000);
  mkdirSync(dir, { recursive: true });
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = lockHolder(lock);
      if (holder === 'stale') {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new EmuhostError(
          'E_GUEST_FETCH',
          `${dir} is locked by process ${holder} (another guest:fetch?); remove ${lock} if it is not running`,
        );
      }
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 500));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** The pid holding the lock, or 'stale' if that process is gone. */
function lockHolder(lock: string): number | 'stale' {
  try {
    const pid = Number(readFileSync(join(lock, 'pid'), 'utf8'));
    if (!Number.isInteger(pid) || pid <= 0) return 'stale';
    return alive(pid) ? pid : 'stale';
  } catch {
    // No pid yet: its owner is between mkdir and writing it, unless that was long ago.
    try {
      return Date.now() - statSync(lock).mtimeMs > 10_000 ? 'stale' : 0;
    } catch {
      return 'stale';
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
