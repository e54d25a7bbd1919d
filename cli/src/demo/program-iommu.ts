/**
 * Step 3: the guest programs VT-d like an OS does. The unit itself holds no mappings: the
 * guest writes a root table, a context entry for edu's requester id (its domain, its page
 * table) and 3-level page tables into its own RAM, then tells the unit where the root table
 * is (RTADDR + SRTP), flushes what the unit may have cached, and turns translation on (TE).
 * From then on every DMA edu makes is translated by walking those tables.
 */
import { formatDevfn } from '@emuhost/core';
import type { DemoContext, DemoStep } from './context.js';
import { BACKING_PAGES, GuestPages, IOVA_BASE, PAGE } from './guest-memory.js';
import { hex } from './report.js';
import { RTPS, TE, VtdGuest } from './vtd.js';

/** A requester id as bus:device.function. */
const devfn = (rid: number) => formatDevfn(rid & 0xff, rid >>> 8);

export const programIommu: DemoStep = {
  title: 'program VT-d in guest memory (root, context and page tables)',
  run(demo: DemoContext, out) {
    const { iommu, iommuBase } = demo.target;
    const vtd = new VtdGuest(demo.drv, iommuBase, new GuestPages(demo.drv));
    const l = vtd.layout;
    out.expect(`VT-d version register at ${hex(iommuBase)}`, l.version, '1.0');
    out.require(
      'CAP.SAGAW',
      l.threeLevel,
      '39-bit guest addresses (3-level tables)',
      `CAP ${hex(l.cap, 16)}`,
    );
    out.ok(
      `${iommu} at ${hex(iommuBase)}: VT-d ${l.version}, 3-level tables (39-bit IOVAs), ${l.frcdCount} fault records at +${hex(l.frcdOffset)}`,
    );
    out.note(`CAP ${hex(l.cap, 16)}  ECAP ${hex(l.ecap, 16)}`);

    vtd.createRootTable();
    vtd.attach(demo.eduRid, demo.domain);
    BACKING_PAGES.forEach((gpa, i) => {
      vtd.map(demo.domain, IOVA_BASE + i * PAGE, gpa);
      demo.mappings.push({ iova: IOVA_BASE + i * PAGE, gpa });
    });
    // Read the tables back from guest RAM: that is all the unit will walk.
    const walks = demo.mappings.map((m) => vtd.readBack(demo.eduRid, m.iova));
    for (const [i, m] of demo.mappings.entries()) {
      out.expect(`domain in ${devfn(demo.eduRid)}'s context entry`, walks[i]!.did, demo.domain);
      out.expect(`page behind IOVA ${hex(m.iova)}`, walks[i]!.page, m.gpa, (v) =>
        v === undefined ? 'not present' : hex(v),
      );
    }
    const [root, ctx, l3, l2, l1] = walks[0]!.chain.map((a) => hex(a));
    out.ok('tables written to guest RAM, as read back from there:');
    out.note(`root table     ${root}  bus 0 → context table ${ctx}`);
    out.note(
      `context table  ${ctx}  ${devfn(demo.eduRid)} → domain ${walks[0]!.did}, 3-level, top table ${l3}`,
    );
    out.note(`page tables    ${l3} → ${l2} → ${l1} (levels 3, 2, 1)`);
    out.note(
      `IOVA → GPA     ${demo.mappings.map((m) => `${hex(m.iova)} → ${hex(m.gpa)}`).join(', ')} (4 KiB, RW)`,
    );

    const afterRoot = vtd.setRootTable();
    out.require(
      'GSTS.RTPS after SRTP',
      (afterRoot & RTPS) !== 0,
      'set',
      `GSTS ${hex(afterRoot >>> 0, 8)}`,
    );
    const inv = vtd.invalidateAll();
    out.expect('context-cache invalidation performed (CCMD.CAIG)', inv.context, 1);
    out.expect('IOTLB invalidation performed (IOTLB_REG.IAIG)', inv.iotlb, 1);
    const gsts = vtd.enableTranslation();
    out.require('GSTS.TES after TE', (gsts & TE) !== 0, 'set', `GSTS ${hex(gsts >>> 0, 8)}`);
    out.ok(
      `RTADDR ${root}, SRTP → RTPS; global context-cache and IOTLB flush; TE → GSTS ${hex(gsts >>> 0, 8)}`,
    );

    const binding = demo.emu.machine.dma.info().find((c) => c.device === demo.target.edu);
    out.expect(`IOMMU translating ${demo.target.edu}`, binding?.iommu ?? null, iommu);
    out.ok(
      `kernel: ${demo.target.edu}'s DMA (${binding!.bus}, requester ${devfn(demo.eduRid)}) now goes through ${iommu}`,
    );
    demo.vtd = vtd;
  },
};
