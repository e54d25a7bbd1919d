/**
 * The emuhost plugin contract.
 *
 * This file is the whole public surface a plugin compiles against: address kinds, access
 * results, MMIO region rules, DMA contexts, IOMMU models, the handles a plugin receives, the
 * plugin shapes and their manifest. Everything here is documented with its units and failure
 * modes; nothing here throws for a guest-caused fault. The kernel (`@emuhost/core`)
 * implements it.
 *
 * Conventions:
 * - Addresses are JavaScript numbers, exact up to 2^53 - 1. An address at or past 2^53 is a
 *   decode error, never a rounding. Register values of 8 bytes are `bigint`.
 * - Sizes and lengths are in bytes. Offsets are from the start of the region they name.
 * - Guest-caused faults come back as a {@link MemTxResult}; only host-side misuse (a plugin
 *   calling the API wrongly) throws, and then always an `EmuhostError` with a stable code.
 */

/** The SDK's own version (semver). Plugins declare the range they need in their manifest. */
export const SDK_VERSION = '1.6.0';

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

// ---------------------------------------------------------------------------------------
// DMA
// ---------------------------------------------------------------------------------------

/** The direction of a DMA access, from the device's point of view: it reads or writes guest memory. */
export type DmaAccess = 'read' | 'write';

/**
 * Why a DMA did not complete, with where. Returned (never thrown) by every
 * {@link DMAContext} call that fails; `'ok'` is returned on success.
 */
export interface DmaError {
  /** What went wrong. */
  readonly result: MemTxError | 'bounce-exhausted';
  /** For `iommu-fault`: why the IOMMU refused. */
  readonly reason?: IommuFaultReason;
  /** The IOVA of the page or region where the transfer stopped. */
  readonly addr: Iova;
  /**
   * Bytes known to be transferred before it stopped: a DMA stops at the first IOMMU page or
   * guest-physical piece that fails, and this counts the pieces before it. For a read, bytes
   * of the buffer inside the failing piece may have been written (zeroes where nothing is
   * mapped, as QEMU reads unassigned memory); bytes after it are left unchanged.
   */
  readonly completed: number;
}

/** `'ok'`, or why not. */
export type DmaResult = 'ok' | DmaError;

/** One element of a scatter-gather list (QEMU's ScatterGatherEntry). Lengths in bytes. */
export interface DmaSgEntry {
  readonly addr: Iova;
  readonly len: number;
}

/** The outcome of a scatter-gather transfer (QEMU's dma_buf_read/dma_buf_write residual). */
export interface DmaSgResult {
  readonly result: DmaResult;
  /** Bytes moved. */
  readonly transferred: number;
  /** Bytes of the list not moved: the list's total length minus `transferred`. */
  readonly residual: number;
}

/**
 * A mapping of guest memory for direct access (QEMU's dma_memory_map). It may cover less
 * than was asked: `bytes.length` is what was mapped and `shortfall` what was not; map the
 * rest with another call. Release it with the number of bytes actually written.
 */
export interface DmaMapping {
  /** A zero-copy view of guest RAM (`direct`), or a bounce buffer for MMIO targets. */
  readonly bytes: Uint8Array;
  readonly addr: Iova;
  readonly access: DmaAccess;
  /** Requested length minus `bytes.length`. */
  readonly shortfall: number;
  /** True for a zero-copy view of RAM; false for a bounce buffer. */
  readonly direct: boolean;
  /**
   * False once the translation behind the mapping was narrowed or removed, the IOMMU model
   * swapped, or the device's DMA revoked: stop using `bytes` (writes to it may no longer
   * reach the guest) and release it. The `onInvalidate` callback passed to `map` says when.
   */
  readonly valid: boolean;
  /**
   * dma_memory_unmap. Ends the mapping; for a bounce buffer mapped for `write`, the first
   * `written` bytes reach guest memory now (a direct view's writes already did).
   * Releasing twice is a no-op returning `'ok'`.
   */
  release(written: number): DmaResult;
}

/**
 * A capability to do DMA as one bus master: a device obtains it from its bus (PCI: one per
 * requester ID) or platform, and does all its DMA through it. It is gated by bus-master
 * enable, translated by whichever IOMMU is bound to the requester (or none: IOVA equals the
 * guest-physical address), and carries the requester's attributes. The device never knows
 * which IOMMU, if any, translates.
 *
 * Every call returns a result (never throws for what the guest did). Lengths are in bytes;
 * typed loads return the value or a {@link DmaError}.
 */
export interface DMAContext {
  /** dma_memory_read: copies `into.length` bytes of guest memory at `addr` into `into`. */
  read(addr: Iova, into: Uint8Array): DmaResult;
  /** dma_memory_write: copies `data` into guest memory at `addr`. */
  write(addr: Iova, data: Uint8Array): DmaResult;
  /** dma_memory_set: sets `len` bytes at `addr` to `byte`. */
  fill(addr: Iova, byte: number, len: number): DmaResult;
  /** dma_memory_valid: whether the whole range could be accessed now (nothing is transferred, no fault recorded). */
  canAccess(addr: Iova, len: number, access: DmaAccess): boolean;
  /**
   * dma_memory_map: maps up to `len` bytes at `addr`. `onInvalidate` is called (at most once)
   * if the mapping becomes invalid before it is released. Fails with `bounce-exhausted` when
   * an MMIO target needs a bounce buffer and the address space's budget is spent; `read` and
   * `write` never fail for that reason.
   */
  map(
    addr: Iova,
    len: number,
    access: DmaAccess,
    onInvalidate?: (m: DmaMapping) => void,
  ): DmaMapping | DmaError;
  /**
   * Takes over the mappings the previous instance of this device left live: after a hot
   * reload (or a restart) the kernel keeps a device's mappings, and the new instance adopts
   * them here, typically in `create`, matching them by `addr`, `access` and `bytes.length`
   * against what its saved state recorded. From now on `onInvalidate` is what is called when
   * one becomes invalid, and the new instance releases them.
   *
   * Returns the still-valid mappings not yet adopted; an empty array on a first start, or
   * after `create` returns: mappings nobody adopted by then are released (with nothing
   * written) and the reload reports it. At a sandboxed level, what the previous instance
   * wrote into its copy of a write mapping is in the adopted mapping's `bytes`.
   *
   * Undefined from a host older than SDK 1.3.
   * @since 1.3
   */
  adoptMappings?(onInvalidate?: (m: DmaMapping) => void): readonly DmaMapping[];

  /** ldub_dma */
  readU8(addr: Iova): number | DmaError;
  /** lduw_le_dma */
  readU16LE(addr: Iova): number | DmaError;
  /** lduw_be_dma */
  readU16BE(addr: Iova): number | DmaError;
  /** ldl_le_dma */
  readU32LE(addr: Iova): number | DmaError;
  /** ldl_be_dma */
  readU32BE(addr: Iova): number | DmaError;
  /** ldq_le_dma */
  readU64LE(addr: Iova): bigint | DmaError;
  /** ldq_be_dma */
  readU64BE(addr: Iova): bigint | DmaError;
  /** stb_dma */
  writeU8(addr: Iova, value: number): DmaResult;
  /** stw_le_dma */
  writeU16LE(addr: Iova, value: number): DmaResult;
  /** stw_be_dma */
  writeU16BE(addr: Iova, value: number): DmaResult;
  /** stl_le_dma */
  writeU32LE(addr: Iova, value: number): DmaResult;
  /** stl_be_dma */
  writeU32BE(addr: Iova, value: number): DmaResult;
  /** stq_le_dma */
  writeU64LE(addr: Iova, value: bigint): DmaResult;
  /** stq_be_dma */
  writeU64BE(addr: Iova, value: bigint): DmaResult;

