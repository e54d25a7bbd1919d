/**
 * Test support: the plugin built once per test file (in a private directory, as
 * @emuhost/testing's `loadPluginDir` does), and a bare machine with the IOMMU `mmu0`
 * translating pci.0, DMA contexts for requesters on it, and the guest driver.
 */
import { fileURLToPath } from 'node:url';
import { bareMachine, Emulator, type LoadedPlugin } from '@emuhost/host';
import {
  createDriver,
  type Driver,
  loadPluginDir,
  RiscvIommuGuest,
  type RiscvIommuGuestOptions,
} from '@emuhost/testing';

export const PLUGIN_DIR = fileURLToPath(new URL('../..', import.meta.url));

let built: Promise<LoadedPlugin> | undefined;

export function loadRiscvIommu(): Promise<LoadedPlugin> {
  built ??= loadPluginDir(PLUGIN_DIR, { level: 'trusted' });
  return built;
}

export interface Rig {
  readonly emu: Emulator;
  readonly d: Driver;
  readonly g: RiscvIommuGuest;
  /** Interrupt wire levels as the machine saw them, by name (wsi0..wsi3). */
  readonly wires: Record<string, 0 | 1>;
  alloc(size: number, align?: number): number;
}

/** 64 MiB of RAM, the IOMMU at its virt address translating pci.0; tables from 16 MiB up. */
export async function rig(
  opts: RiscvIommuGuestOptions & { init?: boolean; sv48?: boolean } = {},
): Promise<Rig> {
  const plugin = await loadRiscvIommu();
  const emu = new Emulator({ machine: bareMachine(), ramSize: 64 << 20, log: () => {} });
  const wires: Record<string, 0 | 1> = {};
  emu.addIommu(plugin, {
    id: 'mmu0',
    options: { sv48: opts.sv48 ?? opts.fscMode === 9 },
    irq: (name) => (l) => {
      wires[name] = l;
    },
  });
  emu.machine.dma.bind({ bus: 'pci.0' }, 'mmu0');
  const d = createDriver(emu);
  let next = 16 << 20;
  const alloc = (size: number, align = 4096) => {
    const a = Math.ceil(next / align) * align;
    next = a + size;
    return a;
  };
  const g = new RiscvIommuGuest(d, alloc, opts);
  if (opts.init !== false) g.init();
  return { emu, d, g, wires, alloc };
}

/** A DMA context for requester `rid` on pci.0 (what a PCI function there gets). */
export function requester(r: Rig, rid: number) {
  return r.emu.machine.dma.createContext({
    device: `dev${rid.toString(16)}`,
    bus: 'pci.0',
    requesterId: rid,
  });
}
