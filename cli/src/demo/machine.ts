/**
 * The demo's machine: q35 with an edu device and a VT-d IOMMU in q35's IOMMU slot (registers
 * at 0xfed90000, translating pcie.0) — what `emuhost qtest -machine q35 -device intel-iommu
 * -device edu` builds. It is a machine spec like any machine file's (cli/machines/demo.json
 * says the same in JSON), and `demoTarget` checks that a machine, from whatever file, has
 * what the demo drives, saying what is missing before any step runs.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { type Emulator, type MachineSpec, parseNumber } from '@emuhost/host';
import { EmuhostError } from '@emuhost/sdk';

/** cli/machines/, where the demo's machine file lives. */
export const MACHINES_DIR = join(
  dirname(createRequire(import.meta.url).resolve('@emuhost/cli/package.json')),
  'machines',
);

/** What `emuhost run` and `npm start` run when given no machine file. */
export const DEMO_MACHINE_FILE = join(MACHINES_DIR, 'demo.json');

/** The demo machine, built in code; equal to what cli/machines/demo.json reads as. */
export function demoMachineSpec(): MachineSpec {
  return {
    machine: 'q35',
    ram: 128 << 20,
    plugins: [],
    devices: [{ plugin: 'edu', id: 'edu0' }],
    iommus: [{ plugin: 'vtd', id: 'vtd0', bind: [{ bus: 'pcie.0' }] }],
    base: MACHINES_DIR,
  };
}

/** What the demo drives in a built machine. */
export interface DemoTarget {
  /** The edu device's id (`edu0`) and PCI requester id (bus << 8 | devfn). */
  readonly edu: string;
  readonly eduRequesterId: number;
  /** The VT-d IOMMU translating it, and its register block. */
  readonly iommu: string;
  readonly iommuBase: number;
}

/**
 * Finds the edu device and the VT-d IOMMU that translates it. Throws E_MACHINE_FILE saying
 * what is missing and how to add it, so a machine file without them is a clear refusal.
 */
export function demoTarget(emu: Emulator, spec: MachineSpec, source: string): DemoTarget {
  const refuse = (why: string): never => {
    throw new EmuhostError('E_MACHINE_FILE', `${source}: ${why}`);
  };
  const edu = [...emu.devices.values()].find((d) => d.plugin.manifest.id === 'edu');
  if (edu === undefined)
    refuse(
      'the demo drives an edu device, and this machine has none (add "devices": [{ "plugin": "edu" }])',
    );
  const running = [...emu.iommus.values()];
  if (running.length === 0)
    refuse(
      'the demo does DMA through an IOMMU, and this machine has none (add "iommus": [{ "plugin": "vtd" }]; on q35 it takes the IOMMU slot)',
    );
  const ctx = emu.machine.dma.info().find((c) => c.device === edu!.id);
  const iommu = ctx?.iommu ?? null;
  if (iommu === null)
    refuse(
      `no IOMMU translates ${edu!.id}'s DMA (IOMMUs: ${running.map((r) => r.id).join(', ')}; bind one to ${ctx?.bus ?? 'its bus'})`,
    );
  const vtd = running.find((r) => r.id === iommu);
  if (vtd?.plugin.manifest.id !== 'vtd')
    refuse(
      `the demo programs VT-d page tables, and ${edu!.id} is translated by '${iommu}' (plugin ${vtd?.plugin.manifest.id ?? 'unknown'})`,
    );
  // Where its registers are: what the machine file says, else the machine's IOMMU slot (a
  // guest would read the DMAR ACPI table; the slot is what fills it in), else VT-d's default.
  const index = running.indexOf(vtd!);
  const given =
    spec.iommus[index]?.options?.base ??
    emu.model.iommu?.base ??
    vtd!.plugin.definition.options?.base?.default;
  const base = typeof given === 'string' ? parseNumber(given) : given;
  if (typeof base !== 'number')
    refuse(`cannot tell where ${iommu}'s registers are: give "options": { "base": "0x…" }`);
  return {
    edu: edu!.id,
    eduRequesterId: ctx!.requesterId,
    iommu: iommu!,
    iommuBase: base as number,
  };
}
