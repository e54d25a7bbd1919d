/**
 * A DMA context as a plugin instance holds it: the kernel's context behind a lifetime check.
 * The kernel context (and its live mappings) belongs to the device slot and outlives the
 * instance; this handle does not, and neither do the mapping handles it gives out: after a
 * reload the old instance's handle on a mapping is revoked while the new instance holds
 * another handle on the same kernel mapping (`adoptMappings`).
 */
import type {
  DMAContext,
  DmaAccess,
  DmaError,
  DmaMapping,
  DmaResult,
  DmaSgEntry,
  DmaSgResult,
  Iova,
} from '@emuhost/sdk';
import type { Lifetime } from './lifetime.js';

/** The kernel's side of the context: the SDK calls plus what adoption needs. */
export interface KernelDma extends DMAContext {
  adoptMappings(onInvalidate?: (m: DmaMapping) => void): readonly DmaMapping[];
}

/**
 * A mapping as one instance holds it. `store` is not in the SDK: it is how a sandboxed
 * holder's copy of the bytes comes home before its instance goes (see the membrane's flush);
 * a trusted plugin gets the same object, and may call it, as it may write `bytes`.
 */
export interface MappingHandle extends DmaMapping {
  /** Copies `data` into the mapping's bytes at `offset`; false if the mapping is no longer valid. */
  store(offset: number, data: Uint8Array): boolean;
}

function mappingHandle(m: DmaMapping, life: Lifetime): MappingHandle {
  return Object.freeze({
    bytes: m.bytes,
    addr: m.addr,
    access: m.access,
    shortfall: m.shortfall,
    direct: m.direct,
    get valid() {
      return !life.revoked && m.valid;
    },
    release(written: number): DmaResult {
      life.check('dma.mapping.release');
      return m.release(written);
    },
    store(offset: number, data: Uint8Array): boolean {
      life.check('dma.mapping.store');
      if (!m.valid) return false;
      const at = Math.max(0, Math.min(Math.trunc(offset) || 0, m.bytes.length));
      m.bytes.set(data.subarray(0, m.bytes.length - at), at);
      return true;
    },
  });
}

const isMapping = (r: DmaMapping | DmaError): r is DmaMapping =>
  typeof (r as DmaMapping).release === 'function';

/**
 * `bypass`, when given, carries out `bypassIommu` (the registry's per-context bypass, after
 * the capability check); without it the facade has no `bypassIommu` (an IOMMU's own memory).
 */
export function dmaFacade(
  ctx: KernelDma,
  life: Lifetime,
  bypass?: (on: boolean) => void,
): DMAContext {
  return Object.freeze({
    ...(bypass !== undefined && {
      bypassIommu(on: boolean): void {
        life.check('dma.bypassIommu');
        bypass(on === true);
      },
    }),
    read(a: Iova, into: Uint8Array): DmaResult {
      life.check('dma.read');
      return ctx.read(a, into);
    },
    write(a: Iova, data: Uint8Array): DmaResult {
      life.check('dma.write');
      return ctx.write(a, data);
    },
    fill(a: Iova, byte: number, len: number): DmaResult {
      life.check('dma.fill');
      return ctx.fill(a, byte, len);
    },
    canAccess(a: Iova, len: number, access: DmaAccess): boolean {
      life.check('dma.canAccess');
      return ctx.canAccess(a, len, access);
    },
    map(
      a: Iova,
      len: number,
      access: DmaAccess,
      onInvalidate?: (m: DmaMapping) => void,
    ): DmaMapping | DmaError {
      life.check('dma.map');
      let h: MappingHandle | undefined;
      const r = ctx.map(
        a,
        len,
        access,
        onInvalidate === undefined ? undefined : () => onInvalidate(h!),
      );
      if (!isMapping(r)) return r;
      h = mappingHandle(r, life);
      return h;
    },
    adoptMappings(onInvalidate?: (m: DmaMapping) => void): readonly DmaMapping[] {
      life.check('dma.adoptMappings');
      const handles = new Map<DmaMapping, MappingHandle>();
      const adopted = ctx.adoptMappings(
        onInvalidate === undefined ? undefined : (m) => onInvalidate(handles.get(m)!),
      );
      for (const m of adopted) handles.set(m, mappingHandle(m, life));
      return Object.freeze([...handles.values()]);
    },
    readU8(a: Iova): number | DmaError {
      life.check('dma.readU8');
      return ctx.readU8(a);
    },
    readU16LE(a: Iova): number | DmaError {
      life.check('dma.readU16LE');
      return ctx.readU16LE(a);
    },
    readU16BE(a: Iova): number | DmaError {
      life.check('dma.readU16BE');
      return ctx.readU16BE(a);
    },
    readU32LE(a: Iova): number | DmaError {
      life.check('dma.readU32LE');
      return ctx.readU32LE(a);
    },
    readU32BE(a: Iova): number | DmaError {
      life.check('dma.readU32BE');
      return ctx.readU32BE(a);
    },
    readU64LE(a: Iova): bigint | DmaError {
      life.check('dma.readU64LE');
      return ctx.readU64LE(a);
    },
    readU64BE(a: Iova): bigint | DmaError {
      life.check('dma.readU64BE');
      return ctx.readU64BE(a);
    },
    writeU8(a: Iova, v: number): DmaResult {
      life.check('dma.writeU8');
      return ctx.writeU8(a, v);
    },
    writeU16LE(a: Iova, v: number): DmaResult {
      life.check('dma.writeU16LE');
      return ctx.writeU16LE(a, v);
    },
    writeU16BE(a: Iova, v: number): DmaResult {
      life.check('dma.writeU16BE');
      return ctx.writeU16BE(a, v);
    },
    writeU32LE(a: Iova, v: number): DmaResult {
      life.check('dma.writeU32LE');
      return ctx.writeU32LE(a, v);
    },
    writeU32BE(a: Iova, v: number): DmaResult {
      life.check('dma.writeU32BE');
      return ctx.writeU32BE(a, v);
    },
    writeU64LE(a: Iova, v: bigint): DmaResult {
      life.check('dma.writeU64LE');
      return ctx.writeU64LE(a, v);
    },
    writeU64BE(a: Iova, v: bigint): DmaResult {
      life.check('dma.writeU64BE');
      return ctx.writeU64BE(a, v);
    },
    readSg(sg: readonly DmaSgEntry[], into: Uint8Array): DmaSgResult {
      life.check('dma.readSg');
      return ctx.readSg(sg, into);
    },
    writeSg(sg: readonly DmaSgEntry[], data: Uint8Array): DmaSgResult {
      life.check('dma.writeSg');
      return ctx.writeSg(sg, data);
    },
  });
}
