/**
 * The MSI capability (PCI Local Bus spec 6.8.1), laid out as QEMU's msi_init does: one or
 * more vectors, 32- or 64-bit message address, optional per-vector masking.
 *
 * A message is a 4-byte little-endian write of `data | vector` to the programmed address,
 * made through the function's DMA context, so COMMAND.MASTER and any IOMMU apply to it.
 */
import { type DmaResult, EmuhostError, iova, type MsiSpec as SdkMsiSpec } from '@emuhost/sdk';
import type { DmaContextImpl } from '../dma/dma-context.js';
import type { PciConfigSpace } from './config-space.js';

const CAP_ID_MSI = 0x05;
const FLAGS = { ENABLE: 0x1, QMASK: 0x0e, QSIZE: 0x70, ADDR64: 0x80, MASKBIT: 0x100 } as const;

/** The SDK's MSI shape, plus where in config space the kernel may put it. */
export interface MsiSpec extends SdkMsiSpec {
  /** Offset in config space; default: first free space. */
  readonly offset?: number;
}

export class MsiCapability {
  readonly offset: number;
  private readonly addr64: boolean;
  private readonly maskBit: boolean;

  constructor(
    private readonly config: PciConfigSpace,
    private readonly dma: DmaContextImpl,
    spec: MsiSpec = {},
  ) {
    const vectors = spec.vectors ?? 1;
    const log2 = Math.log2(vectors);
    if (!Number.isInteger(log2) || log2 < 0 || log2 > 5) {
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `MSI vectors must be 1, 2, 4, 8, 16 or 32, not ${vectors}`,
      );
    }
    this.addr64 = spec.addr64 ?? true;
    this.maskBit = spec.perVectorMask ?? false;
    const size = this.maskBit ? (this.addr64 ? 0x18 : 0x14) : this.addr64 ? 0x0e : 0x0a;
    const o = config.addCapability(CAP_ID_MSI, size, spec.offset);
    this.offset = o;
    config.set16(
      o + 2,
      (log2 << 1) | (this.addr64 ? FLAGS.ADDR64 : 0) | (this.maskBit ? FLAGS.MASKBIT : 0),
    );
    const w = config.wmask;
    w[o + 2] = FLAGS.ENABLE | FLAGS.QSIZE;
    w.fill(0xff, o + 4, o + 8);
    w[o + 4]! &= 0xfc;
    if (this.addr64) w.fill(0xff, o + 8, o + 12);
    const data = o + (this.addr64 ? 0x0c : 0x08);
    w.fill(0xff, data, data + 2);
    if (this.maskBit) w.fill(0xff, data + 4, data + 4 + 4);
  }

  get enabled(): boolean {
    return (this.config.get16(this.offset + 2) & FLAGS.ENABLE) !== 0;
  }

  /** Vectors the guest enabled (Multiple Message Enable). */
  get enabledVectors(): number {
    return 1 << ((this.config.get16(this.offset + 2) & FLAGS.QSIZE) >> 4);
  }

  /**
   * Sends vector `v` (msi_notify). Returns the DMA result, or undefined when MSI is disabled
   * or the vector is masked (nothing is sent).
   */
  notify(v = 0): DmaResult | undefined {
    if (!this.enabled || v >= this.enabledVectors) return undefined;
    const o = this.offset;
    if (this.maskBit && (this.config.get32(o + (this.addr64 ? 0x10 : 0x0c)) >>> v) & 1)
      return undefined;
    const lo = this.config.get32(o + 4);
    const hi = this.addr64 ? this.config.get32(o + 8) : 0;
    const data = this.config.get16(o + (this.addr64 ? 0x0c : 0x08));
    const nvec = this.enabledVectors;
    const value = (data & ~(nvec - 1)) | v;
    return this.dma.writeU32LE(iova(hi * 2 ** 32 + lo), value);
  }

  /** msi_reset: disables MSI and clears the programmed message. */
  reset(): void {
    const o = this.offset;
    this.config.set16(o + 2, this.config.get16(o + 2) & ~(FLAGS.ENABLE | FLAGS.QSIZE));
    this.config.bytes.fill(0, o + 4, o + (this.addr64 ? 0x0e : 0x0a));
  }
}
