/**
 * QEMU's `null-co://` block driver (`-drive file=null-co://,file.read-zeroes=on,...`): a drive
 * of `size` bytes (QEMU's default 1 GiB) that stores nothing. Reads give zeroes (QEMU leaves
 * them undefined unless `read-zeroes=on`; zeroes are one of its answers), writes and flushes
 * succeed. What QEMU's own tests use as a second disk.
 */
import type { BlockBackend, BlockResult } from '@emuhost/sdk';

export const NULL_CO = 'null-co://';

export class NullBlockBackend implements BlockBackend {
  readonly readOnly: boolean;
  readonly discard = 'ignore' as const;
  /** Flushes so far (there is nothing to sync). */
  syncs = 0;
  private resized: (() => void) | undefined;

  constructor(
    readonly id: string,
    public size = 1 << 30,
    readOnly = false,
  ) {
    this.readOnly = readOnly;
  }

  read(offset: number, into: Uint8Array): BlockResult {
    if (!this.inside(offset, into.length)) return 'out-of-range';
    into.fill(0);
    return 'ok';
  }

  write(offset: number, data: Uint8Array): BlockResult {
    if (!this.inside(offset, data.length)) return 'out-of-range';
    return this.readOnly ? 'read-only' : 'ok';
  }

  flush(): BlockResult {
    this.syncs++;
    return 'ok';
  }

  discardRange(offset: number, len: number): BlockResult {
    if (!this.inside(offset, len)) return 'out-of-range';
    return this.readOnly ? 'read-only' : 'ok';
  }

  onResize(callback: () => void): void {
    this.resized = callback;
  }

  resize(size: number): void {
    this.size = size;
    this.resized?.();
  }

  close(): void {}

  private inside(offset: number, len: number): boolean {
    return (
      Number.isSafeInteger(offset) &&
      Number.isSafeInteger(len) &&
      offset >= 0 &&
      len >= 0 &&
      offset + len <= this.size
    );
  }
}
