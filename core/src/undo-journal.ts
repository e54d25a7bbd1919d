/**
 * The undo journal of one device's current callback: the guest RAM its DMA is about to
 * overwrite, kept so that a callback that throws leaves guest memory as it was.
 *
 * The old bytes go into one arena that is reused from callback to callback. Copying 4 KiB
 * into a fresh array per write cost ~800 ns (a new ArrayBuffer backing store each time),
 * twenty times the write itself; an arena copy costs about what the write does.
 */

/** An arena bigger than this is dropped when the journal is emptied. */
const KEEP_ARENA = 1 << 20;

export class UndoJournal {
  /** How many writes are recorded. */
  length = 0;
  private targets: Uint8Array[] = [];
  private offsets: number[] = [];
  private sizes: number[] = [];
  private starts: number[] = [];
  private arena = new Uint8Array(4096);
  private used = 0;

  /** Keeps `bytes[offset, offset + n)` as it is now. */
  save(bytes: Uint8Array, offset: number, n: number): void {
    if (this.used + n > this.arena.length) {
      let size = this.arena.length * 2;
      while (size < this.used + n) size *= 2;
      const bigger = new Uint8Array(size);
      bigger.set(this.arena.subarray(0, this.used));
      this.arena = bigger;
    }
    this.arena.set(bytes.subarray(offset, offset + n), this.used);
    const i = this.length++;
    this.targets[i] = bytes;
    this.offsets[i] = offset;
    this.sizes[i] = n;
    this.starts[i] = this.used;
    this.used += n;
  }

  /** Puts back everything recorded, newest first, then empties the journal. */
  rollback(): void {
    for (let i = this.length - 1; i >= 0; i--) {
      const s = this.starts[i]!;
      this.targets[i]!.set(this.arena.subarray(s, s + this.sizes[i]!), this.offsets[i]!);
    }
    this.clear();
  }

  /** Forgets everything recorded (the callback returned). */
  clear(): void {
    this.length = 0;
    this.used = 0;
    this.targets.length = 0;
    if (this.arena.length > KEEP_ARENA) this.arena = new Uint8Array(4096);
  }
}
