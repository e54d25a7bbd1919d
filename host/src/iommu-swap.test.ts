import {
  type DeviceContext,
  type DmaMapping,
  definePlugin,
  EmuhostError,
  type GuestPhysAddr,
  type IommuEntry,
  type IommuFault,
  iova,
  type PluginDefinition,
} from '@emuhost/sdk';
import { describe, expect, it } from 'vitest';
import { bareMachine } from './bare-machine.js';
import { loadBundled } from './bundled.js';
import { Emulator } from './emulator.js';
import { inProcessPlugin } from './in-process.js';
import { PluginHost } from './plugin-host.js';
import { reloadDevice } from './reload.js';

// ---- the layout every model and the shadow agree on --------------------------------------

const PAGE = 4096;
const IOVA_BASE = 0x100000;
const NPAGES = 16;
/** Pages the device also keeps a live `map` of (written through its bytes). */
const MAPPED = [0, 1, 2, 3];
const streamAt = (p: number) => IOVA_BASE + p * PAGE + 0x10 * p;
const mapAt = (p: number) => IOVA_BASE + p * PAGE + 0x800;
/** Guest memory the translations can reach: identity, the page maps, remapped pages. */
const REGIONS: [number, number][] = [
  [0x100000, 0x10000],
  [0x400000, 0x40000],
  [0x600000, 0x40000],
];

/** A translation as the shadow knows it: page index → guest-physical page, or absent. */
type Layout = (page: number) => number | null;

const identity: Layout = (p) => IOVA_BASE + p * PAGE;
const windowLayout =
  (base: number, size: number): Layout =>
  (p) => {
    const a = IOVA_BASE + p * PAGE;
    return a >= base && a + PAGE <= base + size ? a : null;
  };
function seededPages(seed: number): Map<number, number> {
  const m = new Map<number, number>();
  for (let p = 0; p < NPAGES; p++)
    if ((p * 3 + seed) % 7 !== 0) m.set(p, 0x400000 + ((p * 5 + seed * 11) % 64) * PAGE);
  return m;
}

// ---- test plugins --------------------------------------------------------------------------

const manifest = (id: string, kind: 'device' | 'iommu', capabilities: string[]) => ({
  id,
  version: '1.0.0',
  kind,
  sdk: '^1.0.0',
  entry: '<in-process>',
  capabilities,
});

/** An identity IOMMU with a window (the bundled passthrough's semantics, in-process). */
const windowPlugin = inProcessPlugin(
  manifest('window', 'iommu', []),
  definePlugin({
    kind: 'iommu',
    options: {
      window_base: { type: 'number', default: 0, description: 'first IOVA' },
      window_size: { type: 'number', default: 2 ** 40, description: 'bytes' },
    },
    create(ctx) {
      const base = ctx.options.window_base as number;
      const end = base + (ctx.options.window_size as number);
      return {
        translate(a): IommuEntry | IommuFault {
          const start = a - (a % PAGE);
          if (start < base || start + PAGE > end) return { kind: 'fault', reason: 'out-of-range' };
          const t = start as GuestPhysAddr;
          return {
            kind: 'entry',
            iova: iova(start),
            translated: t,
            pageSize: PAGE,
            perm: 'read-write',
          };
        },
      };
    },
  }),
);

/** What the test can do to a page-map instance (the current one behind an id). */
interface PageMapHandle {
  remap(page: number, gpa: number | null): void;
}
const pageMaps = new Map<string, PageMapHandle>();

/**
 * A remapping IOMMU (VT-d-ish: pages anywhere, some absent) from a seed, with run-time remaps
 * that invalidate. Two code versions with different state formats, each migrating the other's.
 */
