/**
 * Handles check their arguments at every level (issue 15: at trusted, a non-function passed to
 * `onConfigWrite` was accepted and crashed the device at the next guest config write). At
 * trusted the facades refuse with `EmuhostError` E_BAD_ARGUMENT; at confined and isolated the
 * membrane refuses first, with a TypeError, and the facades refuse what it lets through.
 * Either way the call that was wrong throws, and nothing wrong is kept.
 */
import type { SandboxLevel } from '@emuhost/sandbox';
import { createDriver } from '@emuhost/testing';
import { describe, expect, it } from 'vitest';
import { bareMachine } from '../bare-machine.js';
import { Emulator } from '../emulator.js';
import { PluginHost } from '../plugin-host.js';

/** Each misuse, run in `create`, caught, and reported through the log. */
const MISUSES: Record<string, string> = {
  'onConfigWrite(42)': 'ctx.pci.onConfigWrite(42)',
  'a timer callback that is a string': "ctx.clock.timer('t', 'later')",
  'MMIO ops whose read is a number': "ctx.mmio('x', 0x100, { read: 1, write() {} })",
  'a DMA address that is a string': "ctx.dma.read('0x1000', new Uint8Array(4))",
  'DMA bytes that are an array': 'ctx.dma.write(0x1000, [1, 2, 3])',
  'a DMA access that is neither read nor write': "ctx.dma.map(0x1000, 16, 'sideways')",
  'a 64-bit value that is a number': 'ctx.dma.writeU64LE(0x1000, 1)',
  'an SG entry whose address is a string':
    "ctx.dma.readSg([{ addr: 'x', len: 1 }], new Uint8Array(1))",
  'a forged region handle':
    "ctx.pci.bar(1, { kind: 'memory', size: 0x100 }, { name: 'regs', size: 0x100 })",
  'a timer deadline that is a string': "ctx.clock.timer('u', () => {}).armIn('soon')",
};

const plugin = (
  misuses: Record<string, string>,
) => `const { definePlugin } = require('@emuhost/sdk');
module.exports.default = definePlugin({
  kind: 'device',
  pci: { vendorId: 0x1234, deviceId: 0xc4ec, classCode: 0xff0000 },
  create(ctx) {
    const r = ctx.mmio('regs', 0x100, { read: () => 0x600d, write() {} });
    ctx.pci.bar(0, { kind: 'memory', size: 0x100 }, r);
    const tries = ${JSON.stringify(misuses)};
    for (const what of Object.keys(tries)) {
      try {
        new Function('ctx', tries[what])(ctx);
        ctx.log.warn(what + ' => accepted');
      } catch (e) {
        ctx.log.warn(what + ' => ' + e.name + (e.code ? ' ' + e.code : '') + ': ' + e.message);
      }
    }
    return {};
  },
});`;

const MANIFEST = {
  id: 'misuser',
  version: '1.0.0',
  kind: 'device',
  sdk: '^1.0.0',
  entry: 'misuser.js',
  capabilities: ['pci', 'dma', 'timers'],
};

describe.each<[SandboxLevel, RegExp]>([
  ['trusted', /^EmuhostError E_BAD_ARGUMENT: /],
  // The membrane's own checks throw TypeErrors; what they let through, the facades refuse.
  ['confined', /^(TypeError|EmuhostError E_BAD_ARGUMENT): /],
  ['isolated', /^(TypeError|EmuhostError E_BAD_ARGUMENT): /],
])('at the %s level', (level, refused) => {
  it('every misuse of a handle throws where it is made, and the device goes on', () => {
    const host = new PluginHost();
    // Function is not available to confined code (no unsafe eval): those levels get the
    // misuses as plain statements instead.
    const code =
      level === 'trusted'
        ? plugin(MISUSES)
        : plugin(MISUSES).replace(
            "new Function('ctx', tries[what])(ctx);",
            `switch (what) {${Object.entries(MISUSES)
              .map(([k, v]) => `case ${JSON.stringify(k)}: ${v}; break;`)
              .join(' ')}}`,
          );
    const p = host.loadCode(MANIFEST, code, { level, file: '/x/misuser.js' });
    const lines: string[] = [];
    const emu = new Emulator({
      machine: bareMachine(),
      ramSize: 1 << 20,
      log: (_l, _s, m) => void lines.push(m),
    });
    const dev = emu.addDevice(p);
    const got = Object.fromEntries(lines.map((l) => l.split(' => ') as [string, string]));
    expect(Object.keys(got).sort()).toEqual(Object.keys(MISUSES).sort());
    for (const [what, result] of Object.entries(got)) expect(result, what).toMatch(refused);
    // The messages name what was wrong.
    expect(got['onConfigWrite(42)']).toMatch(/callback must be a function/);
    expect(got['a DMA address that is a string']).toMatch(/addr must be a number/);
    // Nothing wrong was kept: a guest config write, the case the issue found, is harmless.
    const d = createDriver(emu);
    const pci = d.pciFind(0x1234, 0xc4ec)!;
    pci.configWrite(0x40, 4, 1);
    const bar = pci.iomap(0);
    pci.enable();
    expect(d.readl(bar.addr)).toBe(0x600d);
    expect(dev.slot.scope.guard.quarantined).toBe(false);
    p.realm.dispose();
  });
});