  /**
   * dma_buf_write's direction, named for the device: reads guest memory described by `sg`
   * into `into`, in list order, until `into` is full or the list ends.
   */
  readSg(sg: readonly DmaSgEntry[], into: Uint8Array): DmaSgResult;
  /** dma_buf_read's direction: writes `data` to guest memory described by `sg`. */
  writeSg(sg: readonly DmaSgEntry[], data: Uint8Array): DmaSgResult;

  /**
   * Makes this context bypass the IOMMU (`true`) or go through it again (`false`): while it
   * bypasses, an IOVA is the guest-physical address, whatever IOMMU is bound to the
   * requester. It is what QEMU does for a virtio device whose driver did not negotiate
   * VIRTIO_F_ACCESS_PLATFORM (its `dma_as` is `address_space_memory`). The kernel records it
   * on the context, never on the device: `info iommu` shows it, live mappings are
   * re-translated, and bus-master enable still applies. Needs the `iommu-bypass` capability.
   * Undefined from a host older than SDK 1.4.
   * @since 1.4
   */
  bypassIommu?(bypass: boolean): void;
}

// ---------------------------------------------------------------------------------------
// IOMMU models
// ---------------------------------------------------------------------------------------

/** What a translation permits. */
export type IommuPerm = 'none' | 'read' | 'write' | 'read-write';

/** Why an IOMMU refused a translation. */
export type IommuFaultReason =
  /** No valid mapping for the IOVA (a not-present page-table entry). */
  | 'not-present'
  /** A mapping exists but does not permit the access. */
  | 'permission'
  /** The IOVA is outside what the model translates (address width, DMA window). */
  | 'out-of-range'
  /** The requester has no valid context (VT-d root/context entry, TCE table). */
  | 'no-context'
  /** The model's tables in guest memory could not be read or are malformed. */
  | 'bad-table'
  /** The model threw or returned an entry that does not contain the IOVA. */
  | 'model-error';

/**
 * One translation (QEMU's IOMMUTLBEntry): the naturally aligned page of `pageSize` bytes at
 * `iova` maps to the page at `translated`, with `perm`. The kernel caches it in the
 * requester's IOTLB until the model invalidates it.
 */
export interface IommuEntry {
  readonly kind: 'entry';
  /** Start of the page (aligned to `pageSize`). */
  readonly iova: Iova;
  /** Guest-physical start of the page it maps to (aligned to `pageSize`). */
  readonly translated: GuestPhysAddr;
  /** A power of two, at least 4096 (4 KiB, 2 MiB, 1 GiB...). */
  readonly pageSize: number;
  readonly perm: IommuPerm;
}

/** A refused translation. `detail` is free text for traces. */
export interface IommuFault {
  readonly kind: 'fault';
  readonly reason: IommuFaultReason;
  readonly detail?: string;
}

/** Who is asking for a translation. */
export interface IommuRequest {
  /** PCI requester ID (bus << 8 | devfn) or the platform's stream ID. */
  readonly requesterId: number;
  /** The device's id (for traces; models key on `requesterId`). */
  readonly device: string;
  /**
   * True when the kernel only probes (canAccess, re-translating live mappings on a swap):
   * the model must not record a guest-visible fault for it.
   */
  readonly probe: boolean;
}

/**
 * An IOMMU model: a translator. The kernel owns the IOTLB (one per requester, page-granular,
 * bounded) and calls `translate` only on a miss, or when a cached entry does not permit an
 * access (the mapping may have been widened).
 *
 * The rule for the model, as for hardware: **invalidate when a mapping is narrowed or
 * removed; widening needs no call.** Until the model invalidates, requesters keep using the
 * cached translation, exactly as a guest that forgets to invalidate on real hardware sees.
 */
export interface IommuModel {
  /** Required. Translates the page containing `iova` for `access`, or refuses. */
  translate(iova: Iova, access: DmaAccess, req: IommuRequest): IommuEntry | IommuFault;
  /** Optional. Called when a requester starts using this model. Default: nothing. */
  attach?(req: Omit<IommuRequest, 'probe'>): void;
  /** Optional. Called when a requester stops using this model. Default: nothing. */
  detach?(req: Omit<IommuRequest, 'probe'>): void;
}

/** Which IOTLB entries an invalidation drops. Omitted fields match everything. */
export interface IommuInvalidation {
  /** Only entries overlapping this IOVA range. */
  readonly iova?: Iova;
  /** Length of the range in bytes (with `iova`; default 1, the page containing it). 0 matches nothing. */
  readonly len?: number;
  /** Only requesters for which this returns true (e.g. the devices of one domain). */
  readonly requesters?: (requesterId: number) => boolean;
}

/** What the kernel gives an IOMMU model. */
export interface IommuHost {
  /**
   * Drops cached translations (and invalidates live mappings) of the requesters bound to
   * this model. Call it whenever a mapping is narrowed or removed.
   */
  invalidate(scope?: IommuInvalidation): void;
}

// ---------------------------------------------------------------------------------------
// Handles a plugin receives
// ---------------------------------------------------------------------------------------
//
// Every handle is made for one plugin instance and revoked when that instance goes away
// (unplug, reload, quarantine): a call through a revoked handle throws an EmuhostError with
// code `E_REVOKED`, and never reaches the machine. Handles the kernel gets back (a region
// passed to `bar`) are checked to be ones it issued.

/** Where a plugin writes diagnostics; lines carry the plugin and device id. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** A timer on the machine's virtual clock. Its callback runs under the device's guard. */
export interface TimerHandle {
  /** Arms (or re-arms) for an absolute virtual time in ns; a time in the past fires at the next step. */
  armAt(ns: number): void;
  /** Arms `ns` nanoseconds from now. */
  armIn(ns: number): void;
  cancel(): void;
  readonly pending: boolean;
  /** The armed deadline in ns, or -1. */
  readonly deadline: number;
}

/** The virtual clock: nanoseconds that advance only when the machine's driver advances them. */
export interface ClockHandle {
  /** Virtual time in ns. Devices never read real time. */
  now(): number;
  /**
   * A timer named `name` (unique within the device; a reloaded instance asking for the same
   * name gets the same timer, still armed, with its new callback).
   */
  timer(name: string, callback: () => void): TimerHandle;
}

/** An interrupt output. Levels are 0 or 1; setting the current level again does nothing. */
export interface IrqHandle {
  readonly level: 0 | 1;
  set(level: 0 | 1): void;
  raise(): void;
  lower(): void;
  /** An edge: raise then lower. */
  pulse(): void;
}

/** A PCI function's MSI capability. */
export interface MsiHandle {
  /** Whether the guest enabled MSI. */
  readonly enabled: boolean;
  /**
   * Sends vector `vector` (default 0) as a memory write through the function's DMA context.
   * Returns undefined when MSI is disabled or the vector masked (nothing sent), else the
   * write's result (e.g. `bus-master-disabled`).
   */
  notify(vector?: number): DmaResult | undefined;
}

/**
 * A PCI function's MSI-X capability (PCI Local Bus spec 6.8.2): a table of vectors, each with
 * its own address, data and mask bit, and a pending-bit array, both in a BAR of their own
 * (QEMU's msix_init_exclusive_bar). The kernel implements the table, the PBA, the function
 * mask and the delivery; a device only asks for a vector to be signalled.
 * @since 1.4
 */
