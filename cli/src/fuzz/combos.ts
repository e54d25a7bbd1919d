/**
 * The machine × device × IOMMU combinations `emuhost fuzz` runs, the guest-memory layout its
 * operations respect, and the machine file each combination is replayed with.
 *
 * Guest RAM (128 MiB) is split so every write the fuzzer can cause has a known permitted
 * place: BUF is the only memory any IOMMU mapping ever points at (and where descriptors and
 * buffers go), TABLES holds the IOMMU's own structures (edited only in well-formed ways),
 * CANARY is touched by nothing: no operation targets it, no translation maps it.
 */
import type { MachineSpec } from '@emuhost/host';

export const RAM_SIZE = 128 << 20;
export const BUF = 0x100000;
export const BUF_SIZE = 0x40000;
export const TABLES = 0x400000;
export const TABLES_SIZE = 0x10000;
export const CANARY = 0x600000;
export const CANARY_SIZE = 0x4000;
export const CANARY_BYTE = 0xa5;
/** Where the fuzzer places edu's BAR0 (BAR moves pick among these). */
export const BAR_PLACES = [0xe0000000, 0xe0100000, 0xd0000000, 0xfe000000] as const;
export const VTD_BASE = 0xfed90000;
export const TCE_BASE = 0xfed80000;
/** The TCE window: 512 pages of 4 KiB from IOVA 0 (a 4 KiB table at TABLES). */
export const TCE_WINDOW = 0x200000;
/** IOVAs the IOMMUs map to BUF: above RAM, so without a translation they reach nothing. */
export const IOVA_WINDOW = 0x8000000;

export type MachineKind = 'pc' | 'q35';
export type IommuKind = 'none' | 'vtd' | 'tce' | 'passthrough';

export type DeviceKind = 'edu' | 'pc-testdev';

export interface Combo {
  readonly machine: MachineKind;
  readonly device: DeviceKind;
  readonly iommu: IommuKind;
}

/** The id the combination's device gets (what `emuhost.device.reload ID` and friends name). */
export const deviceId = (c: Combo): string => `${c.device}0`;
/** pc-testdev sits on the platform (ISA) bus at fixed places; edu is a PCI device. */
export const isPlatform = (d: DeviceKind): boolean => d === 'pc-testdev';

/** pc-testdev's fixed places (plugins/pc-testdev). */
export const TESTDEV_IOMEM = 0xff000000;
export const TESTDEV_IOMEM_LEN = 0x10000;

export const comboName = (c: Combo): string => `${c.machine}+${c.device}+${c.iommu}`;

export const ALL_COMBOS: readonly Combo[] = (['edu', 'pc-testdev'] as const).flatMap((device) =>
  (['pc', 'q35'] as const).flatMap((machine) =>
    (['none', 'vtd', 'tce', 'passthrough'] as const)
      // vtd needs q35's slot.
      .filter((iommu) => machine === 'q35' || iommu !== 'vtd')
      .map((iommu) => ({ machine, device, iommu })),
  ),
);

export function parseCombo(s: string): Combo {
  const found = ALL_COMBOS.find((c) => comboName(c) === s);
  if (found === undefined)
    throw new Error(`no combination '${s}' (one of: ${ALL_COMBOS.map(comboName).join(', ')})`);
  return found;
}

export const pciBus = (m: MachineKind): string => (m === 'q35' ? 'pcie.0' : 'pci.0');
export const iommuId = (k: IommuKind): string | undefined => (k === 'none' ? undefined : `${k}0`);
export const iommuBase = (k: IommuKind): number | undefined =>
  k === 'vtd' ? VTD_BASE : k === 'tce' ? TCE_BASE : undefined;

/** Options of a fresh instance of IOMMU `k` (also what `iommu.swap` passes for a new one). */
export function iommuOptions(k: IommuKind): Record<string, number> {
  switch (k) {
    case 'vtd':
      return { base: VTD_BASE };
    case 'tce':
      return { base: TCE_BASE, window_base: IOVA_WINDOW, window_size: TCE_WINDOW };
    case 'passthrough':
      return { window_base: BUF, window_size: BUF_SIZE };
    default:
      return {};
  }
}

/** The machine file (JSON) a combination is built from, so a replay builds the same machine. */
export function machineFile(c: Combo): Record<string, unknown> {
  const id = iommuId(c.iommu);
  return {
    description: `emuhost fuzz: ${comboName(c)}`,
    machine: c.machine,
    ram: RAM_SIZE,
    devices: [
      { plugin: c.device, id: deviceId(c), ...(isPlatform(c.device) && { platform: true }) },
    ],
    iommus:
      id === undefined
        ? []
        : [
            {
              plugin: c.iommu,
              id,
              options: iommuOptions(c.iommu),
              bind: [{ bus: pciBus(c.machine) }],
            },
          ],
  };
}

export function machineSpec(c: Combo): MachineSpec {
  const f = machineFile(c);
  return {
    machine: c.machine,
    ram: RAM_SIZE,
    plugins: [],
    devices: f.devices as MachineSpec['devices'],
    iommus: f.iommus as MachineSpec['iommus'],
    base: process.cwd(),
  };
}
