/**
 * The reference configuration end to end, as QEMU's command line spells it:
 * `-machine q35 -device intel-iommu -drive file=...,format=raw,if=none,id=d0
 *  -device virtio-blk-pci,drive=d0,iommu_platform=on,disable-legacy=on`, built the way the qtest
 * drop-in builds it. The guest programs VT-d (root and context tables, page tables, as an OS
 * driver does) and gives the device IOVAs only; every ring access and buffer is translated.
 */
import { fileURLToPath } from 'node:url';
import { buildMachineSpec, type MachineSpec, PluginHost } from '@emuhost/host';
import { createDriver, loadPluginDir, VIRTIO_F, VtdGuest, virtioPciGuest } from '@emuhost/testing';
import { describe, expect, it } from 'vitest';
import { FEATURES, makeImage, PLUGIN_DIR, pattern, S, SECTOR, T } from './test-support/setup.js';

const dir = (name: string) => fileURLToPath(new URL(`../../${name}`, import.meta.url));

describe('q35 with VT-d', () => {
  it('translates a virtio-blk device end to end (iommu_platform=on)', {
    timeout: 120_000,
  }, async () => {
    const host = new PluginHost();
    for (const d of ['q35', 'vtd']) await loadPluginDir(dir(d), { host });
    await loadPluginDir(PLUGIN_DIR, { host });
    const img = pattern(1 << 20, 5);
    const file = makeImage(1 << 20, (i) => img[i]!);
    const spec: MachineSpec = {
      machine: 'q35',
      ram: 128 << 20,
      plugins: [],
      iommus: [{ plugin: 'vtd', id: 'vtd0' }],
      devices: [
        {
          plugin: 'virtio-blk-pci',
          id: 'vblk',
          options: { drive: 'd0', iommu_platform: 'on', 'disable-legacy': 'on' },
        },
      ],
      drives: [{ id: 'd0', file }],
      base: process.cwd(),
    };
    const emu = await buildMachineSpec(spec, host, { log: () => {} });
    const d = createDriver(emu);
    let next = 32 << 20;
    const alloc = (size: number, align = 4096) => {
      const a = Math.ceil(next / align) * align;
      next = a + size;
      return a;
    };
    const vtd = new VtdGuest(d, alloc, {});
    vtd.init();
    const dev = d.pciFind(0x1af4, 0x1042)!;
    const rid = emu.machine.dma.info().find((c) => c.device === 'vblk')!.requesterId;
    vtd.attach(rid, 3);
    // Guest RAM at 1 MiB..2 MiB is the device's IOVA 0x7000_0000.. (and nothing else is mapped).
    const IOVA = 0x70000000;
    for (let off = 0; off < 1 << 20; off += 4096)
      vtd.map(3, IOVA + off, 0x100000 + off, 'read-write');
    const g = virtioPciGuest(d, dev, 0x100000);
    expect(g.negotiate(FEATURES | (1n << BigInt(VIRTIO_F.ACCESS_PLATFORM)))).toBe(true);
    const delta = IOVA - 0x100000;
    const q = g.setupQueue(0, 64, delta);
    g.driverOk();
    // Requests whose buffers the device sees at IOVAs: translate the guest's GPAs.
    const hdr = g.alloc(16);
    d.writel(hdr, T.IN);
    d.writeq(hdr + 8, 10n);
    const buf = g.alloc(2 * SECTOR);
    const st = g.alloc(1);
    q.add([
      { addr: hdr + delta, len: 16, write: false },
      { addr: buf + delta, len: 2 * SECTOR, write: true },
      { addr: st + delta, len: 1, write: true },
    ]);
    g.notify(0);
    expect(q.takeUsed()).toMatchObject({ len: 2 * SECTOR + 1 });
    expect(d.readb(st)).toBe(S.OK);
    expect(d.memread(buf, 2 * SECTOR)).toEqual(img.subarray(10 * SECTOR, 12 * SECTOR));
    const row = emu.machine.dma.info().find((c) => c.device === 'vblk')!;
    expect(row).toMatchObject({ iommu: 'vtd0', bypass: false });
    expect(row.iotlb.misses).toBeGreaterThan(0);
    // A header given by its GPA (as if there were no IOMMU) faults in VT-d: that request fails
    // with IOERR, the device goes on, and VT-d recorded the fault.
    const faultsBefore = emu.machine.dma.iommu('vtd0').faults;
    q.add([
      { addr: hdr, len: 16, write: false },
      { addr: st + delta, len: 1, write: true },
    ]);
    g.notify(0);
    expect(q.takeUsed()).toBeDefined();
    expect(d.readb(st), 'the header could not be read: IOERR').toBe(S.IOERR);
    expect(emu.machine.dma.iommu('vtd0').faults).toBeGreaterThan(faultsBefore);
    emu.close();
  });
});
