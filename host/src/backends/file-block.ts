/**
 * A raw disk image as a block backend (`-drive file=disk.img,format=raw,if=none,id=d0`): the
 * host opens the file once, reads and writes it with synchronous positioned I/O (no buffer of
 * ours between the guest and the kernel's page cache), and `flush` is an `fsync`. So a write
 * the guest saw complete is in the host kernel at once, and after a flush it is on disk.
 *
 * Failures are results (`io-error`), never exceptions: a full disk or a failing device is
 * what the guest sees as VIRTIO_BLK_S_IOERR, not a crash of emuhost.
 */
import {
  closeSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readSync,
  writeSync,
} from 'node:fs';
import { type BlockBackend, type BlockResult, EmuhostError } from '@emuhost/sdk';

/** A `-drive` as the user gave it (a machine file's `"drives"` entry). */
export interface DriveSpec {
  /** `id=`: what devices name in `drive=`. */
  readonly id: string;
  /** `file=`: the image's path. */
  readonly file: string;
  /** `format=`: only `raw` (the default here; QEMU would probe). */
  readonly format?: string;
  /** `readonly=on`. */
  readonly readOnly?: boolean;
  /** `discard=ignore|unmap` (QEMU's default: ignore). */
  readonly discard?: 'ignore' | 'unmap';
  /** `null-co://` drives only: their size in bytes (QEMU's `file.size`, default 1 GiB). */
  readonly size?: number;
}

/** The largest chunk one zeroing write uses (a discard with `unmap`). */
const ZERO_CHUNK = 1 << 20;

export class FileBlockBackend implements BlockBackend {
  readonly id: string;
  size: number;
  readonly readOnly: boolean;
  readonly discard: 'ignore' | 'unmap';
  /** How many `flush` calls reached `fsync` (tests check a FLUSH request really syncs). */
  syncs = 0;
  private fd: number | null;
  private resized: (() => void) | undefined;

  /** Opens the image; throws `E_BAD_ARGUMENT` worded as QEMU's "Could not open". */
  constructor(spec: DriveSpec) {
    if (spec.format !== undefined && spec.format !== 'raw')
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `-drive id=${spec.id}: format=${spec.format} is not supported (only format=raw)`,
      );
    this.id = spec.id;
    this.readOnly = spec.readOnly === true;
    this.discard = spec.discard ?? 'ignore';
    try {
      this.fd = openSync(spec.file, this.readOnly ? 'r' : 'r+');
      this.size = fstatSync(this.fd).size;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? String(e);
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `-drive id=${spec.id}: Could not open '${spec.file}': ${code}`,
      );
    }
  }

  read(offset: number, into: Uint8Array): BlockResult {
    const bad = this.check(offset, into.length, false);
    if (bad !== 'ok') return bad;
    try {
      for (let done = 0; done < into.length; ) {
        const n = readSync(this.fd!, into, done, into.length - done, offset + done);
        // The file shrank under us: what is past its end reads as zeroes.
        if (n === 0) {
          into.fill(0, done);
          break;
        }
        done += n;
      }
      return 'ok';
    } catch {
      return 'io-error';
    }
  }

  write(offset: number, data: Uint8Array): BlockResult {
    const bad = this.check(offset, data.length, true);
    if (bad !== 'ok') return bad;
    try {
      for (let done = 0; done < data.length; )
        done += writeSync(this.fd!, data, done, data.length - done, offset + done);
      return 'ok';
    } catch {
      return 'io-error';
    }
  }

  flush(): BlockResult {
    if (this.fd === null) return 'io-error';
    // A read-only image has nothing to make durable: QEMU completes the flush.
    if (this.readOnly) return 'ok';
    try {
      fsyncSync(this.fd);
      this.syncs++;
      return 'ok';
    } catch {
      return 'io-error';
    }
  }

  discardRange(offset: number, len: number): BlockResult {
    const bad = this.check(offset, len, true);
    if (bad !== 'ok' || this.discard === 'ignore') return bad;
    const zeroes = new Uint8Array(Math.min(len, ZERO_CHUNK));
    for (let done = 0; done < len; done += zeroes.length) {
      const r = this.write(offset + done, zeroes.subarray(0, Math.min(zeroes.length, len - done)));
      if (r !== 'ok') return r;
    }
    return 'ok';
  }

  onResize(callback: () => void): void {
    this.resized = callback;
  }

  /**
   * The monitor's `block_resize`: truncates or extends the image to `size` bytes (a multiple
   * of 512, as QEMU requires) and tells the device. Throws `E_BAD_ARGUMENT` for a bad size,
   * a read-only drive or a file that cannot be resized.
   */
  resize(size: number): void {
    if (!Number.isSafeInteger(size) || size < 0 || size % 512 !== 0)
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `block_resize: size ${size} is not a multiple of 512`,
      );
    if (this.readOnly || this.fd === null)
      throw new EmuhostError('E_BAD_ARGUMENT', `block_resize: drive '${this.id}' is read-only`);
    try {
      ftruncateSync(this.fd, size);
    } catch (e) {
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `block_resize: ${this.id}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
      );
    }
    this.size = size;
    this.resized?.();
  }

  /** Closes the file; later requests answer `io-error`. Idempotent. */
  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    try {
      closeSync(fd);
    } catch {
      // Already gone: nothing to release.
    }
  }

  private check(offset: number, len: number, writes: boolean): BlockResult {
    if (this.fd === null) return 'io-error';
    if (
      !Number.isSafeInteger(offset) ||
      !Number.isSafeInteger(len) ||
      offset < 0 ||
      len < 0 ||
      offset + len > this.size
    )
      return 'out-of-range';
    return writes && this.readOnly ? 'read-only' : 'ok';
  }
}
