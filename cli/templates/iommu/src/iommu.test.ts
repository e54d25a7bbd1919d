import { fileURLToPath } from 'node:url';
import { type IommuKit, iommuConformance } from '@emuhost/testing';

const dir = fileURLToPath(new URL('..', import.meta.url));
const BASE = 0xfed00000;
const ENTRIES = 1 << 20; // IOVAs up to 4 GiB

/** Where each kit's table lives (one per test machine). */
const tables = new WeakMap<IommuKit, number>();

// The IOMMU-specific part of the suite: program it as a guest driver would.
iommuConformance({
  plugin: dir,
  setup(kit) {
    const table = kit.alloc(ENTRIES * 8);
    tables.set(kit, table);
    kit.driver.writel(BASE + 0x00, table);
    kit.driver.writel(BASE + 0x04, 0);
    kit.driver.writel(BASE + 0x08, ENTRIES);
  },
  map(kit, m) {
    const perm = { read: 1n, write: 2n, 'read-write': 3n }[m.perm];
    kit.driver.writeq(tables.get(kit)! + (m.iova / 4096) * 8, BigInt(m.gpa) | perm);
    // Widening needs no invalidation; this entry may have been narrowed, so invalidate.
    kit.driver.writel(BASE + 0x0c, m.iova / 4096);
  },
  unmap(kit, m) {
    kit.driver.writeq(tables.get(kit)! + (m.iova / 4096) * 8, 0n);
    kit.driver.writel(BASE + 0x0c, m.iova / 4096);
  },
});
