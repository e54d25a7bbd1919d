import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { checkRiscvImage } from './riscv-image.js';

/** The first 64 bytes of Debian's 7.2.13+deb14 riscv64 vmlinuz ("MZ", then the RISC-V header). */
const DEBIAN_7_2_13 = Buffer.from(
  '4d5a6f10e00f0100000020000000000000003a020000000000000000000000000200000000000000000000000000000052495343560000005253430540000000',
  'hex',
);

describe('checkRiscvImage', () => {
  it("reads Debian's Image header", () => {
    const r = checkRiscvImage(DEBIAN_7_2_13);
    expect(r).toEqual({
      ok: true,
      header: {
        textOffset: 0x200000n,
        imageSize: 0x23a0000n,
        flags: 0n,
        version: '0.2',
        peOffset: 0x40,
      },
    });
  });

  it('says clearly what is wrong with something else', () => {
    const elf = Buffer.alloc(64);
    elf.write('\x7fELF', 0, 'latin1');
    const r = checkRiscvImage(elf);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.why).toBe(
      'not a RISC-V Image: bytes at 0x38 are 00 00 00 00, not "RSC\\x05" (52 53 43 05)',
    );
    const gz = checkRiscvImage(
      Buffer.concat([gzipSync(Buffer.alloc(4096)), Buffer.alloc(64)]).subarray(0, 64),
    );
    expect(!gz.ok && gz.why).toMatch(/gzip-compressed/);
    expect(checkRiscvImage(DEBIAN_7_2_13.subarray(0, 60))).toEqual({
      ok: false,
      why: '60 bytes is shorter than the 64-byte RISC-V Image header',
    });
  });
});
