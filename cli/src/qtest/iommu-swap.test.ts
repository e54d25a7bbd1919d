import { fileURLToPath } from 'node:url';
import { bareMachine, Emulator, loadBundled, PluginHost } from '@emuhost/host';
import { loadPluginDir } from '@emuhost/testing';
import { describe, expect, it } from 'vitest';
import { emuhostExtensions } from './extensions.js';
import { QtestSession } from './session.js';

const FIXTURE = fileURLToPath(new URL('../../../host/src/__fixtures__/dma-copy', import.meta.url));

describe('emuhost.iommu.swap', () => {
  it('swaps none → a new instance → an existing one → none, and answers a report', async () => {
    const host = new PluginHost();
    const passthrough = await loadBundled(host, 'passthrough');
    const emu = new Emulator({ machine: bareMachine(), ramSize: 16 << 20, log: () => {} });
    emu.addDevice(await loadPluginDir(FIXTURE), { id: 'cp0' });
    const s = new QtestSession(emu, {
      emit: () => {},
      extensions: emuhostExtensions(emu, { plugin: (id) => host.get(id) }),
    });
    const q = (l: string) => s.handle(l);
    const ok = (l: string) => {
      const r = q(l);
      expect(r).toMatch(/^OK /);
      return JSON.parse(r.slice(3)) as Record<string, unknown>;
    };
    expect(
      ok('emuhost.iommu.swap bus=pci.0 passthrough id=pt1 window_size=0x100000'),
    ).toMatchObject({
      from: null,
      to: 'pt1',
      contexts: 1,
      revoked: 0,
      removed: null,
    });
    expect(emu.machine.dma.info().find((c) => c.device === 'cp0')?.iommu).toBe('pt1');
    emu.addIommu(passthrough, { id: 'pt2' });
    expect(ok('emuhost.iommu.swap bus=pci.0 pt2')).toMatchObject({
      from: 'pt1',
      to: 'pt2',
      removed: 'pt1',
    });
    expect(ok('emuhost.iommu.swap device=cp0 none')).toMatchObject({
      from: null,
      to: null,
      contexts: 1,
    });
    expect(ok('emuhost.iommu.swap bus=pci.0,rid=0-0xff pt2')).toMatchObject({
      to: 'pt2',
      contexts: 0,
    });
    expect(ok('emuhost.iommu.swap bus=pci.0 none')).toMatchObject({ from: 'pt2', removed: null });
    expect(q('emuhost.iommu.swap')).toMatch(/^FAIL usage/);
    expect(q('emuhost.iommu.swap bus=nosuch none')).toBe(
      "FAIL no bus 'nosuch' (buses: pci.0, platform)",
    );
    expect(q('emuhost.iommu.swap bus=pci.1 none')).toBe(
      "FAIL no bus 'pci.1' (did you mean 'pci.0'?) (buses: pci.0, platform)",
    );
    expect(q('emuhost.iommu.swap pci.0 none')).toMatch(/^FAIL target 'pci.0' is not/);
    expect(q('emuhost.iommu.swap bus=pci.0,rid=9-1 none')).toMatch(/^FAIL requester-ID range/);
    expect(q('emuhost.iommu.swap bus=pci.0 nosuch')).toBe("FAIL no IOMMU or IOMMU plugin 'nosuch'");
    expect(q('emuhost.iommu.swap bus=pci.0 pt2 x=1')).toMatch(/^FAIL options are for a new/);
    expect(q('emuhost.iommu.swap bus=pci.0 passthrough bogus=1')).toMatch(/^FAIL E_OPTION/);
  });
});
