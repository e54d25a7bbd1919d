/**
 * What QEMU's developers live in, for an emulator: `info mtree` (the memory map as a tree
 * with priorities and aliases, and `-f` the flattened result), `info pci` (functions, BARs,
 * command bits, interrupt pins) and `info iommu` (bindings per requester, IOTLB statistics,
 * recent faults). Reached from QMP's human-monitor-command and from the API.
 */
import { formatDevfn, formatMtree } from '@emuhost/core';
import { deviceStatus, type Emulator } from '@emuhost/host';

/** The views, as `info` names them. */
export const INFO_VIEWS = ['mtree', 'mtree -f', 'pci', 'iommu', 'devices'] as const;

export function infoView(emu: Emulator, what: string): string | undefined {
  const m = emu.machine;
  const words = what.trim().split(/\s+/);
  switch (words[0]) {
    case 'mtree': {
      const flat = words.includes('-f');
      return [formatMtree(m.memory, { flat }), '', formatMtree(m.io, { flat })].join('\n');
    }
    case 'pci': {
      const out: string[] = [];
      for (const [name, bus] of m.pciBuses) {
        for (const fn of bus.list()) {
          const c = fn.config;
          out.push(
            `  Bus ${bus.number}, device ${fn.slot}, function ${fn.function} (${name} ${formatDevfn(fn.devfn, bus.number)}, '${fn.id}'):`,
            `    class 0x${(c.get32(8) >>> 8).toString(16).padStart(6, '0')}: PCI device ${hex4(c.get16(0))}:${hex4(c.get16(2))} rev 0x${c.get8(8).toString(16)}`,
            `    command 0x${hex4(c.get16(4))} (io ${c.get16(4) & 1 ? 'on' : 'off'}, mem ${c.get16(4) & 2 ? 'on' : 'off'}, master ${c.get16(4) & 4 ? 'on' : 'off'}), status 0x${hex4(c.get16(6))}`,
            `    interrupt pin ${c.get8(0x3d) === 0 ? 'none' : ('ABCD'[c.get8(0x3d) - 1] ?? '?')} line ${c.get8(0x3c)}, asserted ${fn.intxAsserted ? 'yes' : 'no'}${fn.msi ? `, MSI ${fn.msi.enabled ? 'enabled' : 'disabled'}` : ''}`,
          );
          const dev = emu.devices.get(fn.id);
          const status = dev === undefined ? undefined : deviceStatus(dev);
          if (status?.state === 'quarantined')
            out.push(`    quarantined: ${status.reason ?? 'a callback faulted'}`);
          for (const bar of new Set(fn.bars)) {
            if (bar === undefined) continue;
            const where =
              bar.mappedAt < 0
                ? 'unmapped'
                : `at 0x${bar.mappedAt.toString(16)} [0x${(bar.mappedAt + bar.spec.size - 1).toString(16)}]`;
            out.push(
              `    BAR${bar.index}: ${bar.spec.kind === 'io' ? 'I/O' : `${bar.is64 ? '64' : '32'} bit${bar.spec.prefetchable ? ' prefetchable' : ''} memory`} ${where}, ${bar.spec.size} bytes`,
            );
          }
        }
      }
      return out.join('\n');
    }
    case 'iommu': {
      const out: string[] = [];
      for (const c of m.dma.info()) {
        const t = c.iotlb;
        out.push(
          `  ${c.device} (${c.bus} requester ${formatDevfn(c.requesterId & 0xff, c.requesterId >> 8)}): ${c.iommu ?? (c.bypass ? `IOMMU bypassed at the device's request (${c.boundIommu ?? 'none bound'}; no ACCESS_PLATFORM)` : 'no IOMMU (identity)')}${c.blocked ? `, DMA refused: ${c.blocked}` : ''}`,
          `    IOTLB ${t.entries}/${t.capacity} entries, ${t.hits} hits, ${t.misses} misses, ${t.invalidations} invalidations, ${t.evictions} evictions; ${c.liveMappings} live mappings`,
        );
      }
      for (const id of emu.iommus.keys()) {
        const inst = m.dma.iommu(id);
        out.push(
          `  IOMMU ${id}: ${inst.translations} translations, ${inst.faults} fault${inst.faults === 1 ? '' : 's'}`,
        );
        // The model's own view (its contexts, its fault queue), when it gives one.
        for (const line of emu.iommus.get(id)?.model.info?.() ?? []) out.push(`    ${line}`);
        for (const f of inst.recentFaults.slice(-8)) {
          out.push(
            `    fault: ${f.device} ${f.access} 0x${f.iova.toString(16)}: ${f.reason}${f.detail ? ` (${f.detail})` : ''}`,
          );
        }
      }
      return out.length === 0 ? '  no DMA requesters' : out.join('\n');
    }
    case 'devices': {
      // emuhost's own view (QEMU has none like it): every plugin instance and whether it runs.
      const out: string[] = [];
      const all = [...emu.devices.values(), ...emu.iommus.values()];
      for (const d of all) {
        const s = deviceStatus(d);
        out.push(
          `  ${d.id}: ${d.plugin.manifest.id} ${d.plugin.manifest.version} (${d.plugin.manifest.kind}, ${d.plugin.level}), ${s.state}${s.reason === undefined ? '' : `: ${s.reason}`}`,
        );
      }
      return out.length === 0 ? '  no devices' : out.join('\n');
    }
    default:
      return undefined;
  }
}

const hex4 = (n: number) => n.toString(16).padStart(4, '0');
