/**
 * An IOMMU instance: one registered IOMMU model with its name, the host interface handed to
 * it, and the kernel's checks around `translate` (a model that throws or answers with an
 * entry that does not contain the IOVA produces a `model-error` fault, never a crash).
 */
import {
  type DmaAccess,
  hex,
  type IommuEntry,
  type IommuFault,
  type IommuModel,
  type IommuRequest,
  type Iova,
} from '@emuhost/sdk';
import { isPowerOfTwo } from '../bits.js';
import type { IommuFaultEvent } from '../hooks.js';

/** How many recent faults an instance keeps for `info` views. */
const RECENT_FAULTS = 32;

export class IommuInstance {
  /** Recent faults, oldest first (bounded). */
  readonly recentFaults: IommuFaultEvent[] = [];
  faults = 0;
  translations = 0;

  constructor(
    readonly name: string,
    readonly model: IommuModel,
  ) {}

  /** Translates with the kernel's checks. Never throws. */
  translate(iova: number, access: DmaAccess, req: IommuRequest): IommuEntry | IommuFault {
    this.translations++;
    let e: IommuEntry | IommuFault;
    try {
      e = this.model.translate(iova as Iova, access, req);
    } catch (err) {
      return { kind: 'fault', reason: 'model-error', detail: `translate threw: ${String(err)}` };
    }
    if (e === null || typeof e !== 'object') {
      return { kind: 'fault', reason: 'model-error', detail: 'translate returned no entry' };
    }
    if (e.kind === 'fault') return e;
    const bad = checkEntry(e, iova);
    return bad === undefined ? e : { kind: 'fault', reason: 'model-error', detail: bad };
  }

  recordFault(ev: IommuFaultEvent): void {
    this.faults++;
    if (this.recentFaults.length >= RECENT_FAULTS) this.recentFaults.shift();
    this.recentFaults.push(ev);
  }
}

function checkEntry(e: IommuEntry, iova: number): string | undefined {
  const { pageSize, perm } = e;
  if (!isPowerOfTwo(pageSize) || pageSize < 4096) {
    return `page size ${pageSize} is not a power of two >= 4096`;
  }
  if (e.iova % pageSize !== 0 || e.translated % pageSize !== 0) {
    return `entry ${hex(e.iova)} -> ${hex(e.translated)} is not aligned to its page size ${hex(pageSize)}`;
  }
  if (!(e.iova <= iova && iova < e.iova + pageSize)) {
    return `entry ${hex(e.iova)}+${hex(pageSize)} does not contain ${hex(iova)}`;
  }
  if (perm !== 'none' && perm !== 'read' && perm !== 'write' && perm !== 'read-write') {
    return `unknown permission '${String(perm)}'`;
  }
  if (!Number.isSafeInteger(e.translated) || e.translated < 0) {
    return `translated address ${String(e.translated)} is not an integer in [0, 2^53)`;
  }
  return undefined;
}
