/**
 * The stacks plugin code sees, at every level: its own frames under its script name, never a
 * host frame or a host path (issue 15: at confined, `new Error().stack` showed
 * `node:internal/process/task_queues` and the host's absolute paths).
 */
import type { DeviceFaultEvent } from '@emuhost/core';
import { bareMachine, Emulator, PluginHost } from '@emuhost/host';
import { createDriver } from '@emuhost/testing';
import { describe, expect, it } from 'vitest';
import type { SandboxLevel } from './realm.js';
import { pluginScriptName } from './stack-filter.js';

/**
 * Reading 0x00 logs `new Error().stack`; 0x04 logs the stack of the error a misused handle
 * throws (a DMA read into a string); 0x08 throws from a nested function; 0x0c logs the stack of
 * an error thrown by a revoked handle.
 */
const PLUGIN = `const { definePlugin } = require('@emuhost/sdk');
function deep() {
  throw new Error('deep bug');
}
module.exports.default = definePlugin({
  kind: 'device',
  pci: { vendorId: 0x1234, deviceId: 0x57ac, classCode: 0xff0000 },
  create(ctx) {
    const show = (what, f) => {
      try { f(); } catch (e) { ctx.log.warn(what + ' ' + e.stack); }
    };
    const r = ctx.mmio('regs', 0x100, {
      read(o) {
        if (o === 0) ctx.log.warn('own ' + new Error('look').stack);
        if (o === 4) show('misuse', () => ctx.dma.read('not an address', 'not bytes'));
        if (o === 8) deep();
        return 0;
      },
      write() {},
    });
    ctx.pci.bar(0, { kind: 'memory', size: 0x100 }, r);
    return {};
  },
});`;

const MANIFEST = {
  id: 'stacky',
  version: '1.0.0',
  kind: 'device',
  sdk: '^1.0.0',
  entry: 'stacky.js',
  capabilities: ['pci', 'dma'],
};

const FILE = '/home/someone/secret/place/dist/stacky.js';
const SCRIPT = pluginScriptName('stacky', FILE);

/** No frame but the plugin's, no host path, no Node internals. */
function onlyPluginFrames(stack: string): void {
  const frames = stack.split('\n').filter((l) => l.trim().startsWith('at '));
  expect(frames.length).toBeGreaterThan(0);
  for (const f of frames) expect(f).toContain(SCRIPT);
  expect(stack).not.toMatch(/node:|\/home\/|\/work\/|file:|emuhost-membrane|ses\.umd|\[worker/);
}

describe.each<SandboxLevel>(['trusted', 'confined', 'isolated'])('at the %s level', (level) => {
  it('plugin code sees only its own frames, under its script name', async () => {
    const host = new PluginHost();
    const plugin = host.loadCode(MANIFEST, PLUGIN, { level, file: FILE });
    const logged: string[] = [];
    const emu = new Emulator({
      machine: bareMachine(),
      ramSize: 1 << 20,
      log: (_l, _s, m) => void logged.push(m),
    });
    const faults: DeviceFaultEvent[] = [];
    emu.machine.hooks.guard.deviceFault.tap('test', (e) => void faults.push(e));
    emu.addDevice(plugin);
    const d = createDriver(emu);
    const dev = d.pciFind(0x1234, 0x57ac)!;
    const bar = dev.iomap(0).addr;
    dev.enable();
    d.readl(bar);
    d.readl(bar + 4);
    expect(logged).toHaveLength(2);
    expect(logged[0]).toMatch(/^own Error: look\n/);
    expect(logged[0]).toContain(`${SCRIPT}:14:`);
    onlyPluginFrames(logged[0]!);
    expect(logged[1]).toMatch(/^misuse /);
    expect(logged[1]).toContain(`${SCRIPT}:15:`);
    onlyPluginFrames(logged[1]!);
    // What the host sees of a plugin's error is the same: the plugin's frames, innermost first.
    expect(d.readl(bar + 8)).toBe(0xffffffff);
    expect(faults).toHaveLength(1);
    expect(faults[0]!.stack).toMatch(
      /^Error: deep bug\n {4}at deep \(emuhost-plugin:stacky\/stacky\.js:3:/,
    );
    onlyPluginFrames(faults[0]!.stack);
    plugin.realm.dispose();
  });
});
