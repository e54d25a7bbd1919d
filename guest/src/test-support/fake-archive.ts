/**
 * An in-memory Debian archive for the fetch tests: packages with versions, suites and file
 * trees; a package can be "listed but 404" like 7.3.4 in trixie-backports. A .deb here is a
 * small JSON file naming its package, and extracting it writes the package's files.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { type Archive, DownloadFailure } from '../apt.js';

export interface FakePackage {
  readonly version: string;
  readonly suite: string;
  readonly files: Readonly<Record<string, Uint8Array | string>>;
  /** Listed in the index, but the pool answers 404. */
  readonly gone?: boolean;
}

export class FakeArchive implements Archive {
  /** Every call, in order: `update`, `download <specs>`, ... */
  readonly calls: string[] = [];

  constructor(readonly packages: Record<string, FakePackage>) {}

  async update(): Promise<string[]> {
    this.calls.push('update');
    return [];
  }

  async packageNames(prefix: string): Promise<string[]> {
    return Object.keys(this.packages).filter((n) => n.startsWith(prefix));
  }

  async has(name: string): Promise<boolean> {
    return name in this.packages;
  }

  async suitesOf(name: string, version: string): Promise<string[]> {
    const p = this.packages[name];
    return p && p.version === version ? [p.suite] : [];
  }

  async download(specs: readonly string[], dir: string): Promise<string[]> {
    this.calls.push(`download ${specs.join(' ')}`);
    const into = mkdtempSync(join(dir, 'deb-'));
    return specs.map((spec) => {
      const name = spec.split('/')[0]!;
      const p = this.packages[name];
      if (!p || p.gone) {
        throw new DownloadFailure(spec, [
          `http://fake.invalid/pool/${name}_${p?.version}.deb: 404  Not Found`,
        ]);
      }
      const deb = join(into, `${name}_${p.version}_riscv64.deb`);
      writeFileSync(deb, JSON.stringify({ name }));
      return deb;
    });
  }

  async extract(deb: string, dir: string): Promise<void> {
    const { name } = JSON.parse(readFileSync(deb, 'utf8')) as { name: string };
    for (const [rel, data] of Object.entries(this.packages[name]!.files)) {
      mkdirSync(dirname(join(dir, rel)), { recursive: true });
      writeFileSync(join(dir, rel), data);
    }
  }

  async debVersion(deb: string): Promise<string> {
    const { name } = JSON.parse(readFileSync(deb, 'utf8')) as { name: string };
    return this.packages[name]!.version;
  }

  /** Fake modules are "compressed" with gzip under an .xz name: the bytes, not the codec, matter here. */
  async unxz(file: string): Promise<Uint8Array> {
    return gunzipSync(readFileSync(file));
  }
}

/** 64 bytes of a RISC-V Image header (text_offset 0x200000), then `body`. */
export function fakeImage(body = 'kernel'): Uint8Array {
  const b = Buffer.alloc(64 + body.length);
  b.write('MZ', 0, 'latin1');
  b.writeBigUInt64LE(0x200000n, 8);
  b.writeBigUInt64LE(0x1000000n, 16);
  b.writeUInt32LE(2, 32);
  b.write('RISCV\0\0\0', 0x30, 'latin1');
  b.write('RSC\x05', 0x38, 'latin1');
  b.writeUInt32LE(0x40, 0x3c);
  b.write(body, 64, 'latin1');
  return b;
}

export const CONFIG_7 =
  'CONFIG_VIRTIO_BLK=m\nCONFIG_HW_RANDOM_VIRTIO=m\nCONFIG_VIRTIO_NET=m\nCONFIG_NET_FAILOVER=m\nCONFIG_FAILOVER=m\nCONFIG_VIRTIO_CONSOLE=y\n';

/** A 7.x split kernel as Debian packages it, modules xz-named. */
export function splitKernel(
  abi: string,
  version: string,
  suite: string,
  opts: { gone?: boolean; image?: Uint8Array; config?: string } = {},
): Record<string, FakePackage> {
  const m = `usr/lib/modules/${abi}-riscv64`;
  const ko = (name: string) => gzipSync(Buffer.from(`${name} for ${abi}`));
  const pkg = (files: FakePackage['files']): FakePackage => ({
    version,
    suite,
    files,
    ...(opts.gone ? { gone: true } : {}),
  });
  return {
    [`linux-image-${abi}-riscv64`]: pkg({
      [`usr/share/doc/linux-image-${abi}-riscv64/changelog`]: 'meta',
    }),
    [`linux-binary-${abi}-riscv64`]: pkg({ [`${m}/vmlinuz`]: opts.image ?? fakeImage(abi) }),
    [`linux-base-${abi}-riscv64`]: pkg({ [`${m}/config`]: opts.config ?? CONFIG_7 }),
    [`linux-modules-${abi}-riscv64`]: pkg({
      [`${m}/kernel/drivers/block/virtio_blk.ko.xz`]: ko('virtio_blk'),
      [`${m}/kernel/drivers/char/hw_random/virtio-rng.ko.xz`]: ko('virtio-rng'),
      [`${m}/kernel/drivers/net/virtio_net.ko.xz`]: ko('virtio_net'),
      [`${m}/kernel/drivers/net/net_failover.ko.xz`]: ko('net_failover'),
      [`${m}/kernel/net/core/failover.ko.xz`]: ko('failover'),
      [`${m}/kernel/fs/ext4/ext4.ko.xz`]: ko('ext4'),
    }),
  };
}

/** A 6.x kernel: one package, /boot files, plain .ko modules. */
export function singleKernel(
  abi: string,
  version: string,
  suite: string,
): Record<string, FakePackage> {
  const m = `lib/modules/${abi}-riscv64`;
  return {
    [`linux-image-${abi}-riscv64`]: {
      version,
      suite,
      files: {
        [`boot/vmlinux-${abi}-riscv64`]: fakeImage(abi),
        [`boot/config-${abi}-riscv64`]: CONFIG_7,
        [`${m}/kernel/drivers/block/virtio_blk.ko`]: `virtio_blk for ${abi}`,
        [`${m}/kernel/drivers/char/hw_random/virtio-rng.ko`]: `virtio-rng for ${abi}`,
      },
    },
  };
}

/** trixie's opensbi and busybox-static (a minimal riscv64 ELF header). */
export function firmware(): Record<string, FakePackage> {
  const elf = Buffer.alloc(64);
  elf.write('\x7fELF', 0, 'latin1');
  elf[4] = 2;
  elf[0x12] = 0xf3;
  return {
    opensbi: {
      version: '1.6-1',
      suite: 'trixie',
      files: { 'usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin': 'opensbi fw_dynamic' },
    },
    'busybox-static': {
      version: '1:1.37.0-6+b9',
      suite: 'trixie',
      files: { 'usr/bin/busybox': elf },
    },
  };
}