function pageMapDefinition(version: 1 | 2, opts: { throwOnCreate?: boolean } = {}) {
  type V1 = { seed: number; pages: [number, number][] };
  type V2 = { v: 2; map: Record<string, number> };
  const toV2 = (s: V1): V2 => ({ v: 2, map: Object.fromEntries(s.pages.map(([p, g]) => [p, g])) });
  const toV1 = (s: V2): V1 => ({
    seed: -1,
    pages: Object.entries(s.map).map(([p, g]) => [Number(p), g]),
  });
  return definePlugin({
    kind: 'iommu',
    options: { seed: { type: 'number', default: 0, description: 'initial layout' } },
    stateVersion: version,
    migrateState(from, data) {
      if (version === 2 && from === 1) return toV2(data as V1);
      if (version === 1 && from === 2) return toV1(data as V2);
      return undefined;
    },
    create(ctx, state) {
      if (opts.throwOnCreate) throw new Error('broken build');
      let pages: Map<number, number>;
      if (state === undefined) pages = seededPages(ctx.options.seed as number);
      else if (version === 1) pages = new Map((state as V1).pages);
      else pages = new Map(Object.entries((state as V2).map).map(([p, g]) => [Number(p), g]));
      pageMaps.set(ctx.id, {
        remap(page, gpa) {
          if (gpa === null) pages.delete(page);
          else pages.set(page, gpa);
          ctx.host.invalidate({ iova: iova(IOVA_BASE + page * PAGE), len: PAGE });
        },
      });
      return {
        translate(a): IommuEntry | IommuFault {
          const p = Math.floor((a - IOVA_BASE) / PAGE);
          const g = a >= IOVA_BASE ? pages.get(p) : undefined;
          if (g === undefined) return { kind: 'fault', reason: 'not-present' };
          const t = g as GuestPhysAddr;
          const start = iova(IOVA_BASE + p * PAGE);
          return { kind: 'entry', iova: start, translated: t, pageSize: PAGE, perm: 'read-write' };
        },
        saveState(): V1 | V2 {
          const v1: V1 = { seed: -1, pages: [...pages] };
          return version === 1 ? v1 : toV2(v1);
        },
      };
    },
  });
}
const pageMapV1 = inProcessPlugin(manifest('pagemap', 'iommu', []), pageMapDefinition(1));
const pageMapV2 = inProcessPlugin(
  { ...manifest('pagemap', 'iommu', []), version: '2.0.0' },
  pageMapDefinition(2),
);
const pageMapBroken = inProcessPlugin(
  { ...manifest('pagemap', 'iommu', []), version: '3.0.0' },
  pageMapDefinition(2, { throwOnCreate: true }),
);

/** One DMA the device issued, as it saw it. */
interface Issue {
  readonly via: 'write' | 'map' | 'revoked';
  readonly iova: number;
  readonly seq: number;
  readonly ok: boolean;
  readonly result?: string;
}

/**
 * The streaming device: every µs it DMA-writes `[seq u32, tag u32]` to each streamed page
 * and through its live mappings, logging what it issued. A mapping found invalid is
 * released (the device sees its fault result) and mapped again under the new translation.
 * A new instance (hot reload) adopts the live mappings the previous one left.
 */
function streamer() {
  const ctl = {
    ctx: undefined as DeviceContext | undefined,
    log: [] as Issue[],
    maps: new Map<number, DmaMapping>(),
    seq: 1,
    onTick: undefined as (() => void) | undefined,
  };
  const def: PluginDefinition = definePlugin({
    kind: 'device',
    pci: { vendorId: 0x1234, deviceId: 0x5157, classCode: 0xff0000 },
    create(ctx) {
      ctl.ctx = ctx;
      ctl.maps.clear();
      for (const m of ctx.dma.adoptMappings?.() ?? []) {
        const p = MAPPED.find((q) => mapAt(q) === m.addr);
        if (p !== undefined) ctl.maps.set(p, m);
      }
      const buf = new Uint8Array(8);
      const view = new DataView(buf.buffer);
      const timer = ctx.clock.timer('tick', () => {
        timer.armIn(1000);
        ctl.onTick?.();
        for (let p = 0; p < NPAGES; p++) {
          const seq = ctl.seq++;
          view.setUint32(0, seq, true);
          view.setUint32(4, 0xa5000000 | p, true);
          const r = ctx.dma.write(iova(streamAt(p)), buf);
          ctl.log.push({ via: 'write', iova: streamAt(p), seq, ok: r === 'ok' });
        }
        for (const p of MAPPED) {
          let m = ctl.maps.get(p);
          if (m !== undefined && !m.valid) {
            const r = m.release(0);
            ctl.log.push({
              via: 'revoked',
              iova: mapAt(p),
              seq: 0,
              ok: r === 'ok',
              result: typeof r === 'string' ? r : r.result,
            });
            ctl.maps.delete(p);
            m = undefined;
          }
          if (m === undefined) {
            const got = ctx.dma.map(iova(mapAt(p)), 8, 'write');
            if ('result' in got) {
              ctl.log.push({ via: 'map', iova: mapAt(p), seq: 0, ok: false, result: got.result });
              continue;
            }
            m = got;
            ctl.maps.set(p, m);
          }
          const seq = ctl.seq++;
          const v = new DataView(m.bytes.buffer, m.bytes.byteOffset, 8);
          v.setUint32(0, seq, true);
          v.setUint32(4, 0x5a000000 | p, true);
          ctl.log.push({ via: 'map', iova: mapAt(p), seq, ok: true });
        }
      });
      timer.armIn(1000);
      return {};
    },
  });
  return {
    ctl,
    plugin: inProcessPlugin(manifest('streamer', 'device', ['pci', 'dma', 'timers']), def),
  };
}

