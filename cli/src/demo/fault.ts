/**
 * Step 5: an IOMMU fault. edu is told to write to an IOVA the guest never mapped. Three
 * parties see it, and the step shows each: edu (its transfer fails: DMA status 4, the error
 * interrupt bit), VT-d (a fault record with the reason code, the requester id and the page,
 * as a guest's fault handler reads it) and the kernel (its iommu.fault hook). The guest then
 * clears the record, as its fault handler would.
 */
import type { DemoContext, DemoStep } from './context.js';
import { DMA_STATUS, EDU_BUFFER } from './edu.js';
import { UNMAPPED_IOVA } from './guest-memory.js';
import { hex } from './report.js';
import { FAULT_REASONS, FSTS, FSTS_PPF } from './vtd.js';

const IOMMU_FAULT = 4;
const IRQ_DMA_ERROR = 0x200;

export const iommuFault: DemoStep = {
  title: 'an IOMMU fault (edu writes to an unmapped IOVA)',
  run(demo: DemoContext, out) {
    const edu = demo.eduDriver;
    const vtd = demo.vtdGuest;
    const rid = demo.eduRid;
    const hooked = demo.faults.length;

    const r = edu.dma('to-ram', UNMAPPED_IOVA, EDU_BUFFER, 64);
    out.require(
      'edu → RAM to the unmapped IOVA: RUN clears',
      r.completed,
      'completes',
      'RUN still set',
    );
    out.expect(
      'edu DMA status (BAR0 + 0xa0)',
      r.status,
      IOMMU_FAULT,
      (v) => `${v} (${DMA_STATUS[v] ?? '?'})`,
    );
    out.require(
      'edu interrupt status',
      (r.irqStatus & IRQ_DMA_ERROR) !== 0,
      'error bit 0x200',
      hex(r.irqStatus),
    );
    out.ok(
      `edu: DMA to IOVA ${hex(UNMAPPED_IOVA)} failed: DMA status ${r.status} (${DMA_STATUS[r.status]}), IRQ status ${hex(r.irqStatus)} (done, error)`,
    );

    // The guest's fault handler: FSTS says a fault is pending and which record (FRI).
    const fsts = vtd.read32(FSTS);
    out.require('VT-d FSTS.PPF', (fsts & FSTS_PPF) !== 0, 'set (a fault is pending)', hex(fsts));
    const fri = (fsts >>> 8) & 0xff;
    const rec = vtd.fault(fri);
    out.require(`fault record ${fri} F bit`, rec.fault, 'set', 'clear');
    out.expect('fault record: source id', rec.sid, rid, (v) => hex(v, 4));
    out.expect('fault record: page address', rec.pageAddr, UNMAPPED_IOVA, hex);
    out.expect('fault record: access', rec.read ? 'read' : 'write', 'write');
    const reason = FAULT_REASONS[rec.reason] ?? 'unknown reason';
    out.ok(`${demo.target.iommu}: FSTS ${hex(fsts)} (primary fault pending, in record ${fri})`);
    out.note(`record ${fri}: F = 1, reason ${hex(rec.reason)} (${reason})`);
    out.note(
      `source id ${hex(rec.sid, 4)} (${demo.target.edu}), fault address ${hex(rec.pageAddr)}, a write`,
    );

    const events = demo.faults.slice(hooked);
    out.expect('iommu.fault hook calls', events.length, 1);
    const e = events[0]!;
    out.expect('iommu.fault: device', e.device, demo.target.edu);
    out.expect('iommu.fault: IOVA', e.iova, UNMAPPED_IOVA, hex);
    out.ok(
      `kernel hook iommu.fault: ${e.iommu} refused ${e.device} (requester ${hex(e.requesterId, 4)}) ${e.access} at ${hex(e.iova)}: ${e.reason}`,
    );

    vtd.clearFault(fri);
    const cleared = vtd.read32(FSTS);
    out.require(
      'FSTS.PPF after clearing the record',
      (cleared & FSTS_PPF) === 0,
      'clear',
      hex(cleared),
    );
    out.ok(`fault handled: record ${fri} cleared (F is write-1-to-clear), FSTS ${hex(cleared)}`);
  },
};
