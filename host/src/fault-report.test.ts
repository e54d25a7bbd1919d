/**
 * Fault reports at every level: the device, the plugin, which callback, the error, and the
 * stack mapped through the bundle's source map to the plugin's own source files and lines.
 */
import { fileURLToPath } from 'node:url';
import type { SandboxLevel } from '@emuhost/sandbox';
import { createDriver, loadPluginDir } from '@emuhost/testing';
import { describe, expect, it } from 'vitest';
import { bareMachine } from './bare-machine.js';
import { Emulator } from './emulator.js';
import { faultReason, watchFaults } from './fault-report.js';

const DIR = fileURLToPath(new URL('./__fixtures__/faulty', import.meta.url));
const SRC = 'host/src/__fixtures__/faulty/src';

async function rig(level: SandboxLevel) {
  const plugin = await loadPluginDir(DIR, { level });
  const emu = new Emulator({ machine: bareMachine(), ramSize: 1 << 20, log: () => {} });
  const reports: string[] = [];
  watchFaults(emu, (t) => void reports.push(t));
  const dev = emu.addDevice(plugin, { id: 'f0' });
  const d = createDriver(emu);
  const pci = d.pciFind(0x1234, 0xfa17)!;
  const bar = pci.iomap(0).addr;
  pci.enable();
  expect(d.readl(bar)).toBe(0x600d);
  return { plugin, emu, dev, d, pci, bar, reports };
}

describe.each<SandboxLevel>(['trusted', 'confined', 'isolated'])('at the %s level', (level) => {
  it('an MMIO read that throws is reported once, at its source file and line', async () => {
    const r = await rig(level);
    expect(r.d.readl(r.bar + 0x10)).toBe(0xffffffff);
    expect(r.d.readl(r.bar + 0x10)).toBe(0xffffffff);
    expect(r.reports).toHaveLength(1);
    const lines = r.reports[0]!.trimEnd().split('\n');
    expect(lines[0]).toBe(
      `emuhost: device f0 (plugin faulty 1.2.3, ${level}) faulted in its MMIO read handler (region f0.regs, offset 0x10): Error: register 0x10 is not implemented`,
    );
    // Innermost first: the throw in regs.ts, then its caller in index.ts.
    expect(lines[1]).toMatch(new RegExp(`^ {4}at readRegister \\(${SRC}/regs\\.ts:4:11\\)$`));
    expect(lines[2]).toMatch(new RegExp(`^ {4}at .*\\(${SRC}/index\\.ts:17:`));
    expect(lines.at(-1)).toMatch(/quarantined/);
    expect(r.reports[0]).not.toMatch(/emuhost-plugin:|node:|\/core\/src|\.cache/);
    expect(faultReason(r.dev.slot.scope.guard.lastFault!, r.plugin)).toBe(
      `MMIO read handler (region f0.regs, offset 0x10): Error: register 0x10 is not implemented (at readRegister (${SRC}/regs.ts:4:11))`,
    );
    r.plugin.realm.dispose();
  });

  it('a timer callback is named, and so is a config write', async () => {
    const r = await rig(level);
    r.d.writel(r.bar + 0x14, 1);
    r.d.clockStep(100);
    expect(r.reports).toHaveLength(1);
    expect(r.reports[0]).toMatch(
      /faulted in its timer callback 'f0\.tick': RangeError: the tick went wrong\n {4}at .*index\.ts:14:/,
    );
    r.dev.restart();
    r.pci.configWrite(0x40, 4, 1);
    expect(r.reports).toHaveLength(2);
    expect(r.reports[1]).toMatch(
      /faulted in its config-space write handler \(0x40, 4 bytes, value 0x1\): TypeError: config 0x40 is read-only here\n {4}at .*index\.ts:24:/,
    );
    r.plugin.realm.dispose();
  });
});
