/**
 * The MSI-X capability (PCI Local Bus spec 6.8.2), laid out as QEMU's msix_init_exclusive_bar
 * does: a 12-byte capability in config space, and a BAR of its own holding the vector table
 * (16 bytes per vector: address low, address high, data, vector control) at 0 and the
 * pending-bit array after it.
 *
 * A vector fires as a 4-byte little-endian write of its data to its address through the
 * function's DMA context, so COMMAND.MASTER and any IOMMU apply, as for MSI. While the
 * function mask or the vector's mask bit is set, a notification only sets the vector's
 * pending bit; unmasking a pending vector sends it then and clears the bit (msix_handle_mask_update).
 */
import { type DmaResult, EmuhostError, iova } from '@emuhost/sdk';
import type { DmaContextImpl } from '../dma/dma-context.js';
import type { MemorySystem } from '../memory/memory-system.js';
import type { MemoryRegion } from '../memory/region.js';
import type { PciConfigSpace } from './config-space.js';

const CAP_ID_MSIX = 0x11;
const CAP_SIZE = 12;
const ENTRY_SIZE = 16;
const CTRL = { TABLE_SIZE: 0x07ff, FUNCTION_MASK: 0x4000, ENABLE: 0x8000 } as const;
const VECTOR_MASKED = 1;
/** The most vectors a table can have (an 11-bit table size). */
export const MSIX_MAX_VECTORS = 2048;

/** Where the table and PBA sit in their exclusive BAR, and its size (QEMU's formula). */
export function msixBarLayout(vectors: number): { size: number; pbaOffset: number } {
  let size = 4096;
  let pbaOffset = size / 2;
  const pbaSize = Math.ceil(vectors / 64) * 8;
  if (vectors * ENTRY_SIZE > pbaOffset) pbaOffset = vectors * ENTRY_SIZE;
  if (pbaOffset + pbaSize > 4096) size = pbaOffset + pbaSize;
  return { size: 2 ** Math.ceil(Math.log2(size)), pbaOffset };
}

export class MsixCapability {
  readonly offset: number;
  readonly vectors: number;
  /** The exclusive BAR's region (table, then PBA); the function registers it as a BAR. */
  readonly region: MemoryRegion;
  readonly barSize: number;
  private readonly table: DataView;
  private readonly pba: Uint8Array;
  private readonly pbaOffset: number;

