/**
 * The launcher in-process, over `-qtest stdio`: a machine file and QEMU's options build the
 * same machine, `--trace` shows each DMA with where it went, and conflicting or unknown
 * input is an error and exit code 1.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runQtest } from './launch.js';

async function run(argv: string[], commands: string[]) {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c) => {
    out += String(c);
  });
  stderr.on('data', (c) => {
    err += String(c);
  });
  const code = runQtest([...argv, '-qtest', 'stdio', '-qtest-log', '/dev/null'], {
    stdin,
    stdout,
    stderr,
  });
  stdin.end(commands.map((c) => `${c}\n`).join(''));
  return { code: await code, out: out.split('\n').filter((l) => l !== ''), err };
}

function machineFile(spec: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'emuhost-launch-'));
  const file = join(dir, 'machine.json');
  writeFileSync(file, JSON.stringify(spec));
  return file;
}

/** CONFIG_ADDRESS for bus 0, `slot`, function 0, `reg`. */
const cfg = (slot: number, reg: number) =>
  `0x${((0x80000000 | (slot << 11) | reg) >>> 0).toString(16)}`;

describe('emuhost qtest --machine FILE', () => {
  it('builds the machine the file describes: q35, edu at 03.0, VT-d in the IOMMU slot', async () => {
    const file = machineFile({
      machine: 'q35',
      ram: '64M',
      devices: [{ plugin: 'edu', id: 'edu0', addr: '03.0' }],
      iommus: [{ plugin: 'vtd', id: 'vtd0' }],
    });
    const r = await run(
      ['--machine', file],
      [
        `outl 0xcf8 ${cfg(3, 0)}`,
        'inl 0xcfc',
        `outl 0xcf8 ${cfg(0, 0)}`,
        'inl 0xcfc',
        'readl 0xfed90000',
      ],
    );
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out[1]).toBe('OK 0x11e81234');
    expect(r.out[3]).toBe('OK 0x29c08086');
    // VT-d's VER register: 1.0, where an empty slot would read all-ones.
    expect(r.out[4]).toBe('OK 0x0000000000000010');
  });

  it('adds -device to what the file has', async () => {
    const file = machineFile({ machine: 'pc', ram: '64M' });
    const r = await run(
      ['--machine', file, '-device', 'edu'],
      [`outl 0xcf8 ${cfg(2, 0)}`, 'inl 0xcfc'],
    );
    expect(r.out[1]).toBe('OK 0x11e81234');
  });

  it('refuses a machine named twice, and a bad file names the field', async () => {
    const file = machineFile({ machine: 'pc', ram: '64M' });
    const twice = await run(['--machine', file, '-machine', 'q35'], []);
    expect(twice.code).toBe(1);
    expect(twice.err).toMatch(/-machine q35 and --machine .* both name the machine: use one/);
    const bad = await run(['--machine', machineFile({ machine: 'pc', ram: 'lots' })], []);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/ram/);
    expect(bad.err).not.toMatch(/\n\s+at /);
  });
});

describe('emuhost qtest --trace', () => {
  it('prints each DMA with its device, requester id, address and result', async () => {
    const bar = 0xfe000000;
    const w = (off: number, v: number) =>
      `writel 0x${(bar + off).toString(16)} 0x${v.toString(16)}`;
    const r = await run(
      ['-machine', 'pc', '-device', 'edu,id=edu0', '--trace'],
      [
        `outl 0xcf8 ${cfg(2, 0x10)}`,
        `outl 0xcfc 0x${bar.toString(16)}`,
        `outl 0xcf8 ${cfg(2, 0x04)}`,
        'outw 0xcfc 0x6',
        w(0x80, 0x1000),
        w(0x88, 0x40000),
        w(0x90, 0x10),
        w(0x98, 1),
        'clock_step 200000000',
      ],
    );
    expect(r.code).toBe(0);
    expect(r.err).toContain('dma_read device=edu0 rid=0x0010 iova=0x1000 len=0x10 result=ok');
  });
});