function rig() {
  const emu = new Emulator({ machine: bareMachine(), ramSize: 16 << 20, log: () => {} });
  const { ctl, plugin } = streamer();
  const dev = emu.addDevice(plugin, { id: 'streamer0' });
  dev.slot.pci!.configWrite(4, 2, 0x4); // COMMAND.MASTER
  return { emu, ctl, plugin };
}

const read = (emu: Emulator, gpa: number, len: number) => {
  const b = new Uint8Array(len);
  emu.machine.memory.read(gpa as GuestPhysAddr, b);
  return b;
};
const u32 = (emu: Emulator, gpa: number) =>
  new DataView(read(emu, gpa, 4).buffer).getUint32(0, true);

describe('swapIommu', () => {
  it('none → passthrough → remapping → none, with live mappings: refused ones revoked', async () => {
    const { emu, ctl } = rig();
    const passthrough = await loadBundled(new PluginHost(), 'passthrough');
    const dma = ctl.ctx!.dma;
    const bus = { bus: 'pci.0' } as const;
    const m0 = dma.map(iova(0x200000), 64, 'write') as DmaMapping;
    const m1 = dma.map(iova(IOVA_BASE), 64, 'write') as DmaMapping;

    // none → passthrough whose window holds IOVA_BASE only: the mapping at 2 MiB is refused.
    const r1 = emu.swapIommu(bus, {
      plugin: passthrough,
      id: 'pt',
      options: { window_base: IOVA_BASE, window_size: 0x100000 },
    });
    expect(r1).toMatchObject({ from: null, to: 'pt', contexts: 1, retranslated: 2, revoked: 1 });
    expect(r1.micros).toBeGreaterThan(0);
    expect([m0.valid, m1.valid]).toEqual([false, true]);
    expect(m0.release(0)).toMatchObject({ result: 'revoked' });
    expect(dma.write(iova(0x200000), Uint8Array.of(1))).toMatchObject({
      result: 'iommu-fault',
      reason: 'out-of-range',
    });
    expect(dma.write(iova(IOVA_BASE), Uint8Array.of(7))).toBe('ok');
    expect(read(emu, IOVA_BASE, 1)[0]).toBe(7);

    // passthrough → a remapping model: IOVA_BASE moves elsewhere, so m1 is revoked too; the
    // old instance (created by the swap, bound nowhere now) is removed.
    const r2 = emu.swapIommu(bus, { plugin: pageMapV1, id: 'pm', options: { seed: 1 } });
    expect(r2).toMatchObject({ from: 'pt', to: 'pm', revoked: 1, removed: 'pt' });
    expect(r2.flushedEntries).toBeGreaterThan(0);
    expect(emu.iommus.has('pt')).toBe(false);
    expect(m1.valid).toBe(false);
    expect(m1.release(0)).toMatchObject({ result: 'revoked' });
    const g0 = seededPages(1).get(0)!;
    expect(dma.writeU32LE(iova(IOVA_BASE), 0xdeadbeef)).toBe('ok');
    expect(u32(emu, g0)).toBe(0xdeadbeef);
    const absent = [...Array(NPAGES).keys()].find((p) => !seededPages(1).has(p))!;
    expect(dma.write(iova(IOVA_BASE + absent * PAGE), Uint8Array.of(1))).toMatchObject({
      result: 'iommu-fault',
      reason: 'not-present',
    });

    // A mapping through the remapping model survives a reload of its code (same translation),
    // and → none (identity moves it) revokes it.
    const m2 = dma.map(iova(IOVA_BASE), 16, 'write') as DmaMapping;
    const rl = emu.reloadIommu('pm', pageMapV2);
    expect(rl).toMatchObject({
      id: 'pm',
      from: 'pagemap@1.0.0',
      to: 'pagemap@2.0.0',
      warnings: [],
    });
    expect(rl).toMatchObject({ retranslated: 1, revoked: 0 });
    expect(m2.valid).toBe(true);
    const r3 = emu.swapIommu(bus, null);
    expect(r3).toMatchObject({ from: 'pm', to: null, revoked: 1, removed: 'pm' });
    expect(m2.valid).toBe(false);
    expect(dma.write(iova(absent * PAGE + IOVA_BASE), Uint8Array.of(9))).toBe('ok');
    expect(emu.iommus.size).toBe(0);
  });

  it('binds existing instances by id and keeps machine-added ones; narrower targets too', () => {
    const { emu } = rig();
    emu.addIommu(windowPlugin, { id: 'win' });
    expect(emu.swapIommu({ bus: 'pci.0' }, 'win')).toMatchObject({ from: null, to: 'win' });
    expect(emu.swapIommu({ bus: 'pci.0' }, null)).toMatchObject({ from: 'win', removed: null });
    expect(emu.iommus.has('win')).toBe(true);
    const r = emu.swapIommu({ device: 'streamer0' }, 'win');
    expect(r).toMatchObject({ from: null, to: 'win', contexts: 1 });
    expect(emu.machine.dma.info().find((c) => c.device === 'streamer0')?.iommu).toBe('win');
    expect(() => emu.swapIommu({ bus: 'pci.0' }, 'nosuch')).toThrow(
      expect.objectContaining({ code: 'E_UNKNOWN_ID' }),
    );
  });

  it('is refused, typed and without effect, from inside a device callback', () => {
    const { emu, ctl } = rig();
    let error: unknown;
    ctl.onTick = () => {
      ctl.onTick = undefined;
      try {
        emu.swapIommu({ bus: 'pci.0' }, { plugin: windowPlugin, id: 'w' });
      } catch (e) {
        error = e;
      }
    };
    emu.machine.clock.step(1000);
    expect(error).toBeInstanceOf(EmuhostError);
    expect(error).toMatchObject({ code: 'E_BAD_ARGUMENT', context: { device: 'streamer0' } });
    expect(emu.iommus.size).toBe(0);
    expect(emu.machine.dma.bindingList()).toEqual([]);
  });

  it('reload rolls back when the new code fails to create: the old instance keeps serving', () => {
    const { emu, ctl } = rig();
    emu.swapIommu({ bus: 'pci.0' }, { plugin: pageMapV1, id: 'pm', options: { seed: 2 } });
    const before = emu.iommus.get('pm')!.model;
    expect(() => emu.reloadIommu('pm', pageMapBroken)).toThrow('broken build');
    expect(emu.iommus.get('pm')!.model).toBe(before);
    expect(emu.iommus.get('pm')!.plugin).toBe(pageMapV1);
    const g = seededPages(2).get(1)!;
    expect(ctl.ctx!.dma.writeU32LE(iova(IOVA_BASE + PAGE), 0x1234)).toBe('ok');
    expect(u32(emu, g)).toBe(0x1234);
  });
});

