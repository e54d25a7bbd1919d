/**
 * The IOMMU a machine has built in (`MachineModel.iommu.builtin`: QEMU's
 * `-machine virt,iommu-sys=on`): the host adds it from the plugin the machine names (one this
 * host already loaded, else the bundled one) before any device, at the slot's base, bound to
 * the slot's bus. Its platform IRQs go where the machine's `platformIrq` wires them.
 */
import { loadBundled } from './bundled.js';
import type { Emulator } from './emulator.js';
import type { RunningIommu } from './iommu-host.js';
import type { PluginHost } from './plugin-host.js';

/** Adds the machine's own IOMMU if it has one and it is not there yet; returns it. */
export async function addBuiltinIommu(
  emu: Emulator,
  host: PluginHost,
): Promise<RunningIommu | undefined> {
  const slot = emu.model.iommu;
  const b = slot?.builtin;
  if (slot === undefined || b === undefined) return undefined;
  const have = emu.iommus.get(b.id);
  if (have !== undefined) return have;
  const plugin = host.get(b.plugin) ?? (await loadBundled(host, b.plugin));
  const r = emu.addIommu(plugin, {
    id: b.id,
    ...(plugin.definition.options?.base !== undefined && { options: { base: slot.base } }),
  });
  emu.machine.dma.bind({ bus: slot.bus }, r.id);
  return r;
}