export interface MsixHandle {
  /** Whether the guest enabled MSI-X (MSI-X Enable set in the capability). */
  readonly enabled: boolean;
  /** How many vectors the table has. */
  readonly vectors: number;
  /**
   * Signals vector `vector` (msix_notify): while the function or the vector is masked it only
   * sets the vector's pending bit, and the message goes when the guest unmasks it. Returns
   * the write's result when a message was sent, undefined when none was (MSI-X disabled, a
   * vector past the table, or masked: then pending).
   */
  notify(vector: number): DmaResult | undefined;
  /** Whether `vector` is masked now (its own mask bit or the function mask). */
  masked(vector: number): boolean;
  /**
   * The table and the pending bits as plain data, for the device's saved state: they are
   * guest-visible registers, so a device restored elsewhere restores them (`restore`).
   */
  save(): MsixState;
  /** Puts back what `save` returned (the table's and PBA's sizes must match). */
  restore(state: MsixState): void;
}

/** The MSI-X table (16 bytes per vector) and pending-bit array, as saved. @since 1.4 */
export interface MsixState {
  readonly table: Uint8Array;
  readonly pba: Uint8Array;
}

/** The MSI-X capability's shape. @since 1.4 */
export interface MsixSpec {
  /** 1..2048. */
  readonly vectors: number;
  /**
   * The BAR (0..5) the table (at 0) and the PBA (after it) occupy alone: a 32-bit memory BAR
   * the kernel registers. The device must not use that BAR.
   */
  readonly bar: number;
}

/**
 * A capability a device adds to its config space's capability list (QEMU's
 * pci_add_capability): the vendor-specific capabilities (id 0x09) virtio-pci uses, for one.
 * @since 1.4
 */
export interface PciCapabilitySpec {
  /** The capability id (0x09: vendor-specific). */
  readonly id: number;
  /**
   * The capability's bytes after its 2-byte header (id and next pointer, which the kernel
   * writes): what the guest reads at offset + 2 onwards. Its size is the capability's.
   */
  readonly body: Uint8Array;
  /**
   * Guest-writable bits of `body`, byte for byte (default: all read-only). The guest's writes
   * change only these bits; the device sees them through `onConfigWrite`.
   */
  readonly writable?: Uint8Array;
  /** Offset in config space (dword-aligned, 0x40..0xff); default: the first free space. */
  readonly offset?: number;
}

/** A memory region the kernel owns, made by `mmio(...)` and placed by a bus handle. */
export interface RegionHandle {
  readonly name: string;
  /** In bytes. */
  readonly size: number;
}

/** A PCI base address register. */
export interface PciBarSpec {
  readonly kind: 'memory' | 'io';
  /** A power of two: at least 16 for memory, 4 for I/O (at most 64 KiB). */
  readonly size: number;
  /** A 64-bit memory BAR, taking two BAR slots. Default false. */
  readonly is64?: boolean;
  /** Default false. */
  readonly prefetchable?: boolean;
}

/** The MSI capability's shape (QEMU's msi_init arguments). */
export interface MsiSpec {
  /** 1, 2, 4, 8, 16 or 32. Default 1. */
  readonly vectors?: number;
  /** 64-bit message address. Default true. */
  readonly addr64?: boolean;
  /** Default false. */
  readonly perVectorMask?: boolean;
}

/** What a PCI device's function looks like in config space before the guest touches it. */
export interface PciIdentity {
  readonly vendorId: number;
  readonly deviceId: number;
  /** Default 0. */
  readonly revision?: number;
  /** Base class << 16 | subclass << 8 | programming interface, e.g. 0x00ff00. */
  readonly classCode: number;
  readonly subsystemVendorId?: number;
  readonly subsystemId?: number;
  /** 0 = none, 1 = INTA ... 4 = INTD. Default 1 when the plugin has the `irq` capability, else 0. */
  readonly interruptPin?: 0 | 1 | 2 | 3 | 4;
}

/** The PCI side of a device: BARs, capabilities, config space. */
export interface PciHandle {
  /** Bus number << 8 | devfn: the requester ID its DMA carries. */
  readonly requesterId: number;
  /** pci_register_bar: `region` decodes at the BAR's address while COMMAND enables it. */
  bar(index: number, spec: PciBarSpec, region: RegionHandle): void;
  /** msi_init. Needs the `msi` capability. */
  addMsi(spec?: MsiSpec): MsiHandle;
  /** Reads config space as the guest sees it (1, 2 or 4 bytes, little-endian). */
  configRead(offset: number, size: 1 | 2 | 4): number;
  /** Sets config-space bytes bypassing the write masks (initial values of device registers). */
  configSet(offset: number, size: 1 | 2 | 4, value: number): void;
  /** Makes bits guest-writable (or read-only with 0s) in device-specific space (0x40..0xff). */
  configSetWritable(offset: number, size: 1 | 2 | 4, mask: number): void;
  /** Called after each guest config write, once the masks and the kernel's side effects applied. */
  onConfigWrite(callback: (offset: number, size: number, value: number) => void): void;
  /**
   * msix_init_exclusive_bar: adds an MSI-X capability whose table and PBA fill BAR
   * `spec.bar`. Returns undefined when the machine has no MSI controller (no MSI window, as on
   * RISC-V `virt` with a PLIC: QEMU's `msi_nonbroken` is false there), and the device then
   * uses INTx alone. Needs the `msi` capability. Undefined from a host older than SDK 1.4.
   * @since 1.4
   */
  addMsix?(spec: MsixSpec): MsixHandle | undefined;
  /**
   * pci_add_capability: adds a capability to the list and returns its offset in config
   * space. Throws `E_BAD_ARGUMENT` when it does not fit. Undefined from a host older than
   * SDK 1.4.
   * @since 1.4
   */
  addCapability?(spec: PciCapabilitySpec): number;
  /**
   * Called on each guest config read of device-specific space (0x40..0xff) with the value the
   * kernel would answer; what it returns is what the guest reads (virtio's
   * VIRTIO_PCI_CAP_PCI_CFG window answers from a BAR this way). Default: the config bytes.
   * Undefined from a host older than SDK 1.4.
   * @since 1.4
   */
  onConfigRead?(callback: (offset: number, size: number, value: number) => number): void;
}

/** The platform side of a device: fixed addresses and named interrupt lines. */
export interface PlatformHandle {
  /** Places `region` at a guest-physical address. */
  map(region: RegionHandle, addr: GuestPhysAddr, priority?: number): void;
  /** Places `region` in port I/O space. */
  mapIo(region: RegionHandle, port: IoPortAddr): void;
  /** A named interrupt output; the machine wires it to a controller input. */
  irq(name: string): IrqHandle;
  /**
   * The machine's slot of kind `kind` for this device (`'virtio-mmio'`: one of the RISC-V
   * `virt` machine's eight transports), or undefined when the machine has no free one. The
   * same device asking again (a hot-reloaded instance) gets the same slot. The device maps its
   * registers at `base` itself, and interrupts with `irq`. Undefined from a host older than
   * SDK 1.4.
   * @since 1.4
   */
  slot?(kind: string): PlatformSlot | undefined;
}

/** A place the machine set aside for a platform device (see {@link PlatformHandle.slot}). @since 1.4 */
export interface PlatformSlot {
  /** Where the device's registers go. */
  readonly base: GuestPhysAddr;
  /** Bytes the slot spans (a virtio-mmio transport: 0x1000). */
  readonly size: number;
  /** The slot's interrupt line (virt: a PLIC source). */
  readonly irq: IrqHandle;
}

// ---------------------------------------------------------------------------------------
// Options and state
// ---------------------------------------------------------------------------------------

export type OptionValue = string | number | boolean;

/** A device's options as given on `-device name,key=value` or in a machine file, validated. */
export type Options = Readonly<Record<string, OptionValue>>;

/** Declares one option: its type, default and meaning. Unknown options are refused. */
export interface OptionSpec {
  readonly type: 'number' | 'string' | 'boolean';
  readonly default?: OptionValue;
  readonly description: string;
}

