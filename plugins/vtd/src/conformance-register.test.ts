/**
 * The IOMMU conformance suite, with the guest using register-based invalidation (CCMD,
 * IVA_REG + IOTLB_REG) and 3-level tables (aw_bits 39).
 */
import { type IommuKit, iommuConformance } from '@emuhost/testing';
import { VtdGuest } from './test-support/guest.js';
import { loadVtd } from './test-support/load.js';

const DID = 1;
const guests = new WeakMap<IommuKit, VtdGuest>();
const attached = new WeakMap<IommuKit, Set<number>>();

function guest(kit: IommuKit, rid: number): VtdGuest {
  const g = guests.get(kit)!;
  const seen = attached.get(kit)!;
  if (!seen.has(rid)) {
    g.attach(rid, DID);
    seen.add(rid);
  }
  return g;
}

iommuConformance({
  plugin: () => loadVtd(),
  options: { aw_bits: 39 },
  setup(kit) {
    const g = new VtdGuest(kit.driver, kit.alloc, { invalidation: 'register', levels: 3 });
    g.init();
    guests.set(kit, g);
    attached.set(kit, new Set());
  },
  map(kit, m) {
    guest(kit, m.requesterId).map(DID, m.iova, m.gpa, m.perm);
  },
  unmap(kit, m) {
    guest(kit, m.requesterId).unmap(DID, m.iova);
  },
});
