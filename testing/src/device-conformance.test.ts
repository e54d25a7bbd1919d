import { fileURLToPath } from 'node:url';
import { inProcessPlugin } from '@emuhost/host';
import { type DevicePluginDefinition, definePlugin, iova } from '@emuhost/sdk';
import { describe, expect, it } from 'vitest';
import { type DeviceCase, deviceCases, deviceConformance } from './device-conformance.js';

// The kit run against the host's test fixture, a small DMA-capable PCI device.
deviceConformance({
  plugin: fileURLToPath(new URL('../../host/src/__fixtures__/dma-copy', import.meta.url)),
});

/** A device with one register at BAR0+0; `flaw` breaks it in one way. */
function flawed(
  flaw:
    | 'no-reset'
    | 'lossy-state'
    | 'ignores-dma-errors'
    | 'leaks-bounce'
    | 'writable-id'
    | 'drops-mappings',
) {
  const def: DevicePluginDefinition = definePlugin({
    kind: 'device',
    pci: { vendorId: 0x1af4, deviceId: 0x10ff, classCode: 0xff0000 },
    create(ctx, state) {
      let reg = typeof state === 'number' ? state : 0;
      const t = ctx.clock.timer('t', () => {
        const r = ctx.dma.readU32LE(iova(reg));
        if (flaw === 'ignores-dma-errors' && typeof r !== 'number')
          throw new Error(`DMA failed: ${r.result}`);
      });
      const bar = ctx.mmio('r', 0x100, {
        read: () => reg,
        write: (_o, _s, v) => {
          reg = Number(v);
          t.armIn(10);
          // Keeps a ring mapped (RAM, so no bounce budget) that a new instance never adopts.
          if (flaw === 'drops-mappings') ctx.dma.map(iova(0x1000), 16, 'write');
          return undefined;
        },
      });
      ctx.pci!.bar(0, { kind: 'memory', size: 0x100 }, bar);
      if (flaw === 'writable-id')
        ctx.pci!.onConfigWrite((o, _s, v) => o === 0 && ctx.pci!.configSet(0, 4, v));
      // Maps the MSI window (MMIO: a bounce buffer) and never releases it; the kernel must.
      if (flaw === 'leaks-bounce') ctx.dma.map(iova(0xfee00000), 4, 'write');
      return {
        ...(flaw !== 'no-reset' && {
          reset: () => {
            reg = 0;
          },
        }),
        saveState: () => (flaw === 'lossy-state' ? 0 : reg),
      };
    },
  });
  return () =>
    inProcessPlugin(
      {
        id: 'flawed',
        version: '1.0.0',
        kind: 'device',
        sdk: '^1.0.0',
        entry: 'x',
        capabilities: ['pci', 'dma', 'timers'],
      },
      def,
    );
}

describe('the device suite catches what it is for', () => {
  it('the kernel releases a bounce mapping a device forgot, so unplug still leaves nothing', async () => {
    await deviceCases({ plugin: flawed('leaks-bounce') })['unplug releases everything']();
  });

  it.each([
    ['no-reset', 'reset matches a fresh device'],
    ['lossy-state', 'state round trip'],
    ['ignores-dma-errors', 'survives failing DMA'],
    ['writable-id', 'identity is read-only'],
  ] as const)('a device with flaw %s fails "%s"', async (flaw, name: DeviceCase) => {
    const cases = deviceCases({ plugin: flawed(flaw) });
    await expect(cases[name]()).rejects.toThrow(/expected/);
  });

  it('a device that does not adopt its DMA mappings fails "hot reload keeps the device"', async () => {
    const cases = deviceCases({ plugin: flawed('drops-mappings') });
    await expect(cases['hot reload keeps the device']()).rejects.toThrow(
      /a reload onto the same code loses nothing/,
    );
  });

  it('a skip needs a reason', async () => {
    const { registerCases } = await import('./skips.js');
    expect(() => registerCases({ a: () => {} }, { a: ' ' })).toThrow(/needs a reason/);
    expect(() => registerCases({ a: () => {} }, { b: 'x' } as never)).toThrow(/no case named 'b'/);
  });
});
