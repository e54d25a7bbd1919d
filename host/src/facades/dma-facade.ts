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
import type { ArgChecks } from './checks.js';
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

function mappingHandle(m: DmaMapping, life: Lifetime, arg: ArgChecks): MappingHandle {
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
      return m.release(arg.num(written, 'mapping.release: written'));
    },
    store(offset: number, data: Uint8Array): boolean {
      life.check('dma.mapping.store');
      arg.num(offset, 'mapping.store: offset');
      arg.bytes(data, 'mapping.store: data');
      if (!m.valid) return false;
      const at = Math.max(0, Math.min(Math.trunc(offset) || 0, m.bytes.length));
      m.bytes.set(data.subarray(0, m.bytes.length - at), at);
      return true;
    },
  });
}

const isMapping = (r: DmaMapping | DmaError): r is DmaMapping =>
  typeof (r as DmaMapping).release === 'function';

const ACCESS = ['read', 'write'] as const;

/** A scatter-gather list as the plugin gave it, checked entry by entry and copied. */
function sgList(arg: ArgChecks, sg: unknown, what: string): DmaSgEntry[] {
  if (!Array.isArray(sg)) arg.fail(what, 'an array', sg);
  const out: DmaSgEntry[] = [];
  for (let i = 0; i < sg.length; i++) {
    const e = arg.obj(sg[i], `${what}[${i}]`);
    out.push({
      addr: arg.num(e.addr, `${what}[${i}].addr`) as Iova,
      len: arg.num(e.len, `${what}[${i}].len`),
    });
  }
  return out;
}

/**
 * The DMA context facade. Each method checks the lifetime, then its arguments (`arg`; the
 * checks of the other handles of the same instance, so errors name the plugin and device).
 * `bypass`, when given, carries out `bypassIommu` (the registry's per-context bypass, after
 * the capability check); without it the facade has no `bypassIommu` (an IOMMU's own memory).
 */
