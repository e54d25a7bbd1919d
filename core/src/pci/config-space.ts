/**
 * A PCI function's type-0 configuration space: the bytes, which bits the guest may write
 * (`wmask`), which it clears by writing 1 (`w1cmask`), and the capability list.
 * Defaults follow QEMU's pci_init_wmask/pci_init_w1cmask: the standard header is read-only
 * except the documented fields, and device-specific space (0x40..0xff) is writable unless a
 * capability claims it.
 */
import { EmuhostError } from '@emuhost/sdk';

/** Standard header offsets. */
export const PCI_CFG = {
  VENDOR_ID: 0x00,
  DEVICE_ID: 0x02,
  COMMAND: 0x04,
  STATUS: 0x06,
  REVISION_ID: 0x08,
  CLASS_PROG: 0x09,
  CLASS_DEVICE: 0x0a,
  CACHE_LINE_SIZE: 0x0c,
  LATENCY_TIMER: 0x0d,
  HEADER_TYPE: 0x0e,
  BAR0: 0x10,
  SUBSYSTEM_VENDOR_ID: 0x2c,
  SUBSYSTEM_ID: 0x2e,
  ROM_ADDRESS: 0x30,
  CAPABILITY_LIST: 0x34,
  INTERRUPT_LINE: 0x3c,
  INTERRUPT_PIN: 0x3d,
} as const;

export const PCI_COMMAND = {
  IO: 0x1,
  MEMORY: 0x2,
  MASTER: 0x4,
  SERR: 0x100,
  INTX_DISABLE: 0x400,
} as const;

export const PCI_STATUS = {
  INTERRUPT: 0x08,
  CAP_LIST: 0x10,
  /** The write-1-to-clear error bits. */
  W1C: 0x0100 | 0x0800 | 0x1000 | 0x2000 | 0x4000 | 0x8000,
} as const;

export const PCI_HEADER_MULTIFUNCTION = 0x80;
export const PCI_CONFIG_SIZE = 256;
const HEADER_SIZE = 0x40;

export class PciConfigSpace {
  readonly bytes = new Uint8Array(PCI_CONFIG_SIZE);
  readonly wmask = new Uint8Array(PCI_CONFIG_SIZE);
  readonly w1cmask = new Uint8Array(PCI_CONFIG_SIZE);
  /** Which bytes of device-specific space a capability occupies. */
  private readonly used = new Uint8Array(PCI_CONFIG_SIZE);

  constructor() {
    this.wmask[PCI_CFG.CACHE_LINE_SIZE] = 0xff;
    this.wmask[PCI_CFG.INTERRUPT_LINE] = 0xff;
    this.setMask16(
      this.wmask,
      PCI_CFG.COMMAND,
      PCI_COMMAND.IO |
        PCI_COMMAND.MEMORY |
        PCI_COMMAND.MASTER |
        PCI_COMMAND.INTX_DISABLE |
        PCI_COMMAND.SERR,
    );
    this.setMask16(this.w1cmask, PCI_CFG.STATUS, PCI_STATUS.W1C);
    this.wmask.fill(0xff, HEADER_SIZE);
  }

  // ---- device side: initial values, bypassing the masks ----------------------------------

  get8(o: number): number {
    return this.bytes[o]!;
  }
  get16(o: number): number {
    return this.bytes[o]! | (this.bytes[o + 1]! << 8);
  }
  get32(o: number): number {
    return (this.get16(o) | (this.get16(o + 2) << 16)) >>> 0;
  }
  set8(o: number, v: number): void {
    this.bytes[o] = v;
  }
  set16(o: number, v: number): void {
    this.bytes[o] = v & 0xff;
    this.bytes[o + 1] = (v >>> 8) & 0xff;
  }
  set32(o: number, v: number): void {
    this.set16(o, v & 0xffff);
    this.set16(o + 2, v >>> 16);
  }

  // ---- guest side --------------------------------------------------------------------------

  /** A guest read of 1, 2 or 4 bytes, little-endian; bytes past the end read as zero. */
  read(offset: number, size: number): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + (this.bytes[offset + i] ?? 0);
    return v;
  }

  /** A guest write: only `wmask` bits change, `w1cmask` bits written as 1 are cleared. */
  write(offset: number, size: number, value: number): void {
    for (let i = 0; i < size && offset + i < PCI_CONFIG_SIZE; i++, value >>>= 8) {
      const o = offset + i;
      const w = this.wmask[o]!;
      const b = value & 0xff;
      this.bytes[o] = ((this.bytes[o]! & ~w) | (b & w)) & ~(b & this.w1cmask[o]!);
    }
  }

  /**
   * Adds a capability of `size` bytes with id `capId` to the list (at `offset`, or the first
   * free dword-aligned space from 0x40). Its bytes become read-only; the caller then opens
   * the writable fields in `wmask`. Returns the offset.
   */
  addCapability(capId: number, size: number, offset?: number): number {
    const at = offset ?? this.findSpace(size);
    if (
      at < HEADER_SIZE ||
      at + size > PCI_CONFIG_SIZE ||
      this.used.subarray(at, at + size).some((u) => u)
    ) {
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `no room for a ${size}-byte capability at 0x${at.toString(16)}`,
      );
    }
    this.used.fill(1, at, at + size);
    this.wmask.fill(0, at, at + size);
    this.bytes[at] = capId;
    this.bytes[at + 1] = this.bytes[PCI_CFG.CAPABILITY_LIST]!;
    this.bytes[PCI_CFG.CAPABILITY_LIST] = at;
    this.set16(PCI_CFG.STATUS, this.get16(PCI_CFG.STATUS) | PCI_STATUS.CAP_LIST);
    return at;
  }

  /** The offsets of capabilities with id `capId`, in list order. */
  findCapability(capId: number): number | undefined {
    const seen = new Set<number>();
    for (
      let p = this.bytes[PCI_CFG.CAPABILITY_LIST]! & ~3;
      p !== 0 && !seen.has(p);
      p = this.bytes[p + 1]! & ~3
    ) {
      seen.add(p);
      if (this.bytes[p] === capId) return p;
    }
    return undefined;
  }

  private findSpace(size: number): number {
    for (let at = HEADER_SIZE; at + size <= PCI_CONFIG_SIZE; at += 4) {
      if (!this.used.subarray(at, at + size).some((u) => u)) return at;
    }
    return PCI_CONFIG_SIZE;
  }

  private setMask16(m: Uint8Array, o: number, v: number): void {
    m[o] = v & 0xff;
    m[o + 1] = v >>> 8;
  }
}
