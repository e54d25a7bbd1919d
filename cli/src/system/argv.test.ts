import { describe, expect, it } from 'vitest';
import { ArgvError } from '../qtest/qemu-argv.js';
import { parseSystemArgs } from './argv.js';

const parse = (s: string) => parseSystemArgs(s.split(' ').filter((w) => w !== ''));
const fails = (s: string) => {
  try {
    parse(s);
  } catch (e) {
    expect(e).toBeInstanceOf(ArgvError);
    return (e as Error).message;
  }
  throw new Error(`'${s}' was accepted`);
};

describe('parseSystemArgs', () => {
  it('takes -chardev socket, stdio, file and null by id, as virtconsole names them', () => {
    const a = parse(
      '-chardev socket,id=c0,path=/tmp/c0.sock,server=on,wait=off -chardev stdio,id=c1 -chardev file,id=c2,path=out.txt -chardev null,id=c3 -chardev socket,id=c4,host=127.0.0.1,port=4555,server=on,wait=off',
    );
    expect(Object.fromEntries(a.chardevs)).toEqual({
      c0: { kind: 'unix', path: '/tmp/c0.sock', server: true, wait: false },
      c1: { kind: 'stdio' },
      c2: { kind: 'file', path: 'out.txt' },
      c3: { kind: 'null' },
      c4: { kind: 'tcp', host: '127.0.0.1', port: 4555, server: true, wait: false },
    });
    expect(fails('-chardev stdio')).toMatch(/needs an id/);
    expect(fails('-chardev pty,id=p0')).toMatch(/'pty' is not one emuhost has/);
    expect(fails('-chardev null,id=a -chardev null,id=a')).toMatch(/duplicate/);
  });

  it("takes the reference guest's QEMU command line", () => {
    const a = parseSystemArgs([
      '-machine',
      'virt,iommu-sys=on',
      '-cpu',
      'rv64,jit=off',
      '-smp',
      '2',
      '-m',
      '512M',
      '-nographic',
      '-audio',
      'none',
      '-nic',
      'none',
      '-no-reboot',
      '-bios',
      'fw_dynamic.bin',
      '-kernel',
      'Image',
      '-initrd',
      'initrd.cpio.gz',
      '-append',
      'console=ttyS0 earlycon',
      '-drive',
      'file=disk.img,format=raw,if=none,id=hd0',
      '-device',
      'virtio-blk-pci,drive=hd0,iommu_platform=on',
      '-dtb',
      'virt.dtb',
    ]);
    expect(a).toMatchObject({
      machine: { type: 'virt', props: { 'iommu-sys': 'on' }, dumpdtb: undefined },
      cpu: { model: 'rv64', props: { jit: 'off' } },
      smp: 2,
      ramSize: 512 << 20,
      nographic: true,
      noReboot: true,
      bios: 'fw_dynamic.bin',
      kernel: 'Image',
      initrd: 'initrd.cpio.gz',
      append: 'console=ttyS0 earlycon',
      dtb: 'virt.dtb',
      drives: [{ file: 'disk.img', format: 'raw', if: 'none', id: 'hd0' }],
      devices: [{ driver: 'virtio-blk-pci', props: { drive: 'hd0', iommu_platform: 'on' } }],
      icount: { mode: 'deterministic', shift: 0, sleep: true },
      gdb: undefined,
      paused: false,
    });
  });

  it('machine properties: dumpdtb, and the boot files as QEMU spells them there', () => {
    const a = parse('-M virt,dumpdtb=out.dtb,kernel=k,initrd=i,append=a,,b,firmware=f,aclint=on');
    expect(a.machine).toEqual({ type: 'virt', props: { aclint: 'on' }, dumpdtb: 'out.dtb' });
    expect(a).toMatchObject({ kernel: 'k', initrd: 'i', append: 'a,b', bios: 'f' });
  });

  it('serial and monitor backends in the spellings QEMU accepts', () => {
    const a = parse(
      '-serial unix:/tmp/s.sock,server,nowait -serial tcp::4444,server=on,wait=off -serial tcp:localhost:5555 -serial file:/tmp/out -serial null -serial none -serial vc -serial mon:stdio -monitor stdio',
    );
    expect(a.serial).toEqual([
      { kind: 'unix', path: '/tmp/s.sock', server: true, wait: false },
      { kind: 'tcp', host: '127.0.0.1', port: 4444, server: true, wait: false },
      { kind: 'tcp', host: 'localhost', port: 5555, server: false, wait: true },
      { kind: 'file', path: '/tmp/out' },
      { kind: 'null' },
      { kind: 'none' },
      { kind: 'null' },
      { kind: 'mon-stdio' },
    ]);
    expect(a.monitors).toEqual([{ kind: 'stdio' }]);
    expect(fails('-serial pty')).toMatch(/-serial pty: not a backend emuhost has/);
    expect(fails('-serial mon:tcp::1')).toMatch(/only mon:stdio/);
  });

  it('-s, -S and -gdb', () => {
    expect(parse('-s -S')).toMatchObject({
      gdb: { kind: 'tcp', port: 1234, server: true, wait: false },
      paused: true,
    });
    expect(parse('-gdb tcp::9999').gdb).toMatchObject({ kind: 'tcp', port: 9999, server: true });
    expect(parse('-gdb 4321').gdb).toMatchObject({ kind: 'tcp', port: 4321 });
    expect(parse('-gdb unix:/tmp/g').gdb).toMatchObject({ kind: 'unix', path: '/tmp/g' });
    expect(parse('-s -gdb none').gdb).toBeUndefined();
    expect(fails('-gdb stdio')).toMatch(/tcp:\[HOST\]:PORT or unix:PATH/);
  });

  it('-d and -D: CPU traces; QEMU-only items are accepted and named, unknown ones refused', () => {
    const a = parse('-d in_asm,int,guest_errors,exec -D /tmp/trace.log');
    expect([...a.trace.items]).toEqual(['in_asm', 'int', 'exec']);
    expect(a.trace.file).toBe('/tmp/trace.log');
    expect(a.untraced).toEqual(['guest_errors']);
    expect(fails('-d bogus')).toMatch(/-d bogus: unknown log item/);
    expect(parse('-d help').listHelp).toBe('trace');
  });

  it('-icount: shift=N, sleep, and shift=auto for real time', () => {
    expect(parse('-icount 3').icount).toEqual({ mode: 'deterministic', shift: 3, sleep: true });
    expect(parse('-icount shift=2,sleep=off').icount).toEqual({
      mode: 'deterministic',
      shift: 2,
      sleep: false,
    });
    expect(parse('-icount shift=auto').icount).toEqual({ mode: 'realtime' });
    expect(fails('-icount shift=auto,sleep=off')).toMatch(/incompatible/);
    expect(fails('-icount shift=11')).toMatch(/shift must be 0 to 10/);
    expect(fails('-icount shift=1,rr=record')).toMatch(/'rr' is not supported/);
  });

  it('-smp: a count or a topology', () => {
    expect(parse('-smp 4').smp).toBe(4);
    expect(parse('-smp cpus=3,sockets=1').smp).toBe(3);
    expect(parse('-smp sockets=2,cores=2,threads=1').smp).toBe(4);
    expect(fails('-smp 0')).toMatch(/1 to 512/);
    expect(fails('-smp x')).toMatch(/cpus must be a number/);
  });

  it('-snapshot-dir and -loadvm', () => {
    expect(parse('-snapshot-dir snaps -loadvm booted')).toMatchObject({
      snapshotDir: 'snaps',
      loadvm: 'booted',
    });
    expect(parse('').loadvm).toBeUndefined();
    expect(fails('-loadvm')).toMatch(/requires an argument/);
  });

  it('accepts the host options QEMU users pass when they choose nothing', () => {
    const a = parse(
      '-display none -audio none -nic none -vga none -nodefaults -no-shutdown -accel tcg -name g',
    );
    expect(a).toMatchObject({ nodefaults: true, noShutdown: true });
    expect(fails('-display gtk')).toMatch(/-display gtk: emuhost has no display/);
    expect(fails('-nic user')).toMatch(/no -nic shorthand.*-netdev hub/);
    expect(fails('-accel kvm')).toMatch(/invalid accelerator kvm/);
    expect(fails('-enable-kvm')).toMatch(/no KVM/);
  });

  it('-netdev hub and stream as QEMU spells them; other kinds refused by name', () => {
    const a = parse(
      '-netdev hub,id=n0,path=/tmp/lan.sock -netdev stream,id=n1,server=on,addr.type=unix,addr.path=/tmp/s.sock',
    );
    expect(a.netdevs).toEqual([
      { kind: 'hub', id: 'n0', path: '/tmp/lan.sock' },
      { kind: 'stream', id: 'n1', server: true, path: '/tmp/s.sock' },
    ]);
    expect(
      parse('-netdev stream,id=n1,addr.type=unix,addr.path=/x').netdevs[0],
      'server=off by default, as QEMU',
    ).toMatchObject({ server: false });
    expect(fails('-netdev user,id=n0')).toMatch(
      /'user' is not available in emuhost \(it has hub, stream/,
    );
    expect(fails('-netdev hub,path=/x')).toMatch(/Parameter 'id' is missing/);
    expect(fails('-netdev hub,id=n0')).toMatch(/Parameter 'path' is missing/);
    expect(fails('-netdev stream,id=n0,addr.type=inet,addr.host=h')).toMatch(/addr.type=unix only/);
    expect(fails('-netdev stream,id=n0,server=maybe,addr.type=unix,addr.path=/x')).toMatch(
      /'on' or 'off'/,
    );
  });

  it('bad input: unknown options, missing values, stray words, bad sizes', () => {
    expect(fails('-foo')).toBe('-foo: invalid option');
    expect(fails('-kernel')).toBe('-kernel: requires an argument');
    expect(fails('disk.img')).toMatch(/disk.img: unexpected argument/);
    expect(fails('-m lots')).toMatch(/size/);
    expect(fails('-cpu ,x=1')).toMatch(/missing CPU model/);
    expect(fails('-drive format=raw')).toMatch(/needs file=/);
  });

  it('help, version and the list requests', () => {
    expect(parse('-version').version).toBe(true);
    expect(parse('--help').help).toBe(true);
    expect(parse('-M help').listHelp).toBe('machine');
    expect(parse('-cpu help').listHelp).toBe('cpu');
    expect(parse('-device help').listHelp).toBe('device');
    expect(parse('--plugin /x/emuhost.plugin.json,level=trusted').plugins).toEqual([
      { path: '/x/emuhost.plugin.json', level: 'trusted' },
    ]);
  });
  it('--watch DIR, again for each plugin', () => {
    expect(parseSystemArgs(['--watch', 'plugins/a', '-watch', 'plugins/b']).watch).toEqual([
      'plugins/a',
      'plugins/b',
    ]);
  });
});