describe('emuhost.* extension commands', () => {
  it('answer on the qtest channel, one line each, and FAIL on bad use', async () => {
    const r = await run(
      ['-machine', 'q35', '-device', 'intel-iommu,id=iommu0', '-device', 'edu,id=edu0'],
      [
        'emuhost.version',
        'emuhost.devices',
        'emuhost.info iommu',
        'emuhost.iommu.bind pcie.0 none',
        'emuhost.info iommu',
        'emuhost.iommu.bind pcie.0 iommu0',
        'emuhost.iommu.bind pcie.0 nosuch',
        'emuhost.iommu.bind',
        'emuhost.device.restart edu0',
        'emuhost.device.restart nosuch',
        'emuhost.nosuch',
      ],
    );
    expect(r.code).toBe(0);
    expect(r.out[0]).toMatch(/^OK emuhost \S+ sdk \d+\.\d+\.\d+$/);
    expect(JSON.parse(r.out[1]!.slice(3))).toContainEqual(
      expect.objectContaining({ id: 'edu0', plugin: 'edu', quarantined: false }),
    );
    expect(JSON.parse(r.out[2]!.slice(3))).toMatch(/edu0 \(pcie\.0 requester 00:01\.0\): iommu0/);
    expect(r.out[3]).toBe('OK');
    expect(JSON.parse(r.out[4]!.slice(3))).toMatch(/edu0 \(pcie\.0 requester 00:01\.0\): no IOMMU/);
    expect(r.out.slice(5)).toEqual([
      'OK',
      "FAIL no IOMMU 'nosuch'",
      'FAIL usage: emuhost.iommu.bind BUS ID|none',
      'OK',
      "FAIL no device 'nosuch'",
      "FAIL Unknown command 'emuhost.nosuch'",
    ]);
  });
});

describe('emuhost qtest -device of a platform (non-PCI) device', () => {
  // pc-testdev has no PCI identity (QEMU: an ISA device); -device puts it on the platform bus.
  // The lines are what endianness-test.c's libqtest sends (its first block, and one step of
  // the split and combine cases).
  it('-machine pc -device pc-testdev answers at its fixed ports', async () => {
    const r = await run(
      ['-machine', 'pc', '-device', 'pc-testdev'],
      [
        'outl 0xe0 0x87654321',
        'inl 0xe0',
        'inw 0xe2',
        'inw 0xe0',
        'inb 0xe3',
        'inb 0xe2',
        'inb 0xe1',
        'inb 0xe0',
        'outl 0xe8 0x12345678',
        'inl 0xe0',
        'outw 0xe2 0x8866',
        'inl 0xe8',
        'inw 0xea',
      ],
    );
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toEqual([
      'OK',
      'OK 0x87654321',
      'OK 0x8765',
      'OK 0x4321',
      'OK 0x0087',
      'OK 0x0065',
      'OK 0x0043',
      'OK 0x0021',
      'OK',
      'OK 0x12345678',
      'OK',
      'OK 0x88665678',
      'OK 0x8866',
    ]);
  });
});

describe('an IOMMU without registers in the IOMMU slot', () => {
  it('q35 with passthrough builds: the slot address goes only to models that take one', async () => {
    const r = await run(
      ['-machine', 'q35', '-device', 'passthrough,id=pt0'],
      ['emuhost.info iommu'],
    );
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out[0]!.slice(3))).toMatch(/IOMMU pt0/);
  });
});

describe('emuhost qtest -bios and -drive if=pflash', () => {
  const blob = () => {
    const dir = mkdtempSync(join(tmpdir(), 'emuhost-fw-'));
    const file = join(dir, 'blob.bin');
    writeFileSync(
      file,
      Uint8Array.from({ length: 0x10000 }, (_, i) => i & 0xff),
    );
    return file;
  };

  it('-bios FILE: the image ends at 4 GiB and, under PAM, at 1 MiB', async () => {
    const r = await run(['-bios', blob()], ['readl 0xfffffffc', 'readl 0xffffc', 'readl 0xf0000']);
    expect(r.err).toBe('');
    expect(r.out).toEqual([
      'OK 0x00000000fffefdfc',
      'OK 0x00000000fffefdfc',
      'OK 0x0000000003020100',
    ]);
  });

  it('-drive if=pflash,format=raw,file=FILE: flash in read-array mode at the same places', async () => {
    const r = await run(
      ['-drive', `if=pflash,format=raw,file=${blob()}`],
      ['readl 0xffff0000', 'readl 0xffffc'],
    );
    expect(r.err).toBe('');
    expect(r.out).toEqual(['OK 0x0000000003020100', 'OK 0x00000000fffefdfc']);
  });

  it('a firmware file that cannot be read is an error and exit code 1, as QEMU words it', async () => {
    const missing = join(tmpdir(), 'emuhost-no-such-bios.bin');
    const r = await run(['-bios', missing], []);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(`could not load PC BIOS '${missing}': ENOENT\n`);
    expect(r.err.split('\n')).toHaveLength(2);
    const flash = await run(['-drive', `if=pflash,format=qcow2,file=${missing}`], []);
    expect(flash.code).toBe(1);
    expect(flash.err).toMatch(/only format=raw/);
  });
});