/**
 * Saved device state, as the kernel stores it between instances (hot reload) and in
 * snapshots. `data` is what `saveState()` returned: plain data (structured-clonable: no
 * functions, no class instances, no handles).
 */
export interface SavedState {
  /** The plugin's `stateVersion` when saved. */
  readonly version: number;
  readonly data: unknown;
}

// ---------------------------------------------------------------------------------------
// Plugins
// ---------------------------------------------------------------------------------------

/** What a device plugin's `create` receives. Everything the device may touch is here. */
export interface DeviceContext {
  /** The device id (machine-unique, e.g. `edu0`). */
  readonly id: string;
  readonly options: Options;
  readonly log: Logger;
  /** Needs the `timers` capability. */
  readonly clock: ClockHandle;
  /** The device's DMA context. Needs the `dma` capability. */
  readonly dma: DMAContext;
  /** PCI: the INTx pin; platform: `platform.irq('irq')`. Needs the `irq` capability. */
  readonly irq: IrqHandle;
  /** An MMIO (or port I/O) region backed by `ops`; place it with `pci.bar` or `platform.map`. */
  mmio(name: string, size: number, ops: MmioOps, rules?: MmioAccessRules): RegionHandle;
  /** Present when the device sits on a PCI bus. */
  readonly pci: PciHandle | undefined;
  /** Present when the device sits on the platform bus. */
  readonly platform: PlatformHandle | undefined;
  /**
   * The block backend `-drive id=ID` (a machine file's `"drives"`), typically named by the
   * device's `drive` option. Throws `E_UNKNOWN_ID` when there is no such drive, and
   * `E_DUPLICATE_ID` when another device uses it (an instance of the same device, after a
   * reload, gets it again). Needs the `block` capability. Undefined from a host older than
   * SDK 1.4.
   * @since 1.4
   */
  block?(id: string): BlockBackend;
  /**
   * An entropy source: the `-object rng-random`/`rng-builtin` named `id`, or with no `id` the
   * machine's built-in one (QEMU's default for virtio-rng). Throws `E_UNKNOWN_ID` for an
   * unknown id. Needs the `entropy` capability. Undefined from a host older than SDK 1.4.
   * @since 1.4
   */
  entropy?(id?: string): EntropySource;
  /**
   * The network backend `-netdev id=ID`. Throws `E_UNKNOWN_ID` when there is none, as it always
   * does from a host that has no network backends yet. Needs the `net` capability.
   * @since 1.4
   */
  netdev?(id: string): NetBackend;
  /**
   * The character backend `-chardev id=ID` (a virtio console port, a second UART). Throws
   * `E_UNKNOWN_ID` when there is none. Needs the `chardev` capability.
   * @since 1.4
   */
  chardev?(id: string): CharBackend;
}

/** A live device instance. */
export interface DeviceModel {
  /** Device-specific reset; the kernel has already reset its PCI config space. Default: nothing. */
  reset?(): void;
  /** The device's state as plain data, for hot reload and snapshots. Default: no state. */
  saveState?(): unknown;
  /** Called before the instance is dropped (reload, unplug). Handles still work here. Default: nothing. */
  dispose?(): void;
}

/** A device model. QEMU's `-device NAME` names it by the manifest id. */
export interface DevicePluginDefinition {
  readonly kind: 'device';
  /** Present when the device attaches to PCI buses: its identity in config space. */
  readonly pci?: PciIdentity;
  /** True when the device can sit on the platform bus (it may do both). Default false. */
  readonly platform?: boolean;
  readonly options?: Readonly<Record<string, OptionSpec>>;
  /** Version of what `saveState` returns. Default 1. */
  readonly stateVersion?: number;
  /**
   * Converts state saved by an older (or newer) `stateVersion` to the current one; return
   * undefined to refuse (the device is then created fresh and a warning says why).
   * Default: refuse every other version.
   */
  migrateState?(fromVersion: number, data: unknown): unknown;
  /** Creates an instance; `state` is the saved state to resume from, or undefined for a fresh device. */
  create(ctx: DeviceContext, state: unknown): DeviceModel;
}

/** What an IOMMU plugin's `create` receives. */
export interface IommuContext {
  readonly id: string;
  readonly options: Options;
  readonly log: Logger;
  readonly clock: ClockHandle;
  /** Invalidation of the kernel's IOTLBs for the requesters this IOMMU translates. */
  readonly host: IommuHost;
  /**
   * The IOMMU's own access to guest memory (page-table walks, invalidation queues, fault
   * records, interrupt messages): untranslated, never through itself.
   */
  readonly memory: DMAContext;
  mmio(name: string, size: number, ops: MmioOps, rules?: MmioAccessRules): RegionHandle;
  /** Where its register block goes. */
  readonly platform: PlatformHandle;
}

/** A live IOMMU: the translator plus the lifecycle a device has. */
export interface IommuInstance extends IommuModel {
  reset?(): void;
  saveState?(): unknown;
  dispose?(): void;
  /**
   * Lines for `info iommu` about the model's own state (its cached contexts, its fault
   * queue), one fact per line, no indentation. Default: the kernel's view only (bindings,
   * IOTLBs, recent faults).
   * @since 1.5
   */
  info?(): readonly string[];
}

/** An IOMMU model (VT-d, TCE, passthrough...). */
export interface IommuPluginDefinition {
  readonly kind: 'iommu';
  readonly options?: Readonly<Record<string, OptionSpec>>;
  readonly stateVersion?: number;
  migrateState?(fromVersion: number, data: unknown): unknown;
  create(ctx: IommuContext, state: unknown): IommuInstance;
}

/** A memory container a machine builds into. */
export interface ContainerHandle extends RegionHandle {
  readonly container: true;
}

/**
 * Firmware images the host read for the machine (`-bios FILE`, `-drive if=pflash,file=FILE`,
 * or a machine file's `"bios"` and `"pflash"`). A machine plugin cannot read files: the host
 * does, and hands over the bytes. The arrays are the machine's own copies; what it maps
 * them as (ROM, a flash device) and where is the machine's choice.
 * @since 1.2
 */
export interface MachineFirmware {
  /** The BIOS image (`-bios`), or undefined for none. */
  readonly bios?: Uint8Array;
  /** Flash images in unit order (`-drive if=pflash`, unit 0 first); empty for none. */
  readonly pflash: readonly Uint8Array[];
  /**
   * The kernel image (`-kernel`), as the file holds it; what it means (a RISC-V `Image`, an
   * ELF) and where it goes is the machine's business. Undefined for none.
   * @since 1.4
   */
  readonly kernel?: Uint8Array;
  /** The initial RAM disk (`-initrd`). @since 1.4 */
  readonly initrd?: Uint8Array;
  /** The kernel command line (`-append`). @since 1.4 */
  readonly cmdline?: string;
  /** A device tree blob that replaces the one the machine would generate (`-dtb`). @since 1.4 */
  readonly dtb?: Uint8Array;
}

