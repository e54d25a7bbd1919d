/**
 * The kernel's extension points: every tapable hook the kernel calls, in one frozen object,
 * grouped by phase. Tap names are plugin ids (or `emuhost:<subsystem>` for the kernel's own).
 *
 * Per-access paths (MMIO dispatch, DMA bytes) never call a hook unconditionally: they call
 * only where a hook has taps (see `isTapped`), so an untapped hook costs one field read.
 */
import type { DmaAccess, IommuFaultReason, IommuInvalidation, MemTxError } from '@emuhost/sdk';
import { SyncHook } from 'tapable';

/** An access that would have re-entered a device already inside one of its callbacks. */
export interface ReentrancyEvent {
  /** The device (guard owner) that was re-entered. */
  readonly device: string;
  /** What tried to re-enter: `mmio`, `dma`, `timer` or `deferred`. */
  readonly via: GuardSite;
  /** Where the blocked access was headed, when it was an MMIO access. */
  readonly at?: RegionOffset;
}

/** A place inside a region: its name and the offset from its start, in bytes. */
export interface RegionOffset {
  readonly region: string;
  readonly offset: number;
}

/** A device callback that threw: the device is quarantined. */
export interface DeviceFaultEvent {
  readonly device: string;
  /** The plugin behind the device, when a plugin is. */
  readonly plugin?: string;
  /** The error's stack (or its text when it has none). */
  readonly stack: string;
  /** The callback that threw. */
  readonly site: GuardSite;
  readonly error: unknown;
  /** The access being served, when the callback was an MMIO one. */
  readonly at?: RegionOffset;
  /**
   * Which callback of its site, when the site alone does not say: the timer's name
   * (`edu0.fact`), the config write (`0x40, 4 bytes`), the mapping (`0x5000+0x10`).
   */
  readonly detail?: string;
}

/** One DMA transfer (or one translated piece of it), for tracing. */
export interface DmaTraceEvent {
  readonly device: string;
  readonly requesterId: number;
  readonly access: DmaAccess | 'map';
  readonly iova: number;
  /** The guest-physical address it reached (equal to `iova` without an IOMMU). */
  readonly translated: number;
  readonly len: number;
  readonly result: 'ok' | MemTxError | 'bounce-exhausted';
  /** The IOMMU that translated it, or null. */
  readonly iommu: string | null;
}

/** An IOMMU refused a translation (not reported for probes). */
export interface IommuFaultEvent {
  readonly iommu: string;
  readonly device: string;
  readonly requesterId: number;
  readonly iova: number;
  readonly access: DmaAccess;
  readonly reason: IommuFaultReason;
  readonly detail?: string;
}

/** An IOMMU model invalidated cached translations. */
export interface IommuInvalidateEvent {
  readonly iommu: string;
  readonly scope: IommuInvalidation;
  /** IOTLB entries dropped, over all affected requesters. */
  readonly entries: number;
  /** Live mappings invalidated. */
  readonly mappings: number;
}

/** The IOMMU bound to a requester changed. */
export interface IommuRebindEvent {
  readonly device: string;
  readonly requesterId: number;
  readonly from: string | null;
  readonly to: string | null;
  /** Live mappings the new translation refused or moved, now invalid. */
  readonly revokedMappings: number;
}

/** Where kernel code calls into a device. */
export type GuardSite =
  | 'mmio-read'
  | 'mmio-write'
  | 'config-write'
  | 'dma'
  | 'timer'
  | 'deferred'
  | 'setup'
  | 'reset'
  | 'unrealize';

/** Creates the kernel's hooks; one set per machine. */
export function createKernelHooks() {
  return Object.freeze({
    device: Object.freeze({
      /** A device was realized and attached. */
      added: new SyncHook<[deviceId: string]>(['deviceId']),
      /** A device was unrealized and detached; everything it held is released. */
      removed: new SyncHook<[deviceId: string]>(['deviceId']),
      /** A device was reset (alone, or as part of a machine reset). */
      reset: new SyncHook<[deviceId: string]>(['deviceId']),
    }),
    memory: Object.freeze({
      /** The flat view of an address space was re-rendered (after a transaction). */
      topologyChanged: new SyncHook<[spaceName: string, version: number]>(['spaceName', 'version']),
    }),
    dma: Object.freeze({
      /** Every DMA transfer (each translated piece). Only called while tapped. */
      transfer: new SyncHook<[DmaTraceEvent]>(['event']),
    }),
    iommu: Object.freeze({
      /** A translation was refused for a real (not probing) access. */
      fault: new SyncHook<[IommuFaultEvent]>(['event']),
      /** Cached translations were dropped. */
      invalidate: new SyncHook<[IommuInvalidateEvent]>(['event']),
      /** A requester's IOMMU binding changed (bind, unbind, swap). */
      rebind: new SyncHook<[IommuRebindEvent]>(['event']),
    }),
    guard: Object.freeze({
      /** An access was refused by the re-entrancy guard. */
      reentrancyBlocked: new SyncHook<[ReentrancyEvent]>(['event']),
      /** A device callback threw; the device is now quarantined. */
      deviceFault: new SyncHook<[DeviceFaultEvent]>(['event']),
    }),
  });
}

export type KernelHooks = ReturnType<typeof createKernelHooks>;

/** True when someone tapped `hook` (or intercepts it): the cheap check before calling it. */
export function isTapped(hook: { taps: readonly unknown[]; interceptors: readonly unknown[] }) {
  return hook.taps.length !== 0 || hook.interceptors.length !== 0;
}
