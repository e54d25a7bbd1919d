import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bareMachine,
  Emulator,
  loadBundled,
  NetHub,
  PluginHost,
  RunLoop,
  SnapshotStore,
} from '@emuhost/host';
import { describe, expect, it } from 'vitest';
import { infoView } from '../qtest/info.js';
import { Monitor } from './monitor.js';
import { counter, echo } from './test-support/guests.js';
import { testMachine } from './test-support/machine.js';

async function setup(image: Uint8Array, smp = 1, snapshots?: SnapshotStore) {
  const m = await testMachine(image, { paused: true, smp });
  let out = '';
  const mon = new Monitor(
    {
      emu: m.emu,
      loop: m.loop,
      view: (w) => infoView(m.emu, w),
      version: '10.0.13 (test)',
      ...(snapshots !== undefined && { snapshots }),
    },
    (t) => {
      out += t;
    },
  );
  const type = (s: string) => mon.input(Buffer.from(s));
  const take = () => {
    const o = out;
    out = '';
    return o;
  };
  return { m, mon, type, take, done: m.loop.run() };
}

describe('Monitor (HMP)', () => {
  it('greets, echoes, edits the line and answers with CR LF line ends', {
    timeout: 60_000,
  }, async () => {
    const { m, mon, type, take } = await setup(echo().image);
    mon.greet();
    expect(take()).toBe(
      "QEMU 10.0.13 (test) monitor - type 'help' for more information\r\n(qemu) ",
    );
    type('info statuz\x7fs\r');
    expect(take()).toBe('info statuz\b \bs\r\nVM status: paused (prelaunch)\r\n(qemu) ');
    type('bogus\r\n');
    expect(take()).toBe("bogus\r\nunknown command: 'bogus'\r\n(qemu) ");
    // Up arrow brings the last line back.
    type('\x1b[A');
    expect(take()).toBe('bogus');
    type('\x15help stop\r');
    expect(take()).toBe(`${'\b \b'.repeat(5)}help stop\r\nstop -- stop emulation\r\n(qemu) `);
    m.loop.quit(0);
  });

  it('stop, cont, info status/cpus/registers, cpu N, and the machine views', {
    timeout: 60_000,
  }, async () => {
    const prog = counter();
    const { m, mon } = await setup(prog.image, 2);
    expect(mon.execute('info status')).toBe('VM status: paused (prelaunch)');
    expect(mon.execute('cont')).toBe('');
    expect(mon.execute('info status')).toBe('VM status: running');
    while (m.emu.machine.cpus.instructions < 10_000) await new Promise((r) => setImmediate(r));
    mon.execute('stop');
    expect(mon.execute('info status')).toBe('VM status: paused');
    const at = m.emu.machine.cpus.instructions;
    await new Promise((r) => setTimeout(r, 50));
    expect(m.emu.machine.cpus.instructions).toBe(at);

    const cpus = mon.execute('info cpus').split('\n');
    expect(cpus).toHaveLength(2);
    expect(cpus[0]).toMatch(/^\* CPU #0: pc=0x00000000800000[0-9a-f]{2} thread_id=\d+$/);
    expect(cpus[1]).toMatch(/^ {2}CPU #1: pc=0x/);

    const regs = mon.execute('info registers');
    expect(regs).toMatch(
      /^CPU#0\n pc {7}00000000800000[0-9a-f]{2}\n priv {5}3 \(M\)\n x0\/zero {2}0{16} x1\/ra/,
    );
    expect(regs).toMatch(/ mhartid {2}0{16}/);
    expect(regs).not.toContain('CPU#1');
    expect(mon.execute('cpu 1')).toBe('');
    expect(mon.execute('info registers')).toMatch(/^CPU#1\n[\s\S]* mhartid {2}0{15}1/);
    expect(mon.execute('cpu 7')).toBe('invalid CPU index');
    expect(mon.execute('info registers -a').match(/^CPU#/gm)).toHaveLength(2);
    // Reading registers does not disturb the guest: it goes on counting.
    mon.execute('c');
    const before = m.emu.machine.cpus.instructions;
    while (m.emu.machine.cpus.instructions < before + 10_000)
      await new Promise((r) => setImmediate(r));
    mon.execute('stop');
    const count = m.emu.cpus[0]!.model.debug!.readMemory(BigInt(prog.labels.get('counter')!), 1);
    expect(count[0]).toBeGreaterThan(0);

    expect(mon.execute('info mtree')).toContain('ram');
    expect(mon.execute('info pci')).toBe('');
    expect(mon.execute('info nope')).toMatch(/unknown info subcommand: 'nope'/);
    expect(mon.execute('info')).toContain('info registers [-a]');
    mon.execute('quit');
    expect(m.loop.state.status).toBe('ended');
  });

  it('system_reset restarts the CPUs at the reset vector; system_powerdown ends the run', {
    timeout: 60_000,
  }, async () => {
    const prog = counter();
    const { m, mon, done } = await setup(prog.image);
    mon.execute('cont');
    while (m.emu.machine.cpus.instructions < 10_000) await new Promise((r) => setImmediate(r));
    mon.execute('stop');
    mon.execute('system_reset');
    expect(m.emu.cpus[0]!.model.debug!.pc).toBe(0x80000000n);
    mon.execute('cont');
    expect(mon.execute('system_powerdown')).toMatch(/no power button: powering off/);
    expect(await done).toEqual({ reason: 'poweroff', exitCode: 0 });
  });

  it('savevm, info snapshots, loadvm, delvm, snapshot_save/snapshot_load', {
    timeout: 60_000,
  }, async () => {
    const prog = counter();
    const dir = mkdtempSync(join(tmpdir(), 'emuhost-monitor-snap-'));
    const { m, mon } = await setup(prog.image, 2, new SnapshotStore(join(dir, 'tags')));
    const count = () =>
      m.emu.cpus[0]!.model.debug!.readMemory(BigInt(prog.labels.get('counter')!), 4).join();
    mon.execute('cont');
    while (m.emu.machine.cpus.instructions < 10_000) await new Promise((r) => setImmediate(r));
    mon.execute('stop');
    const at = { count: count(), instructions: m.emu.machine.cpus.instructions };
    expect(mon.execute('savevm t1')).toBe('');
    expect(mon.execute(`snapshot_save ${join(dir, 'f.emusnap')}`)).toBe('');
    expect(mon.execute('info snapshots')).toMatch(/^TAG +SIZE +DATE +VM CLOCK\nt1 +\d/);
    mon.execute('cont');
    while (m.emu.machine.cpus.instructions < at.instructions + 10_000)
      await new Promise((r) => setImmediate(r));
    mon.execute('stop');
    expect(count()).not.toBe(at.count);
    expect(mon.execute('loadvm t1')).toBe('');
    expect({ count: count(), instructions: m.emu.machine.cpus.instructions }).toEqual(at);
    mon.execute('cont');
    while (m.emu.machine.cpus.instructions < at.instructions + 5_000)
      await new Promise((r) => setImmediate(r));
    mon.execute('stop');
    expect(mon.execute(`snapshot_load ${join(dir, 'f.emusnap')}`)).toBe('');
    expect(count()).toBe(at.count);
    expect(mon.execute('delvm t1')).toBe('');
    expect(mon.execute('loadvm t1')).toMatch(/^Error: snapshot io: no snapshot 't1'/);
    expect(mon.execute('info snapshots')).toBe('There is no snapshot available.');
    expect(mon.execute(`snapshot_load ${join(dir, 'nope')}`)).toMatch(
      /^Error: snapshot io: cannot read/,
    );
    mon.execute('quit');
  });

  it('savevm without -snapshot-dir says where snapshots would go', {
    timeout: 60_000,
  }, async () => {
    const { m, mon } = await setup(echo().image);
    expect(mon.execute('savevm x')).toBe(
      'Error: snapshot io: no snapshot directory: start emuhost with -snapshot-dir DIR',
    );
    m.loop.quit(0);
  });
});

describe('Monitor: network', () => {
  it('info network lists NICs with their netdevs; set_link turns a link off and on', {
    timeout: 60_000,
  }, async () => {
    const hub = new NetHub();
    const ports = [hub.port('n0'), hub.port('n1')];
    const emu = new Emulator({
      machine: bareMachine(),
      ramSize: 16 << 20,
      log: () => {},
      backends: { netdevs: new Map(ports.map((p) => [p.id, p])) },
    });
    const nic = await loadBundled(new PluginHost(), 'virtio-net-pci');
    emu.addDevice(nic, { id: 'net0', options: { netdev: 'n0', mac: '52:54:00:ab:cd:01' } });
    const loop = new RunLoop(emu);
    const mon = new Monitor({ emu, loop, view: () => undefined, version: 'test' }, () => {});
    expect(mon.execute('info network').split('\n')).toEqual([
      'net0: index=0,type=nic,model=virtio-net-pci,macaddr=52:54:00:ab:cd:01',
      ' \\ n0: index=0,type=hubport,tx=0,rx=0,dropped=0',
      'n1: index=1,type=hubport,tx=0,rx=0,dropped=0',
    ]);
    expect(mon.execute('set_link net0 off')).toBe('');
    expect(ports[0]!.linkUp).toBe(false);
    expect(mon.execute('info network')).toContain('macaddr=52:54:00:ab:cd:01,link=down');
    expect(mon.execute('set_link n0 on')).toBe('');
    expect(ports[0]!.linkUp).toBe(true);
    expect(mon.execute('set_link nope off')).toBe("Device 'nope' not found");
    expect(mon.execute('set_link n0 sideways')).toBe('usage: set_link name on|off');
  });
});
