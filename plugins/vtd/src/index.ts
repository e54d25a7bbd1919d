/**
 * vtd: an Intel VT-d DMA-remapping unit (legacy mode), as QEMU's
 * `-device intel-iommu,aw-bits=39|48,intremap=off,caching-mode=on|off`.
 *
 * What the guest programs, all in its own memory and through the register block at `base`:
 * a root table (RTADDR + GCMD.SRTP), context tables, second-level page tables of 3 or 4
 * levels with 2 MiB and 1 GiB pages, translation enable (GCMD.TE), invalidation through CCMD
 * and IOTLB_REG or through the invalidation queue (IQA/IQH/IQT, GCMD.QIE), and fault
 * reporting (fault recording registers, FSTS, FECTL and a fault-event message).
 *
 * The kernel caches each translation in the requester's IOTLB until this model invalidates
 * it, and the model invalidates only when the guest asks (or when SRTP, TE or a
 * context-cache invalidation makes translations change wholesale): a guest that forgets to
 * invalidate keeps seeing the old translation, as on hardware. See README.md.
 *
 * Files: `registers.ts` (layout, CAP/ECAP, state), `mmio.ts` (register accesses),
 * `tables.ts` (root/context entries and the second-level walk), `invalidation.ts` (context
 * cache, IOTLB, invalidation queue), `faults.ts` (fault recording and interrupt events).
 */
import {
  type DmaAccess,
  definePlugin,
  EmuhostError,
  type GuestPhysAddr,
  type IommuEntry,
  type IommuFault,
  type IommuRequest,
  type Iova,
  iova,
  type Options,
} from '@emuhost/sdk';
import { isQualified, recordFault } from './faults.js';
import { ACCESS_RULES, registerOps } from './mmio.js';
import {
  copyState,
  GSTS_TES,
  initialState,
  REG_BLOCK_SIZE,
  restoreState,
  type VtdConfig,
} from './registers.js';
import { readContext, type WalkFault, walk } from './tables.js';
import { flushAll, restoreContexts, saveContexts, type Vtd } from './vtd.js';

/** Identity translations (TE clear, or a pass-through context) come in 1 GiB pages. */
const IDENTITY_PAGE = 2 ** 30;

/**
 * The interrupt address range, 0xFEEx_xxxx. Requests to it are interrupt requests, never
 * DMA-remapped (spec 3.14): writes reach the interrupt window untranslated whatever the
 * tables say (interrupt remapping is not implemented, so they pass as compatibility-format
 * interrupts); reads are refused and not recorded as DMA-remapping faults.
 */
const INTR_BASE = 0xfee00000;
const INTR_SIZE = 0x100000;

/**
 * A translation whose page overlaps the interrupt range, narrowed to the largest aligned
 * page around `a` that does not (the range is 1 MiB, 1 MiB-aligned, and `a` lies outside
 * it), so that the kernel never caches a translation covering interrupt addresses.
 */
function outsideInterruptRange(e: IommuEntry, a: number): IommuEntry {
  let start: number = e.iova;
  let size = e.pageSize;
  if (start >= INTR_BASE + INTR_SIZE || start + size <= INTR_BASE) return e;
  while (start < INTR_BASE + INTR_SIZE && INTR_BASE < start + size) {
    size /= 2;
    start = Math.floor(a / size) * size;
  }
  return {
    ...e,
    iova: iova(start),
    translated: (e.translated + (start - e.iova)) as GuestPhysAddr,
    pageSize: size,
  };
}

const INTR_WRITE: IommuEntry = {
  kind: 'entry',
  iova: iova(INTR_BASE),
  translated: INTR_BASE as GuestPhysAddr,
  pageSize: INTR_SIZE,
  perm: 'write',
};

const isWalkFault = (x: object): x is WalkFault => (x as WalkFault).kind === 'walk-fault';

function identity(a: number): IommuEntry {
  const page = Math.floor(a / IDENTITY_PAGE) * IDENTITY_PAGE;
  return {
    kind: 'entry',
    iova: iova(page),
    translated: page as GuestPhysAddr,
    pageSize: IDENTITY_PAGE,
    perm: 'read-write',
  };
}

/** QEMU's -device intel-iommu property names, accepted as well (they win when given). */
const QEMU_NAMES = { aw_bits: 'aw-bits', caching_mode: 'caching-mode' } as const;