/** What a machine plugin builds the machine with. */
export interface MachineContext {
  /** RAM size asked for (`-m`), in bytes. */
  readonly ramSize: number;
  readonly options: Options;
  readonly log: Logger;
  /**
   * The firmware to map. Undefined from a host older than SDK 1.2, which never loads any.
   * @since 1.2
   */
  readonly firmware?: MachineFirmware;
  /** The root of guest-physical memory. */
  readonly system: ContainerHandle;
  /** The root of the 64 KiB port I/O space. */
  readonly io: ContainerHandle;
  ram(name: string, size: number): RegionHandle;
  /** ROM with `contents` copied in (firmware). */
  rom(name: string, contents: Uint8Array): RegionHandle;
  alias(name: string, target: RegionHandle, offset: number, size: number): RegionHandle;
  container(name: string, size: number): ContainerHandle;
  mmio(name: string, size: number, ops: MmioOps, rules?: MmioAccessRules): RegionHandle;
  /**
   * A region where nothing answers (QEMU's unassigned memory): accesses end there with
   * `decode-error` and reads give 0, and DMA validity checks (`canAccess`) see no memory.
   * Placed under a bus's space at a low priority, it is that bus's master abort: accesses no
   * device decodes stop there instead of reaching what lies beneath. Undefined from a host
   * older than SDK 1.3 (use an `mmio` region answering `'decode-error'` there).
   * @since 1.3
   */
  unassigned?(name: string, size: number): RegionHandle;
  /** Places `region` inside `parent` at `offset`; higher priority hides lower. */
  place(parent: ContainerHandle, region: RegionHandle, offset: number, priority?: number): void;
  /** Enables or disables a placed region (it then shows what lies below). */
  setEnabled(region: RegionHandle, enabled: boolean): void;
  /** Lets a region decode only reads or only writes (the other direction falls through). */
  setDecodes(region: RegionHandle, decodes: 'read-write' | 'read' | 'write'): void;
  /** Batches changes into one re-render. */
  transaction(fn: () => void): void;
  /** An interrupt controller with numbered inputs whose levels can be observed (e.g. `ioapic`). */
  interruptController(name: string, inputs: number): InterruptControllerHandle;
  /**
   * The root PCI bus behind a host bridge with configuration mechanism #1 at 0xcf8/0xcfc.
   * BARs decode into `memory` and `io`. `setIrq` receives the bus's 4 INTx lines after the
   * standard swizzle.
   */
  pciHost(spec: PciHostSpec): PciBusHandle;
  /** Where MSI writes land (0xfee00000 on x86). */
  msiWindow(addr: GuestPhysAddr): void;
  /**
   * How many CPUs the user asked for (`-smp`). Undefined from a host older than SDK 1.4.
   * @since 1.4
   */
  readonly smp?: number;
  /**
   * Makes CPU number `index` (0-based; `-smp N` asks for 0..N-1) of the model the user chose
   * with `-cpu`, or the machine's {@link MachinePluginDefinition.cpu} default. `props` are the
   * machine's settings for it (a RISC-V machine passes `resetvec` and `timebase`); the user's
   * `-cpu model,key=value` options override them. The kernel schedules the CPU from then on.
   * Throws `E_UNKNOWN_ID` when no CPU model of the machine's architecture is available.
   * Undefined from a host older than SDK 1.4.
   * @since 1.4
   */
  cpu?(index: number, props?: Readonly<Record<string, OptionValue>>): CpuHandle;
  /**
   * The machine's virtual clock, for the timers of the devices it builds itself (a RISC-V
   * CLINT's `mtimecmp`). Undefined from a host older than SDK 1.4.
   * @since 1.4
   */
  readonly clock?: ClockHandle;
  /**
   * Copies `bytes` into guest memory at `addr`, whatever is mapped there, ROM included (QEMU's
   * ROM loader): how a machine places a kernel, an initrd or a device tree. Returns the first
   * failure (`decode-error` where nothing is mapped). Undefined from a host older than SDK 1.4.
   * @since 1.4
   */
  load?(addr: GuestPhysAddr, bytes: Uint8Array): MemTxResult;
  /**
   * The character backend of serial port `index` (`-serial`, `-nographic`), or undefined when
   * the user gave that port none. Undefined from a host older than SDK 1.4.
   * @since 1.4
   */
  serial?(index: number): CharBackend | undefined;
  /**
   * Asks the host to end the run: `poweroff` (the process exits with `exitCode`, default 0)
   * or `reboot` (a machine-wide reset). Takes effect between events, never inside the device
   * callback that asked. Undefined from a host older than SDK 1.4.
   * @since 1.4
   */
  requestShutdown?(kind: 'poweroff' | 'reboot', exitCode?: number): void;
}

/** A platform slot as the machine hands it out (see {@link MachineModel.platformSlot}). @since 1.4 */
export interface MachinePlatformSlot {
  readonly base: GuestPhysAddr;
  readonly size: number;
  /** Where the slot's interrupt goes (the machine's controller input). */
  irq(level: 0 | 1): void;
  /** The device left the slot: it is free again. Default: the slot stays taken. */
  release?(): void;
}

export interface PciHostSpec {
  /** Bus name devices attach to, e.g. `pci.0`. */
  readonly name: string;
  readonly memory: ContainerHandle;
  readonly io: ContainerHandle;
  /** First slot `-device` placement uses (pc: 2, q35: 1). */
  readonly firstSlot: number;
  /**
   * Configuration through an ECAM window (PCI Express enhanced configuration access: 4 KiB
   * of config space per function at bus << 20 | devfn << 12) placed at `base` in system
   * memory, instead of configuration mechanism #1 at 0xcf8. `size` is a multiple of 1 MiB
   * (one bus each). Default: mechanism #1.
   * @since 1.4
   */
  readonly ecam?: { readonly base: GuestPhysAddr; readonly size: number };
  setIrq(line: number, level: 0 | 1): void;
}

/** A PCI bus a machine built. */
export interface PciBusHandle {
  readonly name: string;
  /**
   * A function the machine itself implements (host bridge, ISA bridge), with config hooks
   * instead of a device plugin.
   */
  addFunction(devfn: number, id: string, identity: PciIdentity): PciHandle;
}

export interface InterruptControllerHandle {
  readonly name: string;
  setInput(input: number, level: 0 | 1): void;
  level(input: number): 0 | 1;
}

/** What a machine tells the host after building. */
export interface MachineModel {
  /** The bus `-device` puts PCI devices on. */
  readonly defaultPciBus?: string;
  /** Machine-wide reset of the machine's own state (chipset registers). Default: nothing. */
  reset?(): void;
  /**
   * Where an IOMMU added to this machine goes (`-device intel-iommu` on q35): its register
   * block's address and the bus it translates. Default: the machine has no IOMMU slot.
   * @since 1.1
   */
  readonly iommu?: {
    readonly base: GuestPhysAddr;
    readonly bus: string;
    /**
     * The IOMMU the machine itself has (QEMU's `virt,iommu-sys=on`), which the host adds
     * before any device: the IOMMU plugin `plugin` as instance `id`, with `base` as its
     * `base` option, bound to `bus`. Its platform IRQs go where `platformIrq(id, name)` says.
     * Default: none (an IOMMU comes only from the user, as `-device`).
     * @since 1.5
     */
    readonly builtin?: { readonly plugin: string; readonly id: string };
  };
  /**
   * Where the IRQ output `name` of the platform device `device` goes (QEMU's `isa_get_irq`
   * for an ISA bus): a function the host calls with the line's level whenever it changes,
   * or undefined when the machine wires that name nowhere. Called once per device and name,
   * when the device first asks for the line. Default: platform IRQ lines reach nothing.
   * @since 1.3
   */
  platformIrq?(device: string, name: string): ((level: 0 | 1) => void) | undefined;
  /**
   * A free slot of kind `kind` for the platform device `device` (`'virtio-mmio'`: where a
   * `-device virtio-blk-device` goes on RISC-V `virt`, one of its transports with its PLIC
   * source), or undefined when none is free or the machine has no such slots. The host asks
   * once per device and kind, and calls `release` when the device is removed. The machine
   * keeps answering guest reads at free slots itself (an empty virtio-mmio transport reads
   * device id 0). Default: the machine has no slots.
   * @since 1.4
   */
  platformSlot?(device: string, kind: string): MachinePlatformSlot | undefined;
  /**
   * Called once the machine is complete (every `-device` added) and before any CPU runs, as
   * QEMU's machine-done notifier: where a machine generates its device tree and loads its
   * boot images. A throw here is a machine build error shown to the user. Default: nothing.
   * @since 1.4
   */
  ready?(): void;
  /**
   * The flattened device tree the machine hands the guest (after `ready`), for
   * `-machine dumpdtb=FILE`. Default: the machine has none.
   * @since 1.4
   */
  deviceTree?(): Uint8Array;
  /** The machine's own state (its chipset registers), for snapshots. Default: none. @since 1.4 */
  saveState?(): unknown;
  /** Restores what `saveState` returned. @since 1.4 */
  loadState?(state: unknown): void;
}

