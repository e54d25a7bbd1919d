/**
 * `emuhost info <machine-file> [mtree|mtree -f|pci|iommu|devices]`: QEMU's `info` views of a
 * machine file's machine as built, without running a guest: the check that a machine file
 * says what its author meant (where each BAR would go, which IOMMU translates whom), and
 * emuhost's `devices` (each plugin instance, its level, and whether it runs).
 */
import { buildMachineSpec, PluginHost, readMachineFile } from '@emuhost/host';
import { EmuhostError } from '@emuhost/sdk';
import { INFO_VIEWS, infoView } from '../qtest/info.js';

export async function infoCommand(file: string, view: readonly string[]): Promise<void> {
  const what = view.length === 0 ? INFO_VIEWS : [view.join(' ')];
  const emu = await buildMachineSpec(readMachineFile(file, { known: [] }), new PluginHost(), {
    log: () => {},
  });
  const out: string[] = [];
  for (const w of what) {
    const text = infoView(emu, w);
    if (text === undefined)
      throw new EmuhostError('E_BAD_ARGUMENT', `no view '${w}' (views: ${INFO_VIEWS.join(', ')})`);
    out.push(`# info ${w}`, text, '');
  }
  process.stdout.write(out.join('\n'));
}
