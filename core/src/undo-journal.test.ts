import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UndoJournal } from './undo-journal.js';

/** The index of the first byte that differs, or -1. */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

describe('UndoJournal', () => {
  it('after any sequence of saved writes (overlapping, growing the arena), rollback restores the bytes', () => {
    const j = new UndoJournal();
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            buf: fc.integer({ min: 0, max: 1 }),
            off: fc.integer({ min: 0, max: 0x3000 }),
            len: fc.integer({ min: 1, max: 0x1000 }),
            byte: fc.integer({ min: 0, max: 255 }),
          }),
          { maxLength: 40 },
        ),
        (writes) => {
          const bufs = [new Uint8Array(0x4000), new Uint8Array(0x4000)];
          for (const b of bufs) for (let i = 0; i < b.length; i++) b[i] = (i * 31) & 0xff;
          const before = bufs.map((b) => b.slice());
          for (const w of writes) {
            j.save(bufs[w.buf]!, w.off, w.len);
            bufs[w.buf]!.fill(w.byte, w.off, w.off + w.len);
          }
          expect(j.length).toBe(writes.length);
          j.rollback();
          expect(j.length).toBe(0);
          // A byte loop, not toEqual: a deep equality of 32 KiB per run is what made this
          // test take seconds on a loaded machine.
          for (let b = 0; b < bufs.length; b++) {
            const at = firstDifference(bufs[b]!, before[b]!);
            if (at >= 0) expect.fail(`buffer ${b} byte 0x${at.toString(16)} was not restored`);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('clear forgets: a later rollback restores nothing from before it', () => {
    const j = new UndoJournal();
    const b = new Uint8Array(8);
    j.save(b, 0, 4);
    b.fill(7, 0, 4);
    j.clear();
    j.rollback();
    expect([...b.subarray(0, 4)]).toEqual([7, 7, 7, 7]);
  });
});
