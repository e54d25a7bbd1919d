/**
 * Entropy sources (QEMU's `-object rng-builtin` and `rng-random`).
 *
 * The built-in source is the host's CSPRNG, or, when the machine runs seeded, a ChaCha20
 * keystream (Node's own cipher, keyed by a hash of the seed and the source's id): the same
 * bytes on every run, whatever sizes the guest reads them in, since a keystream depends only
 * on how much of it was consumed. Deterministic mode seeds it (with `-seed`, default 0), so a
 * deterministic run is byte-identical; real-time mode uses the host's randomness.
 *
 * `rng-random` reads a file (`filename=`, QEMU's default `/dev/urandom`); a regular file runs
 * dry at its end, and `fill` then returns fewer bytes.
 */
import { createCipheriv, createHash, randomFillSync } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { EmuhostError, type EntropySource } from '@emuhost/sdk';

/** A `-object rng-*` as the user gave it. */
export interface RngSpec {
  readonly id: string;
  readonly kind: 'rng-builtin' | 'rng-random';
  /** rng-random's `filename=`; default `/dev/urandom`. */
  readonly filename?: string;
}

/** The id of the machine's default source (what virtio-rng uses without `rng=`). */
export const BUILTIN_RNG = 'builtin';

/** rng-builtin: the host's CSPRNG, or a seeded ChaCha20 keystream. */
export function builtinEntropy(id: string, seed: number | undefined): EntropySource {
  if (seed === undefined)
    return Object.freeze({
      id,
      fill: (into: Uint8Array) => {
        randomFillSync(into);
        return into.length;
      },
    });
  return new SeededEntropy(id, seed);
}

/**
 * A seeded ChaCha20 keystream whose position (bytes consumed) is saved in snapshots: `seek`
 * starts the cipher at the 64-byte block holding it (ChaCha20's counter is the first word of
 * Node's 16-byte IV) and drops the bytes before it in that block.
 */
export class SeededEntropy implements EntropySource {
  private readonly key: Buffer;
  private stream: ReturnType<typeof createCipheriv>;
  /** Bytes of the keystream consumed so far. */
  position = 0;

  constructor(
    readonly id: string,
    seed: number,
  ) {
    this.key = createHash('sha256').update(`emuhost rng-builtin ${seed} ${id}`).digest();
    this.stream = createCipheriv('chacha20', this.key, Buffer.alloc(16));
  }

  fill(into: Uint8Array): number {
    into.set(this.stream.update(new Uint8Array(into.length)));
    this.position += into.length;
    return into.length;
  }

  seek(position: number): void {
    const iv = Buffer.alloc(16);
    iv.writeUInt32LE(Math.floor(position / 64), 0);
    this.stream = createCipheriv('chacha20', this.key, iv);
    this.stream.update(new Uint8Array(position % 64));
    this.position = position;
  }
}

/** rng-random: bytes read from a file, opened now and kept open until `close`. */
export class FileEntropy implements EntropySource {
  private fd: number | null;

  constructor(
    readonly id: string,
    readonly filename = '/dev/urandom',
  ) {
    try {
      this.fd = openSync(filename, 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? String(e);
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `-object rng-random,id=${id}: Could not open '${filename}': ${code}`,
      );
    }
  }

  fill(into: Uint8Array): number {
    if (this.fd === null) return 0;
    let done = 0;
    try {
      while (done < into.length) {
        const n = readSync(this.fd, into, done, into.length - done, null);
        if (n === 0) break;
        done += n;
      }
    } catch {
      // A read error ends this fill with what it had.
    }
    return done;
  }

  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    try {
      closeSync(fd);
    } catch {
      // Already gone.
    }
  }
}
