/**
 * Step 6: what the monitor's `info iommu` shows after all that — per requester, what
 * translates it and how its IOTLB did (the kernel caches translations and asks VT-d only on a
 * miss); per IOMMU, translations and recent faults. Only edu's rows and the IOMMU's are shown
 * (the chipset's functions are on the same bus, but nothing enabled their bus mastering).
 */
import { infoView } from '../qtest/info.js';
import type { DemoContext, DemoStep } from './context.js';

/** `info iommu` as blocks: a line at indent 2 and the deeper lines under it. */
function blocks(text: string): string[][] {
  const out: string[][] = [];
  for (const line of text.split('\n')) {
    if (/^ {2}\S/.test(line) || out.length === 0) out.push([line]);
    else out[out.length - 1]!.push(line);
  }
  return out;
}

export const iommuStats: DemoStep = {
  title: 'info iommu',
  run(demo: DemoContext, out) {
    const { edu, iommu } = demo.target;
    const inst = demo.emu.machine.dma.iommu(iommu);
    out.require(`${iommu} translations`, inst.translations > 0, 'some', '0');
    out.expect(`${iommu} faults`, inst.faults, demo.faults.length);
    const all = blocks(infoView(demo.emu, 'iommu') ?? '');
    const shown = all.filter(
      ([head]) => head!.startsWith(`  ${edu} (`) || head!.startsWith(`  IOMMU ${iommu}:`),
    );
    const others = all.length - shown.length;
    out.ok(
      `${iommu}: ${inst.translations} translations, ${inst.faults} fault${inst.faults === 1 ? '' : 's'} (${others} other rows not shown)`,
    );
    for (const line of (shown.length > 0 ? shown : all).flat()) out.note(line.trimEnd());
  },
};
