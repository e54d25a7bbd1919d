/**
 * The real guest, when `npm run guest:fetch` has filled the cache on this machine (skipped
 * otherwise: tests never download). Checks that what Debian delivered is what the boot needs.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { guestDir } from './cache.js';
import { ensureGuest } from './ensure.js';
import { initFlavours } from './initramfs.js';
import { readManifest } from './manifest.js';
import { checkRiscvImage } from './riscv-image.js';
import { readNewc } from './test-support/cpio-reader.js';

const cached = readManifest(guestDir()) !== undefined;

describe.skipIf(!cached)(
  `the guest cached in ${guestDir()} (skipped until guest:fetch runs)`,
  () => {
    it('is served without the network, and holds a bootable Image, modules, firmware and images', async () => {
      const g = await ensureGuest({
        log: () => {},
        archive: async () => {
          throw new Error('the cached guest is stale: run `npm run guest:fetch`');
        },
      });
      const image = readFileSync(g.kernel.image);
      const check = checkRiscvImage(image.subarray(0, 64));
      expect(check.ok && check.header.textOffset).toBe(0x200000n);
      expect(check.ok && Number(check.header.imageSize)).toBeGreaterThanOrEqual(image.length);
      expect(Number.parseInt(g.kernel.abi, 10)).toBeGreaterThanOrEqual(6);

      // xz-decompressed modules: riscv64 ELF relocatables built for this very kernel
      for (const [name, path] of Object.entries(g.kernel.modules)) {
        const ko = readFileSync(path);
        expect(ko.subarray(0, 4).toString('latin1'), name).toBe('\x7fELF');
        expect(ko.readUInt16LE(0x12), name).toBe(0xf3);
        expect(ko.includes(`vermagic=${g.kernel.abi}-riscv64 `), name).toBe(true);
      }
      expect(Object.keys(g.kernel.modules)).toEqual(
        expect.arrayContaining(['virtio_blk', 'virtio-rng']),
      );
      expect(readFileSync(g.kernel.config, 'utf8')).toMatch(/^CONFIG_BLK_DEV_INITRD=y$/m);

      expect(readFileSync(g.opensbi.fwDynamic).length).toBeGreaterThan(100_000);
      const disk = readFileSync(g.disk);
      expect(createHash('sha256').update(disk).digest('hex').slice(0, 16)).toBe('0ead1fd0c49d90ad');

      const busybox = readFileSync(g.busybox.path);
      const flavours = initFlavours();
      expect(Object.keys(g.initramfs).sort()).toEqual(Object.keys(flavours).sort());
      const test = readNewc(gunzipSync(readFileSync(g.initramfs.test!)));
      expect(Buffer.from(test.find((e) => e.name === 'init')!.data).toString()).toBe(flavours.test);
      // (a byte compare: vitest's deep equality takes seconds per megabyte)
      expect(Buffer.compare(test.find((e) => e.name === 'bin/busybox')!.data, busybox)).toBe(0);
    }, 60_000);
  },
);
