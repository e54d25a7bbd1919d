/**
 * The launcher in this process: every kind of bad input is one line on stderr naming the
 * argument or the file, and exit code 1 (process.test.ts checks the process's side).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { buildPlugin, bundledPlugins } from '@emuhost/host';
import { beforeAll, describe, expect, it } from 'vitest';
import { runSystem } from './launch.js';
import { echo, hello } from './test-support/guests.js';
import { RVTEST_DIR } from './test-support/machine.js';

let dir: string;
let plugins: string[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'emuhost-launch-'));
  const machine = await buildPlugin(RVTEST_DIR, { outDir: join(dir, 'rvtest') });
  const cpu = await buildPlugin(bundledPlugins().get('rv64')!, { outDir: join(dir, 'rv64') });
  plugins = ['--plugin', machine.manifestPath, '--plugin', cpu.manifestPath];
  writeFileSync(join(dir, 'hello.bin'), hello('hi\n', 5).image);
  writeFileSync(join(dir, 'echo.bin'), echo().image);
  writeFileSync(join(dir, 'empty.bin'), '');
}, 120_000);

async function sys(args: string[]) {
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
  const stdin = new PassThrough();
  const at = (p: string) => (p.endsWith('.bin') || p.endsWith('.img') ? join(dir, p) : p);
  const code = await runSystem(
    [...plugins, ...args.map(at)],
    { stdin, stdout, stderr },
    {
      arch: 'riscv64',
      name: 'emuhost-system-riscv64',
    },
  );
  return { code, out, err };
}

describe('runSystem', () => {
  it('runs a guest to its poweroff', { timeout: 60_000 }, async () => {
    const r = await sys(['-M', 'rvtest', '-bios', 'hello.bin', '-nographic']);
    expect(r).toEqual({ code: 5, out: 'hi\n', err: '' });
  });

  it('a guest stuck in traps with no handler: one line naming the pc, exit code 1', {
    timeout: 60_000,
  }, async () => {
    writeFileSync(join(dir, 'zeros.bin'), new Uint8Array(64));
    const r = await sys(['-M', 'rvtest', '-bios', 'zeros.bin', '-nographic']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /^emuhost-system-riscv64: rv64:cpu0: the guest is stuck: exception .* at pc 0x0*80000000/,
    );
    expect(r.err.trimEnd().split('\n')).toHaveLength(1);
  });

  it('bad input: one line, exit code 1', { timeout: 120_000 }, async () => {
    const cases: [string[], string | RegExp][] = [
      [['-M', 'rvtest', '-kernel', '/'], "could not load kernel '/': Is a directory"],
      [
        ['-M', 'rvtest', '-initrd', 'empty.bin'],
        /could not load initrd '.*empty.bin': the file is empty/,
      ],
      [
        ['-M', 'rvtest', '-dtb', 'nope.dtb'],
        "could not load device tree 'nope.dtb': No such file or directory",
      ],
      [
        ['-M', 'rvtest', '-m', '64K', '-bios', 'echo.bin', '-kernel', 'echo.bin'],
        /-kernel \(180 bytes\) does not fit in 65536 bytes of RAM/,
      ],
      [
        ['-M', 'virt', '-bios', 'none', '-kernel', '/bin/ls'],
        /^the -kernel image '\/bin\/ls' is an ELF file for machine 62, not RISC-V$/,
      ],
      [['-M', 'rvtest', '-m'], '-m: requires an argument'],
      [['-M', 'rvtest', 'disk.img'], /unexpected argument/],
      [['-M', 'nosuch'], "unsupported machine type 'nosuch' (use -machine help)"],
      [['-M', 'pc'], /machine 'pc' has no CPUs: emuhost-system-riscv64 runs riscv64 machines/],
      [['-M', 'rvtest', '-cpu', 'z80'], /unable to find CPU model 'z80'/],
      [['-M', 'rvtest', '-cpu', 'rv64,warp=9'], /'rv64' has no option 'warp'/],
      [['-M', 'rvtest,warp=9'], /'rvtest' has no option 'warp'/],
      [['-M', 'rvtest', '-smp', '0'], '-smp 0: 1 to 512 CPUs'],
      [
        ['-M', 'rvtest', '-drive', 'file=nodisk.img,if=none,id=d0'],
        /Could not open '.*nodisk.img': No such file or directory/,
      ],
      [
        ['-M', 'rvtest', '-device', 'edu,drive=d9'],
        "-device edu,drive=d9: Property 'edu.drive' can't find value 'd9'",
      ],
      [
        ['-M', 'rvtest', '-device', 'sound-blaster'],
        /^-device sound-blaster: 'sound-blaster' is not a valid device model name\. Known: .*edu/,
      ],
      [
        ['-M', 'rvtest', '-serial', 'tcp:127.0.0.1:1'],
        /-serial tcp:127.0.0.1:1: cannot connect to 127.0.0.1:1: Connection refused/,
      ],
      [
        ['-M', 'rvtest', '-serial', 'stdio', '-serial', 'mon:stdio'],
        'cannot use stdio by multiple character devices',
      ],
      [
        ['-M', 'rvtest', '-d', 'in_asm', '-D', '/nonexistent/t.log'],
        '-D /nonexistent/t.log: cannot open: No such file or directory',
      ],
      [
        ['-M', 'rvtest,dumpdtb=/nonexistent/x.dtb', '-bios', 'hello.bin'],
        'dumpdtb=/nonexistent/x.dtb: cannot write: No such file or directory',
      ],
      [['-bios', 'hello.bin'], /^No machine specified/],
      [['-M', 'rvtest', '-netdev', 'user,id=n0'], /network backend 'user' is not available/],
      [
        ['-M', 'rvtest', '-device', 'virtio-net-pci,netdev=n9'],
        "-device virtio-net-pci,netdev=n9: Property 'virtio-net-pci.netdev' can't find value 'n9'",
      ],
      [
        [
          '-M',
          'rvtest',
          '-netdev',
          'stream,id=n0,server=off,addr.type=unix,addr.path=/nonexistent/s.sock',
        ],
        "-netdev stream,id=n0: Failed to connect to '/nonexistent/s.sock': ENOENT",
      ],
      [
        ['-M', 'rvtest', '-object', 'filter-dump,id=f0,netdev=n7,file=x.pcap'],
        "-object filter-dump,id=f0: netdev 'n7' not found",
      ],
    ];
    for (const [args, want] of cases) {
      const r = await sys(args);
      const what = args.join(' ');
      expect(r.code, what).toBe(1);
      const lines = r.err.trimEnd().split('\n');
      expect(lines, what).toHaveLength(1);
      const msg = lines[0]!.replace(/^emuhost-system-riscv64: /, '');
      if (typeof want === 'string') expect(msg, what).toBe(want);
      else expect(msg, what).toMatch(want);
    }
  });

  it('lists machines, CPUs, devices and trace items when asked', { timeout: 120_000 }, async () => {
    const m = await sys(['-M', 'help']);
    expect(m.code).toBe(0);
    expect(m.out).toMatch(/^Supported machines are:\n/);
    expect(m.out).toContain('rvtest');
    expect(m.out).not.toMatch(/^pc /m);
    const c = await sys(['-cpu', 'help']);
    expect(c.out).toMatch(/^Available CPUs:\nrv64 /);
    const d = await sys(['-device', 'help']);
    expect(d.out).toMatch(/^edu /m);
    const t = await sys(['-d', 'help']);
    expect(t.out).toBe('Log items (comma separated):\nin_asm\nint\nexec\n');
    const v = await sys(['-version']);
    expect(v.out).toMatch(
      /^emuhost-system-riscv64 \(emuhost .*\), QEMU 10\.0\.\d+'s command line\n$/,
    );
    const h = await sys(['-help']);
    expect(h.out).toContain('-gdb tcp:[HOST]:PORT');
    expect(h.out).toContain('-netdev hub,id=ID,path=SOCK');
    const w = await sys(['-M', 'rvtest', '-bios', 'hello.bin', '-d', 'guest_errors']);
    expect(w.err).toBe('emuhost-system-riscv64: warning: -d guest_errors: not traced by emuhost\n');
  });
});
