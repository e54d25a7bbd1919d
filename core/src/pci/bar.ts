/**
 * A PCI base address register: its kind and size, the region it decodes to, and where (if
 * anywhere) that region is mapped now. Sizing works as on hardware: the writable bits are
 * `~(size - 1)`, so writing all-ones reads back the size mask with the type flags.
 */
import { EmuhostError, type PciBarSpec } from '@emuhost/sdk';
import { isPowerOfTwo } from '../bits.js';
import type { MemoryRegion } from '../memory/region.js';

export const BAR_UNMAPPED = -1;

export class PciBar {
  /** The type bits in the BAR's low nibble (I/O bit, 64-bit type, prefetchable). */
  readonly flags: number;
  /** Where the region is mapped now, or BAR_UNMAPPED. */
  mappedAt = BAR_UNMAPPED;

  constructor(
    readonly index: number,
    readonly spec: PciBarSpec,
    readonly region: MemoryRegion,
  ) {
    const { kind, size } = spec;
    const min = kind === 'memory' ? 16 : 4;
    if (!isPowerOfTwo(size) || size < min) {
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `BAR${index} size must be a power of two >= ${min}, not ${size}`,
      );
    }
    if (kind === 'io' && (spec.is64 || size > 0x10000)) {
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `BAR${index}: an I/O BAR is 32-bit and at most 64 KiB`,
      );
    }
    if (!spec.is64 && size > 2 ** 31) {
      throw new EmuhostError('E_BAD_ARGUMENT', `BAR${index}: a 32-bit BAR is at most 2 GiB`);
    }
    this.flags = kind === 'io' ? 1 : (spec.is64 ? 0x4 : 0) | (spec.prefetchable ? 0x8 : 0);
  }

  get is64(): boolean {
    return this.spec.is64 === true;
  }

  /** The writable-bit masks of the BAR's low and (for 64-bit) high dword. */
  masks(): [lo: number, hi: number] {
    const size = this.spec.size;
    const lo = size >= 2 ** 32 ? 0 : ~(size - 1) >>> 0;
    const hi = size > 2 ** 32 ? ~(size / 2 ** 32 - 1) >>> 0 : 0xffffffff;
    return [lo & ((this.spec.kind === 'io' ? ~3 : ~0xf) >>> 0), hi];
  }
}