/** A machine definition (`-machine pc`). */
export interface MachinePluginDefinition {
  readonly kind: 'machine';
  readonly options?: Readonly<Record<string, OptionSpec>>;
  /**
   * The CPUs this machine runs: their architecture (a CPU plugin's `arch` must match) and the
   * CPU plugin `-cpu` defaults to. Default: the machine has no CPUs (a qtest-only machine).
   * @since 1.4
   */
  readonly cpu?: { readonly arch: string; readonly default: string };
  create(ctx: MachineContext): MachineModel;
}

/** Any plugin a bundle exports (its default export, made with `definePlugin`). */
export type PluginDefinition =
  | DevicePluginDefinition
  | IommuPluginDefinition
  | MachinePluginDefinition
  | CpuPluginDefinition;

// ---------------------------------------------------------------------------------------
// Block, entropy and network backends (since 1.4)
// ---------------------------------------------------------------------------------------
//
// What a device needs from outside the machine and cannot do itself: a disk image, host
// randomness, a network. The host owns them (it opens the files and closes them on exit); a
// device gets a handle by the id the user gave (`-drive id=d0`, `-object rng-random,id=rng0`,
// `-netdev ...,id=n0`), named in the device's options as QEMU names them (`drive=d0`,
// `rng=rng0`, `netdev=n0`). Calls complete before they return: a device that models latency
// completes the guest's request from a timer. Like DMA, I/O failures are results, never
// exceptions.

/**
 * Why a block request failed. `io-error`: the host's file system refused (EIO, ENOSPC...);
 * `read-only`: a write, discard or flush-for-write to a read-only drive; `out-of-range`: the
 * range is not inside the drive (or not integers).
 */
export type BlockError = 'io-error' | 'read-only' | 'out-of-range';

/** `'ok'` or why not. */
export type BlockResult = 'ok' | BlockError;

/**
 * A block backend: a raw disk image (`-drive file=disk.img,format=raw,if=none,id=d0`).
 * Offsets and lengths are in bytes, exact integers; a request need not be sector-aligned.
 * @since 1.4
 */
export interface BlockBackend {
  /** The drive's id (`-drive id=d0`). */
  readonly id: string;
  /** The image's size in bytes; it changes only by a resize (see `onResize`). */
  readonly size: number;
  /** True for `readonly=on` (or a file the host could open only for reading). */
  readonly readOnly: boolean;
  /**
   * What a discard does on this drive (QEMU's `-drive discard=`): `'ignore'` (the default, as
   * QEMU's) accepts it and changes nothing; `'unmap'` zeroes the range (Node cannot punch
   * holes, so the file keeps its allocation).
   */
  readonly discard: 'ignore' | 'unmap';
  /** Reads `into.length` bytes at `offset`. On failure the bytes of `into` are unspecified. */
  read(offset: number, into: Uint8Array): BlockResult;
  /** Writes `data` at `offset`. It reaches the file now; `flush` makes it durable. */
  write(offset: number, data: Uint8Array): BlockResult;
  /**
   * Makes every completed write durable (an `fsync` of the image): once it returns `'ok'`, a
   * crash of emuhost or of the host loses none of them.
   */
  flush(): BlockResult;
  /** Tells the drive `len` bytes at `offset` are no longer needed (see `discard`). */
  discardRange(offset: number, len: number): BlockResult;
  /**
   * Calls `callback` after the image was resized (the monitor's `block_resize`): `size` has
   * its new value then. A device calls it once; a reloaded instance's call replaces it.
   */
  onResize(callback: () => void): void;
}

/**
 * An entropy source: host randomness (`-object rng-builtin`, or `rng-random` reading a file
 * such as `/dev/urandom`). When the machine runs seeded (deterministic mode, QEMU's `-seed`),
 * a built-in source gives the same bytes on every run.
 * @since 1.4
 */
export interface EntropySource {
  /** The object's id (`rng0`), or `'builtin'` for the machine's default. */
  readonly id: string;
  /**
   * Fills `into` with random bytes; returns how many it wrote: `into.length`, or fewer when a
   * file source ran dry (a regular file at its end).
   */
  fill(into: Uint8Array): number;
}

/**
 * The device side of a network backend: what receives frames. Frames are delivered between
 * machine events, never inside another device callback.
 * @since 1.4
 */
export interface NetFrontend {
  /** Whether the device can take a frame now (a receive buffer is posted). */
  canReceive(): boolean;
  /** One Ethernet frame (without FCS), delivered only after `canReceive` said true. */
  receive(frame: Uint8Array): void;
  /**
   * The link went up or down (the monitor's `set_link`): a NIC with a link status shows it to
   * its driver. Frames are neither sent nor delivered while it is down. Default: nothing.
   * @since 1.6
   */
  linkChanged?(up: boolean): void;
  /**
   * The NIC's MAC address as `52:54:00:12:34:56`, for `info network`. Default: not shown.
   * @since 1.6
   */
  mac?(): string;
}

/**
 * A network backend (QEMU's `-netdev`): a hub of NICs joined over a local socket, a capture.
 * Sending never blocks the machine; frames wait in the backend until the device can take them.
 * @since 1.4
 */
export interface NetBackend {
  /** The netdev's id (`-netdev ...,id=n0`). */
  readonly id: string;
  /** Sends one Ethernet frame (without FCS). */
  send(frame: Uint8Array): void;
  /** Makes `frontend` the receiver of frames (replacing any previous one). */
  connect(frontend: NetFrontend): void;
  /** The device has room again: queued frames are delivered soon. */
  ready(): void;
  /**
   * Whether the link is up (the monitor's `set_link`): what a NIC shows its driver when it is
   * made, or remade by a reload. Undefined from a host older than SDK 1.6: up.
   * @since 1.6
   */
  readonly linkUp?: boolean;
}

// ---------------------------------------------------------------------------------------
// Character backends (since 1.4)
// ---------------------------------------------------------------------------------------

/**
 * The device side of a character backend (QEMU's chardev front end): what receives input.
 * Input is delivered between machine events, never inside another device callback.
 */
export interface CharFrontend {
  /** How many bytes the device can take now (a UART: the room in its receive FIFO). */
  canReceive(): number;
  /** Bytes from outside, at most what `canReceive` said. */
  receive(bytes: Uint8Array): void;
}

/**
 * A character backend (QEMU's chardev): the terminal, a socket, a file. Output never blocks
 * the machine (the host queues it); input waits in the backend until the device has room.
 * @since 1.4
 */
export interface CharBackend {
  /** Sends bytes out (a UART's transmitter). */
  write(bytes: Uint8Array): void;
  /** Makes `frontend` the receiver of input (replacing any previous one). */
  connect(frontend: CharFrontend): void;
  /** The device has room again (the guest read its FIFO): queued input is delivered soon. */
  ready(): void;
}

