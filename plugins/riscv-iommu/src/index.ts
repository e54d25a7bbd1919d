/**
 * riscv-iommu: the RISC-V IOMMU (specification 1.0), as QEMU's `riscv-iommu-sys` on the virt
 * machine (`-machine virt,iommu-sys=on`): a 4 KiB register block, four wired interrupts.
 *
 * What the guest programs, in its own memory and through the registers: `ddtp` (Off at
 * reset, all DMA refused; Bare, all DMA untranslated; or a 1-, 2- or 3-level device
 * directory), device contexts whose first stage is Bare (identity: what Linux's identity
 * domains use) or Sv39/Sv48 page tables, and a second stage (Sv39x4/Sv48x4) under either,
 * the command queue (IODIR.INVAL_DDT/PDT,
 * IOTINVAL.VMA/GVMA, IOFENCE.C), the fault queue, and interrupts (`icvec`, `ipsr`, wired
 * through `fctl.WSI` or MSIs through `msi_cfg_tbl`). Requesters are PCI RIDs and the
 * device_id is the RID, as the virt machine's `iommu-map` says.
 *
 * The kernel caches each translation in the requester's IOTLB until this model invalidates
 * it, and the model invalidates only when the guest's commands say so (or when `ddtp`
 * changes): a guest that forgets its IOTINVAL keeps seeing the old translation, as on
 * hardware.
 *
 * Files: `registers.ts` (layout, capabilities, state), `mmio.ts` (register accesses),
 * `ddt.ts` (device directory and context checks), `walk.ts` (Sv39/Sv48 walk),
 * `commands.ts` (command queue), `faults.ts` (fault queue and causes), `interrupts.ts`
 * (ipsr, wires, MSIs), `state.ts` (saved state), `info.ts` (`info iommu` lines),
 * `riscv-iommu.ts` (the shared object).
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
} from '@emuhost/sdk';
import { readDeviceContext } from './ddt.js';
import { causeName, FAULT, reasonOf, reportFault, TTYP_READ, TTYP_WRITE } from './faults.js';
import { infoLines } from './info.js';
import { updateWires } from './interrupts.js';
import { ACCESS_RULES, flushAll, registerOps } from './mmio.js';
import { initialRegs, MODE, REG_BLOCK_SIZE, VECTORS } from './registers.js';
import { type RiscvIommu, syncDdtp } from './riscv-iommu.js';
import { migrateState, restoreState, STATE_VERSION, saveState } from './state.js';
import { walk } from './walk.js';

/** Untranslated DMA (Bare mode, or a context whose stages are both Bare) in 1 GiB pages. */
const IDENTITY_PAGE = 2 ** 30;

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

/** The virt machine's address for the register block (QEMU's VIRT_IOMMU_SYS). */
const VIRT_BASE = 0x3010000;

export default definePlugin({
  kind: 'iommu',
  options: {
    base: {
      type: 'number',
      default: VIRT_BASE,
      description: 'guest-physical address of the 4 KiB register block (virt: 0x3010000)',
    },
    sv48: {
      type: 'boolean',
      default: false,
      description:
        'also implement and advertise Sv48 and Sv48x4 (Linux then builds 4-level I/O page tables; default: Sv39/Sv39x4 only, like the virt CPU)',
    },
  },
  stateVersion: STATE_VERSION,
  migrateState,
  create(ctx, saved) {
    const base = ctx.options.base as number;
    if (!Number.isSafeInteger(base) || base < 0 || base % 4096 !== 0)
      throw new EmuhostError(
        'E_OPTION',
        `base must be a 4 KiB-aligned guest-physical address, not ${String(base)}`,
        { device: ctx.id },
      );
    const restored = saved === undefined ? undefined : restoreState(saved);
    if (saved !== undefined && restored === undefined)
      ctx.log.warn('saved state has an unexpected shape: starting from reset values');
    // What the driver probed stays: a reload does not change the capabilities under it.
    const sv48 = restored?.sv48 ?? ctx.options.sv48 === true;
    if (sv48 !== (ctx.options.sv48 === true))
      ctx.log.warn(
        `sv48=${ctx.options.sv48 === true}: kept at ${sv48}, as the running guest saw it`,
      );
    const wires = Array.from({ length: VECTORS }, (_, v) => ctx.platform.irq(`wsi${v}`));
    const m: RiscvIommu = {
      ctx,
      sv48,
      r: restored?.regs ?? initialRegs(),
      contexts: restored?.contexts ?? new Map(),
      wires: wires.map((w) => (level: 0 | 1) => w.set(level)),
      wireLevels: wires.map((w) => w.level),
      recent: restored?.recent ?? [],
      ddtMode: 0,
      ddtRoot: 0,
    };
    syncDdtp(m);
    ctx.platform.map(
      ctx.mmio('regs', REG_BLOCK_SIZE, registerOps(m), ACCESS_RULES),
      base as GuestPhysAddr,
    );
    // A fresh instance may replace one whose translations the kernel still caches.
    if (restored === undefined) ctx.host.invalidate({});
    updateWires(m);

    const refuse = (
      cause: number,
      a: number,
      isWrite: boolean,
      req: IommuRequest,
      silent: boolean,
      gpa?: number,
    ): IommuFault => {
      const did = req.requesterId & 0xffffff;
      let what = 'not reported (DTF)';
      if (req.probe) what = 'probe, not reported';
      else if (!silent)
        what = `fault queue: ${reportFault(m, {
          cause,
          ttyp: isWrite ? TTYP_WRITE : TTYP_READ,
          did,
          iotval: a,
          // A guest-page fault's GPA, bits 63:2.
          ...(gpa !== undefined && { iotval2: Math.floor(gpa / 4) * 4 }),
        })}`;
      const detail = `cause ${cause} (${causeName(cause)}), device_id 0x${did.toString(16)}, ${isWrite ? 'write' : 'read'} 0x${a.toString(16)}; ${what}`;
      if (!req.probe && !silent) {
        if (m.recent.length >= 8) m.recent.shift();
        m.recent.push(detail);
      }
      return { kind: 'fault', reason: reasonOf(cause), detail };
    };

    return {
      translate(a: Iova, access: DmaAccess, req: IommuRequest): IommuEntry | IommuFault {
        const isWrite = access === 'write';
        const mode = m.ddtMode;
        if (mode === MODE.BARE) return identity(a);
        if (mode === MODE.OFF) return refuse(FAULT.ALL_DISALLOWED, a, isWrite, req, false);
        const did = req.requesterId & 0xffffff;
        let dc = m.contexts.get(did);
        if (dc === undefined) {
          const r = readDeviceContext(m, mode, m.ddtRoot, did);
          if (typeof r === 'number') return refuse(r, a, isWrite, req, false);
          dc = r;
          m.contexts.set(did, dc);
        }
        if (dc.fscMode === 0 && dc.gMode === 0) return identity(a);
        const e = walk(m, dc, a, isWrite);
        return 'cause' in e ? refuse(e.cause, a, isWrite, req, dc.dtf, e.gpa) : e;
      },
      reset() {
        m.r = initialRegs();
        syncDdtp(m);
        flushAll(m);
        updateWires(m);
      },
      saveState: () => saveState(m.r, m.contexts, m.recent, m.sv48),
      info: () => infoLines(m),
    };
  },
});
