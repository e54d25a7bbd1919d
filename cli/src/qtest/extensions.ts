/**
 * emuhost's own qtest commands, on the same channel as QEMU's and always prefixed `emuhost.`
 * so no QEMU command can ever collide with one. Each answers one line: `OK ...` or
 * `FAIL <reason>`; a multi-line answer (an `info` view) is one JSON string after `OK`.
 *
 *   emuhost.version                  OK emuhost <version> sdk <sdk version>
 *   emuhost.devices                  OK [{"id","plugin","version","quarantined"}...] (JSON)
 *   emuhost.info mtree|pci|iommu     OK "<the view's text>" (a JSON string)
 *   emuhost.iommu.bind BUS ID|none   binds BUS's requesters to IOMMU ID (or to none): live
 *                                    mappings the new translation refuses are revoked
 *   emuhost.device.restart ID        a fresh instance of device ID (e.g. after quarantine)
 */
import type { Emulator } from '@emuhost/host';
import { SDK_VERSION } from '@emuhost/sdk';
import { VERSION } from '../version.js';
import { infoView } from './info.js';
import type { Extension } from './session.js';

export function emuhostExtensions(emu: Emulator): ReadonlyMap<string, Extension> {
  const m = emu.machine;
  return new Map<string, Extension>([
    ['version', () => `OK emuhost ${VERSION} sdk ${SDK_VERSION}`],
    [
      'devices',
      () =>
        `OK ${JSON.stringify(
          [...emu.devices.values()].map((d) => ({
            id: d.id,
            plugin: d.plugin.manifest.id,
            version: d.plugin.manifest.version,
            quarantined: d.slot.scope.guard.quarantined,
          })),
        )}`,
    ],
    [
      'info',
      (args) => {
        const view = infoView(emu, args.join(' '));
        return view === undefined
          ? `FAIL no view '${args.join(' ')}' (mtree, mtree -f, pci, iommu)`
          : `OK ${JSON.stringify(view)}`;
      },
    ],
    [
      'iommu.bind',
      ([bus, id]) => {
        if (bus === undefined || id === undefined)
          return 'FAIL usage: emuhost.iommu.bind BUS ID|none';
        if (!m.pciBuses.has(bus)) return `FAIL no PCI bus '${bus}'`;
        if (id !== 'none' && !emu.iommus.has(id)) return `FAIL no IOMMU '${id}'`;
        m.dma.bind({ bus }, id === 'none' ? null : id);
        return 'OK';
      },
    ],
    [
      'device.restart',
      ([id]) => {
        const d = id === undefined ? undefined : emu.devices.get(id);
        if (d === undefined) return `FAIL no device '${id ?? ''}'`;
        const warnings = d.restart();
        return warnings.length === 0 ? 'OK' : `OK ${JSON.stringify(warnings)}`;
      },
    ],
  ]);
}
