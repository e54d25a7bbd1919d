/**
 * The swap suite: replacing the IOMMU under a running device (host/src/iommu-swap.ts).
 *
 * One device on `pci.0` holds N = 64 live 8-byte DMA mappings, one per 4 KiB page; two
 * machine-added page-map IOMMU instances (`a` and `b`, the same cheap translation: one Map
 * lookup per page, identity) take turns being bound to the bus. Each swap is the whole
 * protocol through the public API: the quiescence check, the IOTLB flush, 64 re-translations
 * (every mapping survives, so each swap does the same work) and the rebind.
 *
 * Baseline, timed in the same run: the same 64 pages translated on the DMA path, i.e. the
 * device's IOTLB flushed and one 4-byte read per page, each an IOTLB miss. The ratio says
 * what a swap costs beyond re-translating what was live.
 *
 * `iommu.reload.us`: `reloadIommu` of the bound instance between two code versions whose
 * state formats differ (saveState, migrateState, create, detach/attach, 64 re-translations).
 */
import { bareMachine, Emulator, inProcessPlugin, type LoadedPlugin } from '@emuhost/host';
import {
  type DeviceContext,
  type DmaMapping,
  definePlugin,
  type GuestPhysAddr,
  type IommuEntry,
  type IommuFault,
  iova,
} from '@emuhost/sdk';
import { costRatio, type Metric } from '../metrics.js';
import type { Suite } from '../suite.js';

const N = 64;
const PAGE = 4096;
const IOVA_BASE = 0x100000;
const SWAP_TARGET_US = 1000;
const INNER = 20;

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`swap suite: ${what}; timing it would time an error path`);
}

function pageMap(version: 1 | 2): LoadedPlugin {
  return inProcessPlugin(
    {
      id: 'bench-pagemap',
      version: `${version}.0.0`,
      kind: 'iommu',
      sdk: '^1.0.0',
      entry: '<in-process>',
      capabilities: [],
    },
    definePlugin({
      kind: 'iommu',
      stateVersion: version,
      migrateState: (_from, data) => ({ pages: (data as { pages: number[][] }).pages }),
      create(_ctx, state) {
        const pages = new Map<number, number>(
          state === undefined
            ? Array.from({ length: N }, (_, k) => [k, IOVA_BASE + k * PAGE])
            : ((state as { pages: [number, number][] }).pages ?? []),
        );
        return {
          translate(a): IommuEntry | IommuFault {
            const k = Math.floor((a - IOVA_BASE) / PAGE);
            const g = pages.get(k);
            if (g === undefined) return { kind: 'fault', reason: 'not-present' };
            const e: IommuEntry = {
              kind: 'entry',
              iova: iova(IOVA_BASE + k * PAGE),
              translated: g as GuestPhysAddr,
              pageSize: PAGE,
              perm: 'read-write',
            };
            return e;
          },
          saveState: () => ({ pages: [...pages] }),
        };
      },
    }),
  );
}

export const swapSuite: Suite = {
  name: 'swap',
  run(ctx) {
    const emu = new Emulator({ machine: bareMachine(), ramSize: 16 << 20, log: () => {} });
    let dev: DeviceContext | undefined;
    const device = inProcessPlugin(
      {
        id: 'bench-holder',
        version: '1.0.0',
        kind: 'device',
        sdk: '^1.0.0',
        entry: '<in-process>',
        capabilities: ['pci', 'dma'],
      },
      definePlugin({
        kind: 'device',
        pci: { vendorId: 0x1234, deviceId: 0x5158, classCode: 0xff0000 },
        create(c) {
          dev = c;
          return {};
        },
      }),
    );
    const running = emu.addDevice(device, { id: 'holder0' });
    const fn = running.slot.pci!;
    fn.configWrite(4, 2, 0x4); // COMMAND.MASTER
    const v1 = pageMap(1);
    const v2 = pageMap(2);
    emu.addIommu(v1, { id: 'a' });
    emu.addIommu(v1, { id: 'b' });
    const bus = { bus: 'pci.0' } as const;
    emu.swapIommu(bus, 'a');
    const maps: DmaMapping[] = [];
    for (let k = 0; k < N; k++) {
      const m = dev!.dma.map(iova(IOVA_BASE + k * PAGE + 8 * k), 8, 'write');
      check(!('result' in m), `mapping ${k} failed`);
      maps.push(m as DmaMapping);
    }
    let flip = false;
    const first = emu.swapIommu(bus, 'b');
    check(first.retranslated === N && first.revoked === 0, 'a swap does not re-translate N');
    const kernelDma = fn.dma;
    let reloadNext = v2;
    const m = ctx.measure([
      {
        name: `swapIommu, N=${N} live mappings`,
        inner: INNER,
        run: (n) => {
          let s = 0;
          for (let i = 0; i < n; i++) {
            flip = !flip;
            s += emu.swapIommu(bus, flip ? 'a' : 'b').retranslated;
          }
          return s;
        },
      },
      {
        name: `baseline: ${N} IOTLB misses`,
        inner: INNER,
        run: (n) => {
          let s = 0;
          for (let i = 0; i < n; i++) {
            kernelDma.flushIotlb();
            for (let k = 0; k < N; k++)
              s += kernelDma.readU32LE(iova(IOVA_BASE + k * PAGE + 8 * k)) as number;
          }
          return s;
        },
      },
      {
        name: `reloadIommu, N=${N} live mappings`,
        inner: INNER,
        run: (n) => {
          let s = 0;
          for (let i = 0; i < n; i++) {
            const id = flip ? 'a' : 'b';
            s += emu.reloadIommu(id, reloadNext).retranslated;
            reloadNext = reloadNext === v1 ? v2 : v1;
          }
          return s;
        },
      },
    ]);
    check(
      maps.every((x) => x.valid),
      'a live mapping was revoked by a swap between equal translations',
    );
    const SWAP = `swapIommu, N=${N} live mappings`;
    const MISS = `baseline: ${N} IOTLB misses`;
    const swapNs = m.ns(SWAP);
    const reloadNs = m.ns(`reloadIommu, N=${N} live mappings`);
    const metrics: Metric[] = [
      {
        name: 'iommu.swap.us',
        value: swapNs / 1000,
        unit: 'us',
        better: 'lower',
        target: SWAP_TARGET_US,
        detail: `swapIommu of pci.0 between two bound page-map IOMMUs, one device holding N=${N} live 8-byte mappings (one per 4 KiB page, all surviving): quiesce check, IOTLB flush, ${N} re-translations, rebind`,
      },
      {
        name: 'iommu.swap.ratio',
        value: m.paired(costRatio, SWAP, MISS),
        unit: 'ratio',
        better: 'lower',
        detail: `the swap vs the same ${N} pages translated on the DMA path (IOTLB flushed, ${N} 4-byte reads, each a miss), same run`,
      },
      {
        name: 'iommu.reload.us',
        value: reloadNs / 1000,
        unit: 'us',
        better: 'lower',
        detail: `reloadIommu of the bound instance between two code versions (state saved, migrated, restored), N=${N} live mappings re-translated`,
      },
    ];
    return metrics;
  },
};