/**
 * An identity IOMMU with a register (its code version at +0, timer ticks at +4) and a timer;
 * the broken build claims the register and the timer, then throws.
 */
const disposed: number[] = [];
function registerIommu(version: number, broken = false) {
  return inProcessPlugin(
    { ...manifest('reg-iommu', 'iommu', ['timers']), version: `${version}.0.0` },
    definePlugin({
      kind: 'iommu',
      create(ctx, state) {
        let ticks = typeof state === 'number' ? state : 0;
        const tick = ctx.clock.timer('tick', () => void ticks++);
        const regs = ctx.mmio('regs', 0x10, {
          read: (o) => (o === 0 ? version : ticks),
          write: () => undefined,
        });
        ctx.platform.map(regs, 0xfed00000 as GuestPhysAddr);
        if (broken) throw new Error('broken build');
        if (state === undefined) tick.armIn(1000);
        return {
          dispose: () => void disposed.push(version),
          translate: (a) => ({
            kind: 'entry',
            iova: iova(Math.floor(a / PAGE) * PAGE),
            translated: (Math.floor(a / PAGE) * PAGE) as GuestPhysAddr,
            pageSize: PAGE,
            perm: 'read-write',
          }),
          saveState: () => ticks,
        };
      },
    }),
  );
}

describe('IOMMU reload that fails', () => {
  it('leaves the old instance serving its registers and its timers', () => {
    const emu = new Emulator({ machine: bareMachine(), ramSize: 16 << 20, log: () => {} });
    emu.addIommu(registerIommu(1), { id: 'r' });
    const reg = (o: number) => emu.machine.memory.load((0xfed00000 + o) as GuestPhysAddr, 4);
    expect(reg(0)).toBe(1);
    expect(() => emu.reloadIommu('r', registerIommu(2, true))).toThrow('broken build');
    expect(reg(0), 'the register still calls the old code').toBe(1);
    emu.machine.clock.step(1000);
    expect(reg(4), 'the pending timer still calls the old code').toBe(1);
    expect(emu.iommus.get('r')!.slot.scope.guard.quarantined).toBe(false);
    expect(disposed, 'nothing disposed by the failed reload').toEqual([]);
    const ok = emu.reloadIommu('r', registerIommu(3));
    expect(ok.warnings).toEqual([]);
    expect(disposed, 'the replaced instance is disposed').toEqual([1]);
    expect([reg(0), reg(4)]).toEqual([3, 1]);
  });
});