export function dmaFacade(
  ctx: KernelDma,
  life: Lifetime,
  arg: ArgChecks,
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
      return ctx.read(arg.num(a, 'dma.read: addr') as Iova, arg.bytes(into, 'dma.read: into'));
    },
    write(a: Iova, data: Uint8Array): DmaResult {
      life.check('dma.write');
      return ctx.write(arg.num(a, 'dma.write: addr') as Iova, arg.bytes(data, 'dma.write: data'));
    },
    fill(a: Iova, byte: number, len: number): DmaResult {
      life.check('dma.fill');
      return ctx.fill(
        arg.num(a, 'dma.fill: addr') as Iova,
        arg.num(byte, 'dma.fill: byte'),
        arg.num(len, 'dma.fill: len'),
      );
    },
    canAccess(a: Iova, len: number, access: DmaAccess): boolean {
      life.check('dma.canAccess');
      return ctx.canAccess(
        arg.num(a, 'dma.canAccess: addr') as Iova,
        arg.num(len, 'dma.canAccess: len'),
        arg.oneOf(access, 'dma.canAccess: access', ACCESS),
      );
    },
    map(
      a: Iova,
      len: number,
      access: DmaAccess,
      onInvalidate?: (m: DmaMapping) => void,
    ): DmaMapping | DmaError {
      life.check('dma.map');
      arg.num(a, 'dma.map: addr');
      arg.num(len, 'dma.map: len');
      arg.oneOf(access, 'dma.map: access', ACCESS);
      arg.optFn(onInvalidate, 'dma.map: onInvalidate');
      let h: MappingHandle | undefined;
      const r = ctx.map(
        a,
        len,
        access,
        onInvalidate === undefined ? undefined : () => onInvalidate(h!),
      );
      if (!isMapping(r)) return r;
      h = mappingHandle(r, life, arg);
      return h;
    },
    adoptMappings(onInvalidate?: (m: DmaMapping) => void): readonly DmaMapping[] {
      life.check('dma.adoptMappings');
      arg.optFn(onInvalidate, 'dma.adoptMappings: onInvalidate');
      const handles = new Map<DmaMapping, MappingHandle>();
      const adopted = ctx.adoptMappings(
        onInvalidate === undefined ? undefined : (m) => onInvalidate(handles.get(m)!),
      );
      for (const m of adopted) handles.set(m, mappingHandle(m, life, arg));
      return Object.freeze([...handles.values()]);
    },
    readU8(a: Iova): number | DmaError {
      life.check('dma.readU8');
      return ctx.readU8(arg.num(a, 'dma.readU8: addr') as Iova);
    },
    readU16LE(a: Iova): number | DmaError {
      life.check('dma.readU16LE');
      return ctx.readU16LE(arg.num(a, 'dma.readU16LE: addr') as Iova);
    },
    readU16BE(a: Iova): number | DmaError {
      life.check('dma.readU16BE');
      return ctx.readU16BE(arg.num(a, 'dma.readU16BE: addr') as Iova);
    },
    readU32LE(a: Iova): number | DmaError {
      life.check('dma.readU32LE');
      return ctx.readU32LE(arg.num(a, 'dma.readU32LE: addr') as Iova);
    },
    readU32BE(a: Iova): number | DmaError {
      life.check('dma.readU32BE');
      return ctx.readU32BE(arg.num(a, 'dma.readU32BE: addr') as Iova);
    },
    readU64LE(a: Iova): bigint | DmaError {
      life.check('dma.readU64LE');
      return ctx.readU64LE(arg.num(a, 'dma.readU64LE: addr') as Iova);
    },
    readU64BE(a: Iova): bigint | DmaError {
      life.check('dma.readU64BE');
      return ctx.readU64BE(arg.num(a, 'dma.readU64BE: addr') as Iova);
    },
    writeU8(a: Iova, v: number): DmaResult {
      life.check('dma.writeU8');
      return ctx.writeU8(arg.num(a, 'dma.writeU8: addr') as Iova, arg.num(v, 'dma.writeU8: value'));
    },
    writeU16LE(a: Iova, v: number): DmaResult {
      life.check('dma.writeU16LE');
      return ctx.writeU16LE(
        arg.num(a, 'dma.writeU16LE: addr') as Iova,
        arg.num(v, 'dma.writeU16LE: value'),
      );
    },
    writeU16BE(a: Iova, v: number): DmaResult {
      life.check('dma.writeU16BE');
      return ctx.writeU16BE(
        arg.num(a, 'dma.writeU16BE: addr') as Iova,
        arg.num(v, 'dma.writeU16BE: value'),
      );
    },
    writeU32LE(a: Iova, v: number): DmaResult {
      life.check('dma.writeU32LE');
      return ctx.writeU32LE(
        arg.num(a, 'dma.writeU32LE: addr') as Iova,
        arg.num(v, 'dma.writeU32LE: value'),
      );
    },
    writeU32BE(a: Iova, v: number): DmaResult {
      life.check('dma.writeU32BE');
      return ctx.writeU32BE(
        arg.num(a, 'dma.writeU32BE: addr') as Iova,
        arg.num(v, 'dma.writeU32BE: value'),
      );
    },
    writeU64LE(a: Iova, v: bigint): DmaResult {
      life.check('dma.writeU64LE');
      return ctx.writeU64LE(
        arg.num(a, 'dma.writeU64LE: addr') as Iova,
        arg.big(v, 'dma.writeU64LE: value'),
      );
    },
    writeU64BE(a: Iova, v: bigint): DmaResult {
      life.check('dma.writeU64BE');
      return ctx.writeU64BE(
        arg.num(a, 'dma.writeU64BE: addr') as Iova,
        arg.big(v, 'dma.writeU64BE: value'),
      );
    },
    readSg(sg: readonly DmaSgEntry[], into: Uint8Array): DmaSgResult {
      life.check('dma.readSg');
      return ctx.readSg(sgList(arg, sg, 'dma.readSg: sg'), arg.bytes(into, 'dma.readSg: into'));
    },
    writeSg(sg: readonly DmaSgEntry[], data: Uint8Array): DmaSgResult {
      life.check('dma.writeSg');
      return ctx.writeSg(sgList(arg, sg, 'dma.writeSg: sg'), arg.bytes(data, 'dma.writeSg: data'));
    },
  });
}