function config(options: Options, device: string): { cfg: VtdConfig; base: number } {
  const opt = (name: keyof typeof QEMU_NAMES) => options[QEMU_NAMES[name]] ?? options[name];
  const ir = options.intremap;
  if (ir !== undefined && !['off', 'false', 'no', '0', 'auto'].includes(String(ir).toLowerCase())) {
    throw new EmuhostError(
      'E_OPTION',
      `intremap=${String(ir)}: interrupt remapping is not implemented (use intremap=off)`,
      { device },
    );
  }
  const aw = opt('aw_bits');
  if (aw !== 39 && aw !== 48) {
    throw new EmuhostError(
      'E_OPTION',
      `aw_bits must be 39 (3-level tables) or 48 (4-level tables), not ${String(aw)}`,
      { device },
    );
  }
  const base = options.base as number;
  if (!Number.isSafeInteger(base) || base < 0 || base % 4096 !== 0 || base >= 2 ** 52) {
    throw new EmuhostError(
      'E_OPTION',
      `base must be a 4 KiB-aligned guest-physical address, not ${String(base)}`,
      { device },
    );
  }
  return { cfg: { awBits: aw, haw: aw, cachingMode: opt('caching_mode') === true }, base };
}

export default definePlugin({
  kind: 'iommu',
  options: {
    base: {
      type: 'number',
      default: 0xfed90000,
      description: 'guest-physical address of the 4 KiB register block (q35: 0xfed90000)',
    },
    aw_bits: {
      type: 'number',
      default: 39,
      description:
        'guest address width: 39 (3-level second-level tables) or 48 (3- or 4-level); sets CAP.SAGAW and CAP.MGAW',
    },
    caching_mode: {
      type: 'boolean',
      default: false,
      description:
        'report CAP.CM = 1 (the guest then also invalidates after making entries present; the model never caches not-present entries either way)',
    },
    'aw-bits': { type: 'number', description: "QEMU's name for aw_bits (wins when given)" },
    'caching-mode': {
      type: 'boolean',
      description: "QEMU's name for caching_mode (wins when given)",
    },
    intremap: {
      type: 'string',
      description: 'interrupt remapping: only off (or auto, meaning off) is accepted',
    },
  },
  // 2: the context cache is saved beside the registers (1 had the registers only).
  stateVersion: 2,
  migrateState: (from, data) => (from === 1 ? data : undefined),
  create(ctx, saved) {
    const { cfg, base } = config(ctx.options, ctx.id);
    let state = saved === undefined ? initialState() : restoreState(saved);
    if (state === undefined) {
      ctx.log.warn('saved state has an unexpected shape: starting from reset values');
      state = initialState();
    }
    const cache =
      saved === undefined
        ? new Map()
        : restoreContexts((saved as { contextCache?: unknown } | null)?.contextCache);
    const v: Vtd = { ctx, cfg, s: state, contexts: cache ?? new Map() };
    const regs = ctx.mmio('regs', REG_BLOCK_SIZE, registerOps(v), ACCESS_RULES);
    ctx.platform.map(regs, base as GuestPhysAddr);
    // Restored without its context cache (state v1, or a bad one): drop whatever the kernel
    // may still hold for this IOMMU, so that every cached translation has its context here.
    // With it, the instance is the old one as far as the guest and the kernel can tell, and
    // live mappings survive a reload of the code.
    if (cache === undefined) ctx.host.invalidate({});

    const refuse = (f: WalkFault, a: number, isWrite: boolean, req: IommuRequest): IommuFault => {
      if (!req.probe && !(f.fpd && isQualified(f.fr)))
        recordFault(v, req.requesterId, a, f.fr, !isWrite);
      return {
        kind: 'fault',
        reason: f.reason,
        detail: `VT-d fault reason 0x${f.fr.toString(16)}${f.fpd && isQualified(f.fr) ? ' (FPD: not recorded)' : ''}`,
      };
    };

    return {
      translate(a: Iova, access: DmaAccess, req: IommuRequest): IommuEntry | IommuFault {
        if ((v.s.gsts & GSTS_TES) === 0) return identity(a);
        const isWrite = access === 'write';
        if (a >= INTR_BASE && a < INTR_BASE + INTR_SIZE) {
          if (isWrite) return INTR_WRITE;
          return { kind: 'fault', reason: 'permission', detail: 'read of the interrupt range' };
        }
        const rid = req.requesterId & 0xffff;
        let c = v.contexts.get(rid);
        if (c === undefined) {
          const r = readContext(v, rid);
          if (isWalkFault(r)) return refuse(r, a, isWrite, req);
          c = r;
          v.contexts.set(rid, c);
        }
        if (c.passThrough) return outsideInterruptRange(identity(a), a);
        const e = walk(v, c, a, isWrite);
        return isWalkFault(e) ? refuse(e, a, isWrite, req) : outsideInterruptRange(e, a);
      },
      reset() {
        v.s = initialState();
        flushAll(v);
      },
      saveState: () => ({ ...copyState(v.s), contextCache: saveContexts(v.contexts) }),
    };
  },
});
