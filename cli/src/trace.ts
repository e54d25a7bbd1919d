/**
 * `--trace`: the kernel's DMA and IOMMU hooks as one line per event, in the spirit of QEMU's
 * trace events (`name key=value ...`), so a device author sees every transfer a device made,
 * where its IOVA went, and why the IOMMU said no.
 *
 * Tapping `dma.transfer` switches per-transfer events on for every context; until then the
 * DMA path pays one field read (see core's hooks).
 */
import type { Machine } from '@emuhost/core';

const hex = (n: number): string => `0x${n.toString(16)}`;
const rid = (n: number): string => `0x${n.toString(16).padStart(4, '0')}`;

/** Taps `machine`'s hooks and writes one line per event, for the machine's lifetime. */
export function traceMachine(machine: Machine, write: (line: string) => void): void {
  const name = 'emuhost:trace';
  const h = machine.hooks;
  h.dma.transfer.tap(name, (e) =>
    write(
      `dma_${e.access} device=${e.device} rid=${rid(e.requesterId)} iova=${hex(e.iova)}` +
        `${e.iommu === null ? '' : ` gpa=${hex(e.translated)} iommu=${e.iommu}`} len=${hex(e.len)} result=${e.result}`,
    ),
  );
  h.iommu.fault.tap(name, (e) =>
    write(
      `iommu_fault iommu=${e.iommu} device=${e.device} rid=${rid(e.requesterId)} iova=${hex(e.iova)} access=${e.access} reason=${e.reason}${e.detail === undefined ? '' : ` detail="${e.detail}"`}`,
    ),
  );
  h.iommu.invalidate.tap(name, (e) =>
    write(
      `iommu_invalidate iommu=${e.iommu} scope=${JSON.stringify(e.scope)} entries=${e.entries} mappings=${e.mappings}`,
    ),
  );
  h.iommu.rebind.tap(name, (e) =>
    write(
      `iommu_rebind device=${e.device} rid=${rid(e.requesterId)} from=${e.from ?? 'none'} to=${e.to ?? 'none'} revoked_mappings=${e.revokedMappings}`,
    ),
  );
  h.guard.deviceFault.tap(name, (e) =>
    write(
      `device_fault device=${e.device}${e.plugin === undefined ? '' : ` plugin=${e.plugin}`} site=${e.site} error="${e.stack.split('\n')[0]}"`,
    ),
  );
}
