import { buildMachineSpec, PluginHost } from '@emuhost/host';
import { describe, expect, it } from 'vitest';
import { ALL_COMBOS, BUF, comboName, machineSpec } from '../fuzz/combos.js';
import { hex } from '../fuzz/ops.js';
import { emuhostExtensions } from './extensions.js';
import { QtestSession } from './session.js';

const BAR = 0xe0000000;

/** pc + edu (no IOMMU) in an in-process session, edu's BAR0 at BAR with memory and bus master on. */
async function eduMachine() {
  const host = new PluginHost();
  const combo = ALL_COMBOS.find((c) => comboName(c) === 'pc+edu+none')!;
  const emu = await buildMachineSpec(machineSpec(combo), host, { log: () => {} });
  const s = new QtestSession(emu, { emit: () => {}, extensions: emuhostExtensions(emu) });
  const q = (l: string) => s.handle(l);
  const cfg = (devfn: number, off: number) => hex((0x80000000 | (devfn << 8) | off) >>> 0);
  let devfn = 0;
  for (; devfn < 256; devfn++) {
    q(`outl 0xcf8 ${cfg(devfn, 0)}`);
    if (Number(q('inl 0xcfc').slice(3)) === 0x11e81234) break;
  }
  expect(devfn).toBeLessThan(256);
  // Also after `emuhost.device.restart`, which resets the PCI function (BARs unmapped).
  const enable = () => {
    for (const l of [
      `outl 0xcf8 ${cfg(devfn, 0x10)}`,
      `outl 0xcfc ${hex(BAR)}`,
      `outl 0xcf8 ${cfg(devfn, 0x04)}`,
      'outw 0xcfc 0x6',
    ])
      expect(q(l)).toBe('OK');
  };
  enable();
  const ok = (l: string) => {
    const r = q(l);
    expect(r, l).toMatch(/^OK/);
    return r;
  };
  const rl = (a: number) => {
    const r = q(`readl ${hex(a)}`);
    expect(r).toMatch(/^OK 0x/);
    return Number(r.slice(3));
  };
  return { host, emu, q, ok, rl, enable };
}