  constructor(
    private readonly config: PciConfigSpace,
    private readonly dma: DmaContextImpl,
    ms: MemorySystem,
    name: string,
    vectors: number,
    bar: number,
    /** Called when MSI-X becomes enabled: the device's INTx goes low (QEMU deasserts it). */
    private readonly onEnable: () => void,
  ) {
    if (!Number.isInteger(vectors) || vectors < 1 || vectors > MSIX_MAX_VECTORS)
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `MSI-X vectors must be 1..${MSIX_MAX_VECTORS}, not ${vectors}`,
      );
    if (!Number.isInteger(bar) || bar < 0 || bar > 5)
      throw new EmuhostError('E_BAD_ARGUMENT', `MSI-X BAR must be 0..5, not ${bar}`);
    this.vectors = vectors;
    const layout = msixBarLayout(vectors);
    this.barSize = layout.size;
    this.pbaOffset = layout.pbaOffset;
    this.table = new DataView(new ArrayBuffer(vectors * ENTRY_SIZE));
    this.pba = new Uint8Array(Math.ceil(vectors / 64) * 8);
    const o = config.addCapability(CAP_ID_MSIX, CAP_SIZE);
    this.offset = o;
    config.set16(o + 2, vectors - 1);
    config.set32(o + 4, bar);
    config.set32(o + 8, layout.pbaOffset | bar);
    // Only Function Mask and MSI-X Enable are the guest's to write.
    config.wmask[o + 3] = (CTRL.FUNCTION_MASK | CTRL.ENABLE) >> 8;
    this.resetTable();
    this.region = ms.createMmio(
      `${name}.msix`,
      this.barSize,
      {
        read: (off) => this.read(off),
        write: (off, _size, value) => {
          this.write(off, Number(value) >>> 0);
          return undefined;
        },
      },
      { valid: { min: 4, max: 8 }, impl: { min: 4, max: 4 }, endianness: 'little' },
    );
  }

  private get control(): number {
    return this.config.get16(this.offset + 2);
  }

  get enabled(): boolean {
    return (this.control & CTRL.ENABLE) !== 0;
  }

  get functionMasked(): boolean {
    return (this.control & CTRL.FUNCTION_MASK) !== 0;
  }

  /** Whether `v` is masked now: its own bit or the function mask (or MSI-X disabled). */
  masked(v: number): boolean {
    if (!this.enabled || this.functionMasked) return true;
    return (
      v < this.vectors && (this.table.getUint32(v * ENTRY_SIZE + 12, true) & VECTOR_MASKED) !== 0
    );
  }

  pending(v: number): boolean {
    return ((this.pba[v >> 3]! >> (v & 7)) & 1) === 1;
  }

  /**
   * msix_notify: sends vector `v`, or marks it pending while masked. Returns the write's
   * result when a message went out, undefined otherwise.
   */
  notify(v: number): DmaResult | undefined {
    if (!this.enabled || !Number.isInteger(v) || v < 0 || v >= this.vectors) return undefined;
    if (this.masked(v)) {
      this.setPending(v, true);
      return undefined;
    }
    return this.send(v);
  }

  /** The config space's control word may have changed: deliver what an unmask released. */
  configWritten(offset: number, size: number): void {
    const o = this.offset + 2;
    if (offset > o + 1 || offset + size <= o) return;
    if (this.enabled && !this.functionMasked) this.onEnable();
    this.flushPending();
  }

  /** msix_reset: disabled, function unmasked, every vector masked with no message, nothing pending. */
  reset(): void {
    this.config.set16(this.offset + 2, this.control & ~(CTRL.ENABLE | CTRL.FUNCTION_MASK));
    this.resetTable();
  }

  /** The table and PBA as plain data (guest-visible registers: a device saves them). */
  save(): { table: Uint8Array; pba: Uint8Array } {
    return { table: new Uint8Array(this.table.buffer.slice(0)), pba: this.pba.slice() };
  }

  /** Restores what `save` returned; a table of another size is refused (E_BAD_ARGUMENT). */
  restore(s: { table: Uint8Array; pba: Uint8Array }): void {
    if (s.table.length !== this.table.byteLength || s.pba.length !== this.pba.length)
      throw new EmuhostError('E_BAD_ARGUMENT', 'MSI-X state of another table size');
    new Uint8Array(this.table.buffer).set(s.table);
    this.pba.set(s.pba);
  }

  private resetTable(): void {
    new Uint8Array(this.table.buffer).fill(0);
    for (let v = 0; v < this.vectors; v++)
      this.table.setUint32(v * ENTRY_SIZE + 12, VECTOR_MASKED, true);
    this.pba.fill(0);
  }

  private read(off: number): number {
    if (off < this.vectors * ENTRY_SIZE) return this.table.getUint32(off & ~3, true);
    const p = off - this.pbaOffset;
    if (p >= 0 && p + 4 <= this.pba.length)
      return (
        (this.pba[p]! |
          (this.pba[p + 1]! << 8) |
          (this.pba[p + 2]! << 16) |
          (this.pba[p + 3]! << 24)) >>>
        0
      );
    return 0;
  }

  private write(off: number, value: number): void {
    // The PBA is read-only; writes past the table are dropped.
    if (off >= this.vectors * ENTRY_SIZE) return;
    const v = Math.floor(off / ENTRY_SIZE);
    const wasMasked = this.masked(v);
    this.table.setUint32(off & ~3, value, true);
    if (wasMasked && !this.masked(v) && this.pending(v)) {
      this.setPending(v, false);
      this.send(v);
    }
  }

  private flushPending(): void {
    for (let v = 0; v < this.vectors; v++) {
      if (this.pending(v) && !this.masked(v)) {
        this.setPending(v, false);
        this.send(v);
      }
    }
  }

  private setPending(v: number, on: boolean): void {
    const bit = 1 << (v & 7);
    this.pba[v >> 3] = on ? this.pba[v >> 3]! | bit : this.pba[v >> 3]! & ~bit;
  }

  private send(v: number): DmaResult {
    const e = v * ENTRY_SIZE;
    const addr = this.table.getUint32(e + 4, true) * 2 ** 32 + this.table.getUint32(e, true);
    return this.dma.writeU32LE(iova(addr), this.table.getUint32(e + 8, true));
  }
}