// ---------------------------------------------------------------------------------------
// CPUs (since 1.4)
// ---------------------------------------------------------------------------------------
//
// A CPU plugin models one architecture's processor; the machine makes one instance per CPU
// (`MachineContext.cpu`), and the kernel schedules them against the virtual clock: it calls
// `run(budget)` in turn on each, advances the clock, fires timers and delivers interrupt
// levels with `setIrq`. Everything per instruction (decoding, registers, translation, the
// TLB) stays inside the plugin; memory is reached directly for RAM (a `RamWindow`) and
// through `CpuMemory.load`/`store` for everything else. Nothing here is specific to one
// architecture: interrupt inputs are named by the plugin, what the machine needs to describe
// the CPU (a device tree's ISA string) is the plugin's `info`.

/** How a CPU touches memory: data reads, data writes, instruction fetches. */
export type CpuAccess = 'read' | 'write' | 'fetch';

/** The page granularity of {@link CpuMemory.watch}, in bytes. */
export const CPU_PAGE_SIZE = 4096;

/**
 * Guest memory a CPU may access without a call per access: a run of one RAM region (or, for
 * reads and fetches, ROM) as the memory map places it now. Valid until the CPU's
 * {@link CpuModel.memoryChanged} is called.
 */
export interface RamWindow {
  /** First guest-physical address of the window. */
  readonly start: GuestPhysAddr;
  /** One past its last address. */
  readonly end: GuestPhysAddr;
  /**
   * The region's backing store. The byte at `start` is `bytes[offset]`; typed views for wider
   * accesses are built on `bytes.buffer` (little-endian host).
   */
  readonly bytes: Uint8Array;
  readonly offset: number;
}

/**
 * A CPU's access to guest-physical memory. `window` is the fast path for RAM; `load` and
 * `store` go through the address space (MMIO, ROM, holes) and return a result, never throw.
 */
export interface CpuMemory {
  /**
   * The direct window containing `addr` for `access`, or undefined where that access must take
   * `load`/`store`: MMIO, nothing mapped, a write to ROM.
   */
  window(addr: GuestPhysAddr, access: CpuAccess): RamWindow | undefined;
  /**
   * Loads `size` bytes at `addr` (little-endian): an unsigned number for 1, 2 and 4 bytes, a
   * bigint for 8, or why not (`decode-error` where nothing is mapped...).
   */
  load(addr: GuestPhysAddr, size: AccessSize): number | bigint | MemTxError;
  /** Stores `size` bytes at `addr` (little-endian). Tells the watchers of the page. */
  store(addr: GuestPhysAddr, size: AccessSize, value: number | bigint): MemTxResult;
  /**
   * Watches the {@link CPU_PAGE_SIZE} page containing `addr`: the next write to it that does not
   * go through a window (a device's DMA, a loader, qtest, any CPU's `store`) calls
   * {@link CpuModel.pageWritten} of every CPU watching it, and ends the watch. Every CPU's
   * {@link CpuModel.pageWatched} is called now, so that none keeps writing the page through a
   * window. This is how a CPU keeps decoded instructions (and LR/SC reservations) coherent
   * with memory. Does nothing where `addr` is not RAM.
   */
  watch(addr: GuestPhysAddr): void;
  /** Whether the page containing `addr` is watched: a CPU must not write it through a window. */
  watched(addr: GuestPhysAddr): boolean;
  /**
   * The WebAssembly memory behind the machine's main RAM, with a private scratch area for this
   * CPU, for a CPU that generates WebAssembly code (since 1.4). Undefined when the machine's
   * RAM is not backed by one (no RAM yet, a small or a very large RAM). The same object is
   * returned each time.
   */
  wasm?(): CpuWasm | undefined;
}

/** The size of a CPU's private scratch area in {@link CpuWasm}, in bytes. */
export const CPU_SCRATCH_SIZE = 65536;

/**
 * A WebAssembly memory that holds guest RAM, as a code-generating CPU sees it. WebAssembly code
 * can touch only its module's linear memory, so the kernel backs the machine's main RAM with
 * one, reserved for its full size but committed only as the guest touches it, and never grown
 * (the `RamWindow`s and every other view of the RAM stay valid). A {@link RamWindow} onto it has
 * `bytes.buffer === buffer`, and its byte offsets in `buffer` are linear-memory addresses.
 */
export interface CpuWasm {
  /** The memory's buffer (an `ArrayBuffer`, never detached). */
  readonly buffer: ArrayBuffer;
  /**
   * Byte offset in `buffer` of {@link CPU_SCRATCH_SIZE} zeroed bytes that belong to this CPU
   * alone: no guest address, DMA or other CPU reaches them. Registers, TLBs and whatever both
   * the CPU's JavaScript and its generated code must share without copies live here.
   */
  readonly scratch: number;
  /**
   * Compiles and instantiates a WebAssembly module whose import `env.memory` is this memory,
   * with the functions of `imports` as its other `env` imports; returns the instance's
   * exports. The kernel compiles: a plugin's realm may not generate WebAssembly itself. Throws
   * `E_BAD_ARGUMENT` for an invalid module.
   */
  instantiate(
    module: Uint8Array,
    imports: Readonly<Record<string, (...args: never[]) => unknown>>,
  ): Readonly<Record<string, unknown>>;
}

/**
 * The virtual clock as a CPU sees it. In deterministic mode (the default, like QEMU's
 * `-icount`) every retired instruction accounts for `nsPerInstruction` ns of virtual time;
 * in real-time mode `nsPerInstruction` is 0 and time follows the host's monotonic clock.
 */
export interface CpuClock {
  /** Virtual time in ns, as of the last `sync` in this run (deterministic mode). */
  now(): number;
  /**
   * Tells the machine that the current `run` has retired `retired` instructions so far,
   * moving virtual time to that instant (deterministic mode; never past a pending timer's
   * deadline). Call it before reading the time and before a `CpuMemory.load`/`store` that
   * may reach a device, so that the device sees the exact instant of the access.
   */
  sync(retired: number): void;
  /** ns of virtual time one retired instruction accounts for; 0 in real-time mode. */
  readonly nsPerInstruction: number;
}

/** What an instruction trace may show, with QEMU's `-d` names. */
export type CpuTraceKind =
  /** Each block of guest code as it is first decoded (QEMU `-d in_asm`). */
  | 'in_asm'
  /** Each block as it is executed (QEMU `-d exec`). */
  | 'exec'
  /** Every trap and interrupt taken, with cause, pc and trap value (QEMU `-d int`). */
  | 'int';

/** Where a CPU writes trace lines; present only when the user asked for a trace. */
export interface CpuTrace {
  /** The kinds asked for: a CPU emits only these. */
  readonly kinds: ReadonlySet<CpuTraceKind>;
  /** One line (no trailing newline); the host adds the CPU's id. */
  line(kind: CpuTraceKind, text: string): void;
}

/** What a CPU plugin's `create` receives. */
export interface CpuContext {
  /** `cpu0`, `cpu1`... */
  readonly id: string;
  /** 0-based position among the machine's CPUs (a RISC-V hart's `mhartid`). */
  readonly index: number;
  /** The plugin's options: the machine's props with the user's `-cpu` options over them. */
  readonly options: Options;
  readonly log: Logger;
  readonly memory: CpuMemory;
  readonly clock: CpuClock;
  /** Undefined unless the user asked for a trace (`--trace cpu`, `-d in_asm,int`). */
  readonly trace: CpuTrace | undefined;
  /**
   * The guest cannot go on: it is stuck where no guest code can get it out (a storm of traps
   * with no handler, such as an illegal instruction in M-mode at reset). The host shows
   * `reason` (name the pc and the cause) to the user and ends the run with an error, instead
   * of spinning forever as QEMU would. The CPU stops itself (`waiting`) after calling it.
   */
  halt(reason: string): void;
}