describe('emuhost.device.reload', () => {
  it('reloads edu0 onto a fresh instance of its code: state kept, a pending DMA completes', async () => {
    const { host, emu, q, ok, rl } = await eduMachine();
    const before = emu.devices.get('edu0')!.plugin;
    ok(`writel ${hex(BAR + 0x04)} 0x12345678`);
    expect(rl(BAR + 0x04)).toBe(0xedcba987);
    // RAM -> edu's buffer, completed; then edu -> RAM, started but not yet done.
    ok(`write ${hex(BUF)} 8 0x0102030405060708`);
    ok(`writeq ${hex(BAR + 0x80)} ${hex(BUF)}`);
    ok(`writeq ${hex(BAR + 0x88)} 0x40000`);
    ok(`writeq ${hex(BAR + 0x90)} 0x8`);
    ok(`writeq ${hex(BAR + 0x98)} 0x1`);
    ok('clock_step');
    expect(rl(BAR + 0x98)).toBe(0x0);
    ok(`writeq ${hex(BAR + 0x80)} 0x40000`);
    ok(`writeq ${hex(BAR + 0x88)} ${hex(BUF + 0x100)}`);
    ok(`writeq ${hex(BAR + 0x98)} 0x3`);
    expect(rl(BAR + 0x98)).toBe(0x3);

    const r = q('emuhost.device.reload edu0');
    expect(r).toMatch(/^OK \{/);
    expect(JSON.parse(r.slice(3))).toMatchObject({
      device: 'edu0',
      plugin: 'edu',
      outcome: 'reloaded',
      state: 'kept',
      warnings: [],
    });
    const after = emu.devices.get('edu0')!.plugin;
    expect(after).not.toBe(before);
    expect(after.realm).not.toBe(before.realm);
    expect(host.get('edu')).toBe(after);

    // The state came over: liveness, and the transfer in flight, which now completes.
    expect(rl(BAR + 0x04)).toBe(0xedcba987);
    expect(q(`read ${hex(BUF + 0x100)} 8`)).toBe('OK 0x0000000000000000');
    ok('clock_step');
    expect(rl(BAR + 0x98)).toBe(0x2);
    expect(q(`read ${hex(BUF + 0x100)} 8`)).toBe('OK 0x0102030405060708');

    // Again (the host's current plugin is the reloaded one), and errors.
    expect(q('emuhost.device.reload edu0')).toMatch(/^OK .*"outcome":"reloaded"/);
    expect(q('emuhost.device.reload nosuch')).toBe("FAIL no device 'nosuch'");
    expect(q('emuhost.device.reload')).toBe("FAIL no device ''");
  });
});

describe('emuhost.device.inject-fault', () => {
  it('quarantines the device as a plugin exception would; restart brings it back', async () => {
    const { emu, q, ok, rl, enable } = await eduMachine();
    const faults: unknown[] = [];
    emu.machine.hooks.guard.deviceFault.tap('t', (e) => void faults.push(e));
    ok(`writel ${hex(BAR + 0x04)} 0x1`);
    expect(q('emuhost.device.inject-fault edu0 timer')).toBe('OK');
    // MMIO is not the armed site: edu answers.
    expect(rl(BAR + 0x04)).toBe(0xfffffffe);
    // A DMA completion runs on a timer: it faults instead of writing.
    ok(`write ${hex(BUF + 0x200)} 4 0xaabbccdd`);
    ok(`writeq ${hex(BAR + 0x80)} 0x40000`);
    ok(`writeq ${hex(BAR + 0x88)} ${hex(BUF + 0x200)}`);
    ok(`writeq ${hex(BAR + 0x90)} 0x4`);
    ok(`writeq ${hex(BAR + 0x98)} 0x3`);
    ok('clock_step');
    expect(faults).toMatchObject([{ device: 'edu0', plugin: 'edu', site: 'timer' }]);
    expect(q(`read ${hex(BUF + 0x200)} 4`)).toBe('OK 0xaabbccdd');
    expect(JSON.parse(q('emuhost.devices').slice(3))).toEqual([
      {
        id: 'edu0',
        plugin: 'edu',
        version: expect.any(String),
        level: 'trusted',
        quarantined: true,
        state: 'quarantined',
        reason: "timer callback 'edu0.dma': Error: injected fault (timer)",
      },
    ]);
    expect(JSON.parse(q('emuhost.info devices').slice(3))).toMatch(
      /^ {2}edu0: edu \S+ \(device, trusted\), quarantined: timer callback 'edu0\.dma': Error: injected fault \(timer\)$/,
    );
    expect(JSON.parse(q('emuhost.info pci').slice(3))).toContain(
      "    quarantined: timer callback 'edu0.dma': Error: injected fault (timer)",
    );
    expect(rl(BAR)).toBe(0xffffffff);
    expect(rl(BAR + 0x04)).toBe(0xffffffff);

    expect(q('emuhost.device.restart edu0')).toMatch(/^OK/);
    enable();
    expect(rl(BAR)).toBe(0x010000ed);
    ok(`writel ${hex(BAR + 0x04)} 0x0`);
    expect(rl(BAR + 0x04)).toBe(0xffffffff);

    // Any site (the default): the next MMIO access.
    expect(q('emuhost.device.inject-fault edu0')).toBe('OK');
    expect(rl(BAR)).toBe(0xffffffff);
    expect(faults).toHaveLength(2);
    expect(faults[1]).toMatchObject({ site: 'mmio-read' });
    expect(q('emuhost.device.restart edu0')).toMatch(/^OK/);
    enable();
    expect(rl(BAR)).toBe(0x010000ed);

    expect(q('emuhost.device.inject-fault nosuch')).toBe("FAIL no device 'nosuch'");
    expect(q('emuhost.device.inject-fault edu0 bogus')).toMatch(/^FAIL no guard site 'bogus'/);
    expect(q('emuhost.device.inject-fault')).toMatch(/^FAIL usage/);
  });
});
