/**
 * Test support: loading the plugin and the DMA device (the bundled edu, plugins/edu), and the
 * machine every device test starts from.
 *
 * Both plugins are built by @emuhost/testing's `loadPluginDir`, once per test file, each
 * build in a private directory (test files run in parallel). vtd is loaded at the trusted level, the level bundled plugins get, unless a test asks for
 * another; edu always at the trusted level.
 */
import { fileURLToPath } from 'node:url';
import { bareMachine, Emulator, type LoadedPlugin } from '@emuhost/host';
import type { OptionValue } from '@emuhost/sdk';
import { createDriver, type Driver, loadPluginDir } from '@emuhost/testing';
import { type DmaDevice, EDU_OPTIONS, eduDevices } from './dma-device.js';
import { type GuestOptions, VtdGuest } from './guest.js';

export const PLUGIN_DIR = fileURLToPath(new URL('../..', import.meta.url));
export const EDU_DIR = fileURLToPath(new URL('../../../edu', import.meta.url));

type Level = 'trusted' | 'confined';
const built = new Map<Level, Promise<LoadedPlugin>>();

/** Builds `dir` (into a private temporary directory) and loads it. */
const buildAndLoad = (dir: string, level: Level): Promise<LoadedPlugin> =>
  loadPluginDir(dir, { level });

/** Builds (once per file and level) and loads the vtd plugin. */
export function loadVtd(level: Level = 'trusted'): Promise<LoadedPlugin> {
  let p = built.get(level);
  if (p === undefined) {
    p = buildAndLoad(PLUGIN_DIR, level);
    built.set(level, p);
  }
  return p;
}

let edu: Promise<LoadedPlugin> | undefined;

/** QEMU's edu (PCI; DMA between RAM and its 4 KiB buffer through its DMA context). */
export function loadEdu(): Promise<LoadedPlugin> {
  edu ??= buildAndLoad(EDU_DIR, 'trusted');
  return edu;
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
  /** How many DMA devices (edu, at slots 1, 2, ...). Default 1. */
  readonly devices?: number;
  readonly level?: Level;
  /** Program root table, queue (if queued) and TE. Default true. */
  readonly init?: boolean;
}

/**
 * A bare machine with 64 MiB of RAM, the IOMMU `vtd0` translating bus pci.0, edu devices on
 * it, and a guest driver (tables from 16 MiB up; data buffers stay below).
 */
export async function testMachine(o: MachineOptions = {}): Promise<TestMachine> {
  const plugin = await loadVtd(o.level);
  const emu = new Emulator({ machine: bareMachine(), ramSize: 64 << 20, log: () => {} });
  emu.addIommu(plugin, { id: 'vtd0', ...(o.options !== undefined && { options: o.options }) });
  const n = o.devices ?? 1;
  // edu is built only when a test needs a device (one test file does).
  if (n > 0) {
    const dev = await loadEdu();
    for (let i = 0; i < n; i++) emu.addDevice(dev, { options: EDU_OPTIONS });
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
  return { emu, d, g, devices: eduDevices(d), alloc };
}