describe('IOMMU swap and reload under streaming DMA, against a shadow model', () => {
  it('hundreds of swaps, IOMMU and device reloads and remaps: every byte where the translation at issue time says', () => {
    const { emu, ctl, plugin } = rig();
    emu.addIommu(pageMapV1, { id: 'fixed', options: { seed: 5 } });
    const bus = { bus: 'pci.0' } as const;
    // The shadow: what each instance translates, which one is bound, and guest memory.
    const layouts = new Map<string, Map<number, number> | Layout>([['fixed', seededPages(5)]]);
    let bound: string | null = null;
    const shadow = REGIONS.map(([base, len]) => ({ base, bytes: read(emu, base, len) }));
    const translate = (a: number): number | null => {
      const p = Math.floor((a - IOVA_BASE) / PAGE);
      const l = bound === null ? identity : layouts.get(bound)!;
      const g = typeof l === 'function' ? l(p) : (l.get(p) ?? null);
      return g === null ? null : g + ((a - IOVA_BASE) % PAGE);
    };
    const shadowWrite = (gpa: number, seq: number, tag: number) => {
      const r = shadow.find((s) => gpa >= s.base && gpa + 8 <= s.base + s.bytes.length)!;
      const v = new DataView(r.bytes.buffer, r.bytes.byteOffset);
      v.setUint32(gpa - r.base, seq, true);
      v.setUint32(gpa - r.base + 4, tag, true);
    };
    let rnd = 0x2545f491;
    const rand = (n: number) => {
      rnd ^= rnd << 13;
      rnd ^= rnd >>> 17;
      rnd ^= rnd << 5;
      return (rnd >>> 0) % n;
    };
    const stats = {
      swaps: 0,
      reloads: 0,
      rollbacks: 0,
      remaps: 0,
      deviceReloads: 0,
      revoked: 0,
      faults: 0,
      ok: 0,
    };
    let fresh = 0;

    for (let step = 0; step < 800; step++) {
      const op = rand(100);
      if (op < 35) {
        // Swap: none, an existing instance, or a new window or page-map instance.
        const kind = rand(4);
        let next: Parameters<Emulator['swapIommu']>[1];
        let layout: Map<number, number> | Layout | undefined;
        const id = `s${fresh++}`;
        if (kind === 0) next = null;
        else if (kind === 1) next = 'fixed';
        else if (kind === 2) {
          const windows: [number, number][] = [
            [IOVA_BASE, 8 * PAGE],
            [IOVA_BASE + 4 * PAGE, 12 * PAGE],
            [0, 2 ** 40],
          ];
          const [base, size] = windows[rand(3)]!;
          next = { plugin: windowPlugin, id, options: { window_base: base, window_size: size } };
          layout = windowLayout(base, size);
        } else {
          const seed = rand(50);
          next = { plugin: rand(2) ? pageMapV1 : pageMapV2, id, options: { seed } };
          layout = seededPages(seed);
        }
        const r = emu.swapIommu(bus, next);
        if (layout !== undefined) layouts.set(id, layout);
        expect(r.from).toBe(bound);
        if (r.removed !== null) layouts.delete(r.removed);
        bound = r.to;
        stats.swaps++;
      } else if (op < 65 && bound !== null) {
        // Reload the bound instance's code; 1 in 5 is a broken build that must roll back.
        const r = emu.iommus.get(bound)!;
        if (rand(5) === 0) {
          if (r.plugin.manifest.id === 'pagemap') {
            expect(() => emu.reloadIommu(bound!, pageMapBroken)).toThrow('broken build');
            stats.rollbacks++;
          }
        } else {
          const next =
            r.plugin.manifest.id === 'window'
              ? windowPlugin
              : r.plugin === pageMapV1
                ? pageMapV2
                : pageMapV1;
          const rep = emu.reloadIommu(bound, next);
          expect(rep.warnings).toEqual([]);
          expect(rep.revoked).toBe(0); // same translation: live mappings survive
          stats.reloads++;
        }
      } else if (
        op < 80 &&
        bound !== null &&
        emu.iommus.get(bound)?.plugin.manifest.id === 'pagemap'
      ) {
        // The guest remaps (or unmaps) a page; the model invalidates it.
        const page = rand(NPAGES);
        const gpa = rand(4) === 0 ? null : 0x600000 + rand(64) * PAGE;
        pageMaps.get(bound)!.remap(page, gpa);
        const l = layouts.get(bound) as Map<number, number>;
        if (gpa === null) l.delete(page);
        else l.set(page, gpa);
        stats.remaps++;
      } else if (op >= 90) {
        // Hot-reload the streaming device: its new instance adopts every live mapping (an
        // old handle left in use would be revoked, and the device quarantined).
        const before = ctl.maps.size;
        const rep = reloadDevice(emu, 'streamer0', plugin);
        expect(rep.outcome).toBe('reloaded');
        expect(rep.warnings).toEqual([]);
        expect(ctl.maps.size).toBeLessThanOrEqual(before);
        stats.deviceReloads++;
      }

      // Stream under the translation in force now, then check against the shadow.
      ctl.log.length = 0;
      emu.machine.clock.step(1000 * (1 + rand(3)));
      for (const e of ctl.log) {
        if (e.via === 'revoked') {
          expect(e.result).toBe('revoked');
          stats.revoked++;
          continue;
        }
        const gpa = translate(e.iova);
        if (gpa === null) {
          expect(e.ok, `${e.via} ${e.iova.toString(16)} at step ${step}`).toBe(false);
          stats.faults++;
          continue;
        }
        expect(e.ok, `${e.via} ${e.iova.toString(16)} at step ${step}`).toBe(true);
        const p = Math.floor((e.iova - IOVA_BASE) / PAGE);
        shadowWrite(gpa, e.seq, (e.via === 'map' ? 0x5a000000 : 0xa5000000) | p);
        stats.ok++;
      }
      for (const s of shadow) {
        const got = read(emu, s.base, s.bytes.length);
        if (Buffer.compare(got, s.bytes) !== 0) {
          const at = got.findIndex((b, i) => b !== s.bytes[i]);
          expect.fail(
            `step ${step}: guest memory differs from the shadow at ${(s.base + at).toString(16)}`,
          );
        }
      }
      // Every live mapping the device holds still agrees with the translation in force.
      for (const [p, m] of ctl.maps) if (m.valid) expect(translate(mapAt(p))).not.toBeNull();
      // Swap-created instances are removed once unbound: nothing accumulates.
      expect(emu.iommus.size).toBeLessThanOrEqual(2);
    }
    expect(stats.swaps).toBeGreaterThan(200);
    expect(stats.reloads).toBeGreaterThan(50);
    expect(stats.rollbacks).toBeGreaterThan(3);
    expect(stats.remaps).toBeGreaterThan(40);
    expect(stats.deviceReloads).toBeGreaterThan(40);
    expect(emu.devices.get('streamer0')!.slot.scope.guard.quarantined).toBe(false);
    expect(stats.revoked).toBeGreaterThan(300);
    expect(stats.faults).toBeGreaterThan(1000);
    expect(stats.ok).toBeGreaterThan(10_000);
  });
});
