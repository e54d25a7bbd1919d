/**
 * The emuhost plugin contract.
 *
 * This file is the whole public surface a plugin compiles against: address kinds, access
 * results, MMIO region rules and (as the SDK grows) DMA contexts, bus handles and plugin
 * shapes. Everything here is documented with its units and failure modes; nothing here
 * throws for a guest-caused fault. The kernel (`@emuhost/core`) implements it.
 *
 * Conventions:
 * - Addresses are JavaScript numbers, exact up to 2^53 - 1. An address at or past 2^53 is a
 *   decode error, never a rounding. Register values of 8 bytes are `bigint`.
 * - Sizes and lengths are in bytes. Offsets are from the start of the region they name.
 * - Guest-caused faults come back as a {@link MemTxResult}; only host-side misuse (a plugin
 *   calling the API wrongly) throws, and then always an `EmuhostError` with a stable code.
 */

/** The SDK's own version (semver). Plugins declare the range they need in their manifest. */
export const SDK_VERSION = '0.1.0';

// ---------------------------------------------------------------------------------------
// Addresses
// ---------------------------------------------------------------------------------------

declare const guestPhysBrand: unique symbol;
declare const iovaBrand: unique symbol;
declare const ioPortBrand: unique symbol;

/**
 * A guest-physical address: where the CPU (or an untranslated DMA) sees memory.
 * A number in [0, 2^53); branded so that an {@link Iova} cannot be passed where a
 * guest-physical address is expected.
 */
export type GuestPhysAddr = number & { readonly [guestPhysBrand]: true };

/**
 * An I/O virtual address: an address as a DMA-capable device issues it, before any IOMMU
 * translates it. Without an IOMMU it is numerically equal to the guest-physical address, but
 * the types stay apart so that nothing treats one as the other by accident.
 */
export type Iova = number & { readonly [iovaBrand]: true };

/** An x86 I/O port number, 0..0xffff. */
export type IoPortAddr = number & { readonly [ioPortBrand]: true };

/** Any of the address kinds above; used where code is generic over the address space. */
export type AnyAddr = GuestPhysAddr | Iova | IoPortAddr;

/** The largest exact integer address (2^53 - 1). Larger addresses are decode errors. */
export const MAX_ADDR = Number.MAX_SAFE_INTEGER;

// ---------------------------------------------------------------------------------------
// Access results
// ---------------------------------------------------------------------------------------

/**
 * Why a memory transaction did not complete. QEMU's `MemTxResult` plus the outcomes that a
 * DMA context and the sandbox add. A device must look at it; it is never thrown.
 *
 * - `decode-error`: nothing is mapped at the address (QEMU's MEMTX_DECODE_ERROR), or the
 *   address is not an integer in [0, 2^53).
 * - `access-error`: something is mapped but refused the access: a size or alignment its
 *   rules do not allow, or the device itself said no (MEMTX_ERROR).
 * - `reentrancy-blocked`: the access would have re-entered a device that is already inside
 *   one of its own callbacks (its MMIO, timer, DMA or deferred work); see the kernel's
 *   re-entrancy guard. Nothing reached the device.
 * - `device-fault`: the device's callback threw; the device is quarantined and answers as
 *   absent from now on.
 * - `iommu-fault`: the IOMMU bound to the requester refused the translation.
 * - `bus-master-disabled`: the requester may not master the bus (PCI COMMAND.MASTER clear).
 * - `revoked`: the handle used was revoked (its device was unplugged or reloaded).
 */
export type MemTxError =
  | 'decode-error'
  | 'access-error'
  | 'reentrancy-blocked'
  | 'device-fault'
  | 'iommu-fault'
  | 'bus-master-disabled'
  | 'revoked';

/** The outcome of a memory transaction: `'ok'` or why not. */
export type MemTxResult = 'ok' | MemTxError;

/** True when `r` is a failure; narrows `number | MemTxError` style returns too. */
export function isMemTxError(r: unknown): r is MemTxError {
  return typeof r === 'string' && r !== 'ok';
}

/**
 * Attributes carried by every transaction (QEMU's MemTxAttrs).
 * `requesterId` is the PCI requester ID (bus << 8 | devfn) or a platform device's stream ID;
 * `undefined` for accesses made by the CPU side (qtest, the driver API).
 */
export interface MemTxAttrs {
  readonly requesterId?: number;
  /** True for accesses with no meaningful attributes (the CPU, a test client). */
  readonly unspecified?: boolean;
}

// ---------------------------------------------------------------------------------------
// MMIO regions
// ---------------------------------------------------------------------------------------

/** The sizes of a single access, in bytes. */
export type AccessSize = 1 | 2 | 4 | 8;

/** Byte order. `'native'` on a region means the machine's target byte order (little on x86). */
export type Endianness = 'little' | 'big';

/**
 * Callbacks of an MMIO (or port I/O) region. Offsets are from the region's start.
 *
 * Values: accesses of 1, 2 or 4 bytes carry `number`s in [0, 2^32); 8-byte accesses carry
 * `bigint`s in [0, 2^64). A `read` may return either kind for any size: the kernel truncates
 * to the access size. A region whose `impl.max` is at most 4 never sees a bigint.
 *
 * A callback refuses an access by returning a {@link MemTxError} (typically
 * `'access-error'`); the guest then sees that result and, for reads, a value of 0.
 * A callback that throws is a bug in the device: the device is quarantined.
 */
export interface MmioOps {
  read(offset: number, size: AccessSize, attrs: MemTxAttrs): number | bigint | MemTxError;
  write(
    offset: number,
    size: AccessSize,
    value: number | bigint,
    attrs: MemTxAttrs,
  ): undefined | MemTxResult;
}

/**
 * What accesses an MMIO region allows, following QEMU's `MemoryRegionOps`.
 *
 * `valid` is what the guest may do; an access outside it is an `access-error` and never
 * reaches the callbacks. `impl` is what the callbacks implement; the kernel splits a wider
 * access into several narrower calls, or widens a narrower one, exactly as QEMU's memory core
 * does (`access_with_adjusted_size`): pieces are combined in the region's byte order, and a
 * widened write carries zeroes in the bytes the guest did not write (no read-modify-write).
 */
export interface MmioAccessRules {
  readonly valid?: {
    /** Smallest access the guest may make. Default 1. */
    readonly min?: AccessSize;
    /** Largest access the guest may make. Default 4. */
    readonly max?: AccessSize;
    /** Whether accesses not aligned to their size are allowed. Default false. */
    readonly unaligned?: boolean;
    /** Last word on validity, after the size checks. Default: accept. */
    readonly accepts?: (offset: number, size: AccessSize, isWrite: boolean) => boolean;
  };
  readonly impl?: {
    /** Smallest access the callbacks handle. Default 1. */
    readonly min?: AccessSize;
    /** Largest access the callbacks handle. Default 4. */
    readonly max?: AccessSize;
    /** Whether the callbacks handle unaligned accesses. Default false. */
    readonly unaligned?: boolean;
  };
  /** Byte order of the register values. Default `'native'`. */
  readonly endianness?: Endianness | 'native';
}
