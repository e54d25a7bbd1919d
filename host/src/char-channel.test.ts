import type { CharFrontend } from '@emuhost/sdk';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CharChannel } from './char-channel.js';

/** A device with a FIFO of `size` bytes that the test drains by hand (the guest reading it). */
class Fifo implements CharFrontend {
  readonly bytes: number[] = [];
  constructor(private readonly size: number) {}
  canReceive(): number {
    return this.size - this.bytes.length;
  }
  receive(b: Uint8Array): void {
    if (b.length > this.canReceive()) throw new Error('overrun');
    this.bytes.push(...b);
  }
}

describe('CharChannel', () => {
  it('writes output through and delivers input as the device has room, in order', () => {
    const out: number[] = [];
    const deferred: (() => void)[] = [];
    let wakes = 0;
    const ch = new CharChannel({
      output: (b) => out.push(...b),
      onInput: () => wakes++,
      defer: (fn) => deferred.push(fn),
    });
    const dev = new Fifo(4);
    ch.connect(dev);
    ch.write(new Uint8Array([65, 66]));
    expect(out).toEqual([65, 66]);
    ch.input(new Uint8Array([1, 2, 3, 4, 5, 6]));
    expect(dev.bytes).toEqual([1, 2, 3, 4]);
    expect(ch.pendingInput).toBe(2);
    expect(wakes).toBe(1);
    // The guest reads two bytes and the device says it has room, from its own callback:
    // nothing is delivered until that callback is over.
    dev.bytes.splice(0, 2);
    ch.ready();
    ch.ready();
    expect(dev.bytes).toEqual([3, 4]);
    expect(deferred).toHaveLength(1);
    deferred.shift()!();
    expect(dev.bytes).toEqual([3, 4, 5, 6]);
    expect(ch.pendingInput).toBe(0);
  });

  it('keeps input that arrives before a device connects', () => {
    const deferred: (() => void)[] = [];
    const ch = new CharChannel({ output: () => {}, defer: (fn) => deferred.push(fn) });
    ch.input(new Uint8Array([9, 8]));
    const dev = new Fifo(16);
    ch.connect(dev);
    deferred.shift()!();
    expect(dev.bytes).toEqual([9, 8]);
  });

  it('drops input past its limit and counts it', () => {
    const ch = new CharChannel({ output: () => {}, maxPending: 3 });
    ch.input(new Uint8Array([1, 2, 3, 4, 5]));
    expect(ch.pendingInput).toBe(3);
    expect(ch.dropped).toBe(2);
  });

  it('delivers every byte exactly once and in order, whatever the chunks and the FIFO size', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 20 }), { maxLength: 20 }),
        fc.integer({ min: 1, max: 16 }),
        fc.array(fc.integer({ min: 0, max: 16 }), { maxLength: 60 }),
        (chunks, size, reads) => {
          const deferred: (() => void)[] = [];
          const ch = new CharChannel({ output: () => {}, defer: (fn) => deferred.push(fn) });
          const dev = new Fifo(size);
          ch.connect(dev);
          const got: number[] = [];
          let r = 0;
          for (const c of chunks) {
            ch.input(c);
            const n = reads[r++ % Math.max(1, reads.length)] ?? 1;
            got.push(...dev.bytes.splice(0, n));
            ch.ready();
            while (deferred.length > 0) deferred.shift()!();
          }
          for (;;) {
            got.push(...dev.bytes.splice(0));
            ch.ready();
            if (deferred.length === 0) break;
            while (deferred.length > 0) deferred.shift()!();
          }
          expect(got).toEqual(chunks.flatMap((c) => [...c]));
        },
      ),
    );
  });
});
