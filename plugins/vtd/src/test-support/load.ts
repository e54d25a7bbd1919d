/**
 * Test support: loading the plugin and the DMA fixture, and the machine every device test
 * starts from.
 *
 * The plugin is built into a fresh temporary directory per test file (several test files
 * run in parallel, and writing the same `dist/` from each would race) and loaded at the
 * trusted level, the level bundled plugins get, unless a test asks for another.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bareMachine, buildPlugin, Emulator, type LoadedPlugin, PluginHost } from '@emuhost/host';
import type { OptionValue } from '@emuhost/sdk';
import { createDriver, type Driver, loadPluginDir } from '@emuhost/testing';
import { type DmaDevice, dmaCopyDevices } from './dma-device.js';
import { type GuestOptions, VtdGuest } from './guest.js';

export const PLUGIN_DIR = fileURLToPath(new URL('../..', import.meta.url));
export const FIXTURE_DIR = fileURLToPath(
  new URL('../../../../host/src/__fixtures__/dma-copy', import.meta.url),
);

type Level = 'trusted' | 'confined';
const built = new Map<Level, Promise<LoadedPlugin>>();

/** Builds (once per file and level) and loads the vtd plugin. */
export function loadVtd(level: Level = 'trusted'): Promise<LoadedPlugin> {
  let p = built.get(level);
  if (p === undefined) {
    p = (async () => {
      const out = mkdtempSync(join(tmpdir(), 'emuhost-vtd-'));
      try {
        const b = await buildPlugin(PLUGIN_DIR, { outDir: out });
        return new PluginHost().loadFile(b.manifestPath, { level });
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    })();
    built.set(level, p);
  }
  return p;
}

let fixture: Promise<LoadedPlugin> | undefined;

/** The DMA test device (PCI, copies memory through its DMA context). */
export function loadFixture(): Promise<LoadedPlugin> {
  fixture ??= loadPluginDir(FIXTURE_DIR);
  return fixture;
}

export interface TestMachine {
  readonly emu: Emulator;
  readonly d: Driver;
  readonly g: VtdGuest;
  readonly devices: DmaDevice[];
  /** Guest RAM for tables, from 16 MiB up. */
  alloc(size: number, align?: number): number;
}

export interface MachineOptions extends GuestOptions {
  readonly options?: Readonly<Record<string, OptionValue>>;
  /** How many DMA devices (slots 1, 2, ...). Default 1. */
  readonly devices?: number;
  readonly level?: Level;
  /** Program root table, queue (if queued) and TE. Default true. */
  readonly init?: boolean;
}

/**
 * A bare machine with 64 MiB of RAM, the IOMMU `vtd0` translating bus pci.0, DMA devices
 * on it, and a guest driver (tables from 16 MiB up; data buffers stay below).
 */
export async function testMachine(o: MachineOptions = {}): Promise<TestMachine> {
  const plugin = await loadVtd(o.level);
  const emu = new Emulator({ machine: bareMachine(), ramSize: 64 << 20, log: () => {} });
  emu.addIommu(plugin, { id: 'vtd0', ...(o.options !== undefined && { options: o.options }) });
  const n = o.devices ?? 1;
  // The fixture is built only when a test needs a device (one test file does).
  if (n > 0) {
    const dev = await loadFixture();
    for (let i = 0; i < n; i++) emu.addDevice(dev);
  }
  emu.machine.dma.bind({ bus: 'pci.0' }, 'vtd0');
  const d = createDriver(emu);
  let next = 16 << 20;
  const alloc = (size: number, align = 4096) => {
    const a = Math.ceil(next / align) * align;
    next = a + size;
    return a;
  };
  const g = new VtdGuest(d, alloc, o);
  if (o.init !== false) g.init();
  return { emu, d, g, devices: dmaCopyDevices(d), alloc };
}
