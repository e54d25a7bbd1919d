/**
 * virtio-blk through the guest driver (@emuhost/testing's virtio guest): configuration,
 * every request type, read-only drives, errors as statuses, and what reaches the image file.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BLK_CONFIG } from './blk.js';
import {
  FEATURES,
  makeImage,
  pattern,
  request,
  S,
  SECTOR,
  setup,
  T,
} from './test-support/setup.js';

describe('virtio-blk-pci', { timeout: 60_000 }, () => {
  it('presents QEMU modern identity, the features and the capacity', async () => {
    const t = await setup({ size: 3 << 20, options: { serial: 'EMU-0001' } });
    const dev = t.d.pciFind(0x1af4, 0x1042)!;
    expect(dev.configRead(0x08, 1)).toBe(1); // revision 1: modern only
    expect(dev.configRead(0x0b, 1)).toBe(0x01); // mass storage
    expect(dev.configRead(0x2c, 4)).toBe(0x11001af4);
    const f = t.g.deviceFeatures();
    for (const b of [32n, 28n, 29n, 9n, 13n, 14n, 2n, 6n])
      expect((f >> b) & 1n, `bit ${b}`).toBe(1n);
    expect((f >> 5n) & 1n, 'not read-only').toBe(0n);
    expect((f >> 33n) & 1n, 'no ACCESS_PLATFORM without iommu_platform').toBe(0n);
    expect(t.g.config64(BLK_CONFIG.CAPACITY)).toBe(BigInt((3 << 20) / SECTOR));
    expect(t.g.config32(BLK_CONFIG.BLK_SIZE)).toBe(512);
    expect(t.g.config32(BLK_CONFIG.SEG_MAX)).toBe(254);
  });

  it('writes and reads back, and the image holds what was written', async () => {
    const t = await setup();
    const data = pattern(3 * SECTOR, 1);
    const buf = t.g.alloc(data.length);
    t.d.memwrite(buf, data);
    expect(request(t, T.OUT, 5, { addr: buf, len: data.length, write: false }).status).toBe(S.OK);
    const back = t.g.alloc(data.length);
    const r = request(t, T.IN, 5, { addr: back, len: data.length, write: true });
    expect(r).toMatchObject({ status: S.OK, len: data.length + 1 });
    expect(t.d.memread(back, data.length)).toEqual(data);
    expect(new Uint8Array(readFileSync(t.file)).subarray(5 * SECTOR, 8 * SECTOR)).toEqual(data);
  });

  it('serves chains through indirect tables, buffers split anyhow', async () => {
    const t = await setup();
    const img = new Uint8Array(readFileSync(t.file));
    img.set(pattern(2 * SECTOR, 9), 7 * SECTOR);
    const t2 = await setup({ file: makeImage(1 << 20, (i) => img[i]!) });
    const a = t2.g.alloc(300);
    const b = t2.g.alloc(2 * SECTOR - 300);
    const h = t2.g.alloc(16);
    t2.d.writel(h, T.IN);
    t2.d.writeq(h + 8, 7n);
    const st = t2.g.alloc(1);
    // The header split in two, the data in two pieces, then the status.
    t2.q.addIndirect(
      [
        { addr: h, len: 5, write: false },
        { addr: h + 5, len: 11, write: false },
        { addr: a, len: 300, write: true },
        { addr: b, len: 2 * SECTOR - 300, write: true },
        { addr: st, len: 1, write: true },
      ],
      t2.g.alloc(16 * 5, 16),
    );
    t2.g.notify(0);
    expect(t2.q.takeUsed()).toMatchObject({ len: 2 * SECTOR + 1 });
    expect(t2.d.readb(st)).toBe(S.OK);
    const got = new Uint8Array([...t2.d.memread(a, 300), ...t2.d.memread(b, 2 * SECTOR - 300)]);
    expect(got).toEqual(pattern(2 * SECTOR, 9));
  });

  it('flushes with an fsync, answers GET_ID with the serial', async () => {
    const t = await setup({ options: { serial: 'SERIAL-123' } });
    const drive = t.emu.backends.drives.get('d0')!;
    const before = drive.syncs;
    expect(request(t, T.FLUSH, 0).status).toBe(S.OK);
    expect(drive.syncs).toBe(before + 1);
    const id = t.g.alloc(20);
    t.d.memwrite(id, new Uint8Array(20).fill(0xaa));
    expect(request(t, T.GET_ID, 0, { addr: id, len: 20, write: true }).status).toBe(S.OK);
    expect(new TextDecoder().decode(t.d.memread(id, 10))).toBe('SERIAL-123');
    expect(t.d.readb(id + 10)).toBe(0);
  });

  it('writes zeroes and discards (a no-op with discard=ignore)', async () => {
    const t = await setup({ file: makeImage(1 << 20, () => 0x5a) });
    const seg = t.g.alloc(16);
    t.d.writeq(seg, 2n);
    t.d.writel(seg + 8, 3);
    t.d.writel(seg + 12, 0);
    expect(request(t, T.WRITE_ZEROES, 0, { addr: seg, len: 16, write: false }).status).toBe(S.OK);
    expect(request(t, T.DISCARD, 0, { addr: seg, len: 16, write: false }).status).toBe(S.OK);
    const img = new Uint8Array(readFileSync(t.file));
    expect(img.subarray(2 * SECTOR, 5 * SECTOR).every((b) => b === 0)).toBe(true);
    expect(img[5 * SECTOR]).toBe(0x5a);
    expect(img[2 * SECTOR - 1]).toBe(0x5a);
  });

  it('fails out-of-range, misaligned and unknown requests without touching the image', async () => {
    const t = await setup({ size: 8 * SECTOR });
    const buf = t.g.alloc(2 * SECTOR);
    expect(request(t, T.IN, 7, { addr: buf, len: 2 * SECTOR, write: true }).status).toBe(S.IOERR);
    expect(request(t, T.OUT, 2 ** 40, { addr: buf, len: SECTOR, write: false }).status).toBe(
      S.IOERR,
    );
    expect(request(t, T.IN, 0, { addr: buf, len: 100, write: true }).status).toBe(S.IOERR);
    expect(request(t, 99, 0).status).toBe(S.UNSUPP);
    expect(t.g.status & 64, 'no reset needed').toBe(0);
  });

  it('a read-only drive offers RO and fails writes', async () => {
    const file = makeImage(1 << 20, () => 7);
    const t = await setup({ file, readOnly: true });
    expect((t.g.deviceFeatures() >> 5n) & 1n).toBe(1n);
    const buf = t.g.alloc(SECTOR);
    t.d.memwrite(buf, new Uint8Array(SECTOR).fill(1));
    expect(request(t, T.OUT, 0, { addr: buf, len: SECTOR, write: false }).status).toBe(S.IOERR);
    expect(request(t, T.IN, 0, { addr: buf, len: SECTOR, write: true }).status).toBe(S.OK);
    expect(t.d.readb(buf)).toBe(7);
    expect(new Uint8Array(readFileSync(file)).every((b) => b === 7)).toBe(true);
  });

  it('without FLUSH negotiated, every write is flushed (write-through)', async () => {
    const t = await setup({ features: FEATURES & ~(1n << 9n) });
    const drive = t.emu.backends.drives.get('d0')!;
    const before = drive.syncs;
    const buf = t.g.alloc(SECTOR);
    expect(request(t, T.OUT, 1, { addr: buf, len: SECTOR, write: false }).status).toBe(S.OK);
    expect(drive.syncs).toBe(before + 1);
  });
});
