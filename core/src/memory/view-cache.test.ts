import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ViewCache } from './view-cache.js';

describe('ViewCache', () => {
  it('always answers the view a fresh Uint8Array(buffer, offset, len) would be', () => {
    const buffers = [new ArrayBuffer(1 << 17), new ArrayBuffer(1 << 17)];
    const cache = new ViewCache();
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            b: fc.integer({ min: 0, max: 1 }),
            // Few distinct offsets and lengths, so that hits, collisions and misses all happen.
            off: fc.constantFrom(0, 8, 4096, 4104, 16 * 4096, 17 * 4096 + 8),
            len: fc.constantFrom(0, 1, 8, 4096),
          }),
          { maxLength: 64 },
        ),
        (ops) => {
          for (const { b, off, len } of ops) {
            const v = cache.view(buffers[b]!, off, len);
            expect(v.buffer).toBe(buffers[b]);
            expect(v.byteOffset).toBe(off);
            expect(v.length).toBe(len);
          }
        },
      ),
    );
  });

  it('hands back the same view for the same key, so a read allocates nothing', () => {
    const b = new ArrayBuffer(8192);
    const cache = new ViewCache();
    expect(cache.view(b, 4096, 64)).toBe(cache.view(b, 4096, 64));
    expect(cache.view(b, 4096, 32)).not.toBe(cache.view(b, 4096, 64));
  });
});
