/** The register file: aliasing of f and fw, the x argument's check, boxing helpers. */
import { EmuhostError } from '@emuhost/sdk';
import { describe, expect, it } from 'vitest';
import { createFpRegs, readS, writeS } from './regs.js';

describe('createFpRegs', () => {
  it('aliases f and fw, low word first', () => {
    const r = createFpRegs(new Int32Array(64));
    r.f[3] = 1;
    expect([r.fw[6], r.fw[7]]).toEqual([0, 0x3ff00000]);
    expect(r.fflags).toBe(0);
  });
  it('rejects an integer file of the wrong size', () => {
    expect(() => createFpRegs(new Int32Array(32))).toThrow(EmuhostError);
    try {
      createFpRegs(new Int32Array(32));
    } catch (e) {
      expect((e as EmuhostError).code).toBe('E_BAD_ARGUMENT');
    }
  });
  it('reads a binary32 only when boxed', () => {
    const r = createFpRegs(new Int32Array(64));
    writeS(r, 1, 0x3f800000);
    expect(readS(r, 1)).toBe(0x3f800000);
    r.fw[3] = 0x7fffffff;
    expect(readS(r, 1)).toBe(0x7fc00000);
  });
});
