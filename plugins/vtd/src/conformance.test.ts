/**
 * The IOMMU conformance suite, twice: the guest using register-based invalidation (CCMD,
 * IVA_REG + IOTLB_REG) with 3-level tables (aw_bits 39), and the invalidation queue
 * (context-cache and IOTLB descriptors, each followed by a wait descriptor with a status
 * write) with 4-level tables (aw_bits 48).
 */
import { type IommuKit, iommuConformance } from '@emuhost/testing';
import { type GuestOptions, VtdGuest } from './test-support/guest.js';
import { loadVtd } from './test-support/load.js';

function vtdConformance(did: number, awBits: 39 | 48, guestOptions: GuestOptions): void {
  const guests = new WeakMap<IommuKit, VtdGuest>();
  const attached = new WeakMap<IommuKit, Set<number>>();
  /** The kit's guest, with `rid`'s context entry written on first use. */
  const guest = (kit: IommuKit, rid: number): VtdGuest => {
    const g = guests.get(kit)!;
    const seen = attached.get(kit)!;
    if (!seen.has(rid)) {
      g.attach(rid, did);
      seen.add(rid);
    }
    return g;
  };
  iommuConformance({
    plugin: () => loadVtd(),
    options: { aw_bits: awBits },
    setup(kit) {
      const g = new VtdGuest(kit.driver, kit.alloc, guestOptions);
      g.init();
      guests.set(kit, g);
      attached.set(kit, new Set());
    },
    map(kit, m) {
      guest(kit, m.requesterId).map(did, m.iova, m.gpa, m.perm);
    },
    unmap(kit, m) {
      guest(kit, m.requesterId).unmap(did, m.iova);
    },
  });
}

vtdConformance(1, 39, { invalidation: 'register', levels: 3 });
vtdConformance(7, 48, { invalidation: 'queued', levels: 4 });