/**
 * A live CPU. The kernel calls `run` with a budget of instructions; the CPU returns how many
 * it retired, stopping early when it waits for an interrupt (`waiting` becomes true) or when
 * `stop()` was called. Interrupt levels arrive through `setIrq`, possibly while `run` is
 * executing (a store to an interrupt controller's register); a CPU takes them at its next
 * block boundary, not per instruction.
 */
export interface CpuModel {
  /** Executes up to `budget` (>= 1) instructions; returns how many retired. */
  run(budget: number): number;
  /** True while the CPU waits for an interrupt (RISC-V `wfi`, x86 `hlt`). */
  readonly waiting: boolean;
  /** Sets interrupt input `input` (an index into the definition's `irqInputs`) to `level`. */
  setIrq(input: number, level: 0 | 1): void;
  /** Makes a `run` in progress return at its next block boundary. */
  stop(): void;
  /** Architectural reset: registers and state as at power-on, at the reset vector. */
  reset(): void;
  /**
   * Every architectural register and piece of state as plain data, for snapshots and hot
   * reload. Default: none (such a CPU cannot be snapshotted).
   */
  saveState?(): unknown;
  /**
   * Puts the CPU back in the state `saveState` returned (a snapshot's `loadvm`), with every
   * cache of guest code and translations dropped (guest memory changed under it) and no LR
   * reservation lost that the state holds. Throws on state of the wrong shape, before changing
   * anything. Default: the CPU cannot be restored in place.
   * @since 1.6
   */
  loadState?(state: unknown): void;
  /** A write reached the watched page starting at `addr` (see {@link CpuMemory.watch}). */
  pageWritten(addr: GuestPhysAddr): void;
  /** Some CPU now watches the page at `addr`: stop writing it through a window. */
  pageWatched(addr: GuestPhysAddr): void;
  /** The memory map changed: every `RamWindow` is stale. */
  memoryChanged(): void;
  /**
   * What the machine may say about this CPU (a RISC-V `riscv,isa` string, `mmu-type`):
   * plain data, listing only what the model implements.
   */
  readonly info: Readonly<Record<string, string | number | boolean>>;
  /** Debugger access (a GDB stub). Default: the CPU cannot be debugged. */
  readonly debug?: CpuDebug;
  /** Called before the instance is dropped. Default: nothing. */
  dispose?(): void;
}

/**
 * What a debugger (emuhost's GDB stub) needs of a CPU. Register numbers and sizes are those
 * of `targetXml`, GDB's target description, so the stub knows nothing of the architecture.
 * Memory is accessed as the CPU sees it now (its translation and privilege), without side
 * effects on devices: MMIO is not touched (reads there give nothing).
 */
export interface CpuDebug {
  /** GDB's target description (`target.xml` and any file it includes, by name). */
  readonly targetXml: Readonly<Record<string, string>>;
  /** GDB's architecture name (`riscv:rv64`). */
  readonly gdbArch: string;
  /** How many registers (numbers 0..n-1) GDB's `g` packet carries; others are read one by one. */
  readonly gRegisters: number;
  /** Register `n` as little-endian bytes of its size, or undefined for an unknown number. */
  readRegister(n: number): Uint8Array | undefined;
  /** Sets register `n`; false for an unknown number or a wrong size. */
  writeRegister(n: number, value: Uint8Array): boolean;
  /** Reads up to `len` bytes at virtual `addr`; fewer (possibly none) where unmapped. */
  readMemory(addr: bigint, len: number): Uint8Array;
  /** Writes at virtual `addr`; returns how many bytes were written before an unmapped one. */
  writeMemory(addr: bigint, data: Uint8Array): number;
  /**
   * The breakpoints (virtual addresses): `run` returns before executing an instruction at
   * one of them, with `stopReason` `'breakpoint'` (the instruction does not execute).
   */
  setBreakpoints(addrs: readonly bigint[]): void;
  /** While true, `run` executes one instruction (or takes one trap) and returns, `stopReason` `'step'`. */
  singleStep: boolean;
  /** Why the last `run` returned early for the debugger, cleared by the next `run`. */
  readonly stopReason: 'breakpoint' | 'step' | undefined;
  /**
   * Called (inside `run`) when the CPU stops for the debugger, so that the stub can stop the
   * whole machine (`run` returns, but the scheduler would otherwise go on with other CPUs).
   */
  onStop: (() => void) | undefined;
  /** The program counter. */
  readonly pc: bigint;
}

/** A CPU model (`-cpu NAME` names it by the manifest id). */
export interface CpuPluginDefinition {
  readonly kind: 'cpu';
  /** The architecture (`riscv64`, `x86_64`): a machine accepts CPUs of its own only. */
  readonly arch: string;
  /** Names of the interrupt inputs; `setIrq(i, ...)` sets `irqInputs[i]`. */
  readonly irqInputs: readonly string[];
  readonly options?: Readonly<Record<string, OptionSpec>>;
  /** Version of what `saveState` returns. Default 1. */
  readonly stateVersion?: number;
  /** As for devices: converts older state, or undefined to refuse. */
  migrateState?(fromVersion: number, data: unknown): unknown;
  /** Creates a CPU; `state` is saved state to resume from, or undefined for a fresh one. */
  create(ctx: CpuContext, state: unknown): CpuModel;
}

/** A CPU as the machine that made it sees it. */
export interface CpuHandle {
  readonly id: string;
  readonly index: number;
  readonly arch: string;
  /** The CPU's {@link CpuModel.info}. */
  readonly info: Readonly<Record<string, string | number | boolean>>;
  /**
   * The setter of interrupt input `name` (one of the plugin's `irqInputs`): the machine wires
   * its interrupt controllers' outputs to it. Throws `E_UNKNOWN_ID` for another name.
   */
  irq(name: string): (level: 0 | 1) => void;
}

// ---------------------------------------------------------------------------------------
// Manifest
// ---------------------------------------------------------------------------------------

export type PluginKind = PluginDefinition['kind'];

/**
 * What a plugin may use; a handle it did not declare throws `E_CAPABILITY`. Since 1.4:
 * `block` ({@link DeviceContext.block}), `entropy`, `net`, `chardev` (the backends of the same
 * names) and `iommu-bypass` ({@link DMAContext.bypassIommu}), so that a manifest says when a
 * device may read host files or step around the IOMMU.
 */
export type Capability =
  | 'dma'
  | 'irq'
  | 'msi'
  | 'timers'
  | 'pci'
  | 'platform'
  | 'block'
  | 'entropy'
  | 'net'
  | 'chardev'
  | 'iommu-bypass';

/**
 * `emuhost.plugin.json`: validated before any plugin code runs.
 * After `emuhost build`, `entry` names the bundle and `builtWithSdk` the SDK it was built against.
 */
export interface PluginManifest {
  /** Lowercase letters, digits and `-`, starting with a letter; the name `-device` uses. */
  readonly id: string;
  /** The plugin's own version (semver). */
  readonly version: string;
  readonly kind: PluginKind;
  /** The SDK versions it works with (a semver range, e.g. `^1.0.0`). */
  readonly sdk: string;
  /** Path of the entry (source before build, bundle after), relative to the manifest. */
  readonly entry: string;
  readonly capabilities: readonly Capability[];
  readonly description?: string;
  /**
   * Other names `-device` knows this device by, and the bus each puts it on: QEMU's
   * `virtio-blk-pci` and `virtio-blk-device` are one model on two transports, so the
   * `virtio-blk-pci` plugin says `{ "virtio-blk-device": "platform" }`.
   * @since 1.4
   */
  readonly aliases?: Readonly<Record<string, 'pci' | 'platform'>>;
  /** Set by `emuhost build`. */
  readonly builtWithSdk?: string;
}
