/**
 * The IOMMU conformance suite, twice: Sv39 page tables behind a 3-level device directory,
 * and Sv48 behind a 1-level one. The kit's requester (RID 0x10) gets a device context with
 * its own PSCID on first use; unmapping clears the PTE and sends IOTINVAL.VMA (PSCID and
 * address) and IOFENCE.C, as Linux does.
 */
import { type IommuKit, iommuConformance, RiscvIommuGuest } from '@emuhost/testing';
import { loadRiscvIommu } from './test-support/load.js';

function riscvConformance(ddtLevels: 1 | 2 | 3, fscMode: 8 | 9, pscid: number): void {
  const guests = new WeakMap<IommuKit, RiscvIommuGuest>();
  const attached = new WeakMap<IommuKit, Set<number>>();
  const guest = (kit: IommuKit, rid: number): RiscvIommuGuest => {
    const g = guests.get(kit)!;
    const seen = attached.get(kit)!;
    if (!seen.has(rid)) {
      g.attach(rid, pscid);
      seen.add(rid);
    }
    return g;
  };
  iommuConformance({
    plugin: () => loadRiscvIommu(),
    options: { sv48: fscMode === 9 },
    setup(kit) {
      const g = new RiscvIommuGuest(kit.driver, kit.alloc, { ddtLevels, fscMode });
      g.init();
      guests.set(kit, g);
      attached.set(kit, new Set());
    },
    map(kit, m) {
      guest(kit, m.requesterId).map(
        pscid,
        m.iova,
        m.gpa,
        m.perm === 'read' ? 'read' : 'read-write',
      );
    },
    unmap(kit, m) {
      guest(kit, m.requesterId).unmap(pscid, m.iova);
    },
    skip: {},
  });
}

riscvConformance(3, 8, 1);
riscvConformance(1, 9, 77);
