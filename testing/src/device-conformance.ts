/**
 * The device conformance suite: what every device plugin must do, whoever wrote it. A
 * plugin's own test file calls `deviceConformance({ plugin: dir })`. Cases:
 *
 * - realizes: the device attaches to a machine and (for PCI) enumerates with its identity;
 * - identity is read-only: the guest cannot change vendor, device, revision or class;
 * - reset matches a fresh device: after guest activity and a reset, its state equals a
 *   fresh instance's;
 * - state round trip: saved state is plain data, and an instance created from it saves the
 *   same state;
 * - hot reload keeps the device: reloaded onto the same code mid-run, the device saves the
 *   same state, shows the same registers, keeps every timer and DMA mapping (the reload
 *   report has no warning) and goes on working;
 * - survives failing DMA: with bus mastering off and every translation refused, poking every
 *   register and running the clock neither throws, quarantines the device, nor changes RAM;
 * - unplug releases everything: no region, timer or DMA context outlives the device.
 */
import {
  bareMachine,
  Emulator,
  type EmulatorOptions,
  type LoadedPlugin,
  reloadDevice,
} from '@emuhost/host';
import type { GuestPhysAddr, OptionValue } from '@emuhost/sdk';
import { describe, expect } from 'vitest';
import { type BarMapping, createDriver, type Driver, type PciDeviceRef } from './driver.js';
import { type PluginSource, resolvePlugin } from './load.js';
import { registerCases } from './skips.js';

export type DeviceCase =
  | 'realizes'
  | 'identity is read-only'
  | 'reset matches a fresh device'
  | 'state round trip'
  | 'hot reload keeps the device'
  | 'survives failing DMA'
  | 'unplug releases everything';

export interface DeviceConformanceOptions {
  readonly plugin: PluginSource;
  readonly options?: Readonly<Record<string, OptionValue>>;
  /** Cases to skip, each with its reason. */
  readonly skip?: Partial<Record<DeviceCase, string>>;
  /** RAM for the test machine, in bytes. Default 64 MiB. */
  readonly ramSize?: number;
  /** Drives and entropy sources the device names in its options (`drive=d0`). */
  readonly backends?: EmulatorOptions['backends'];
}

const RAM = 64 << 20;

/** Registers the suite with vitest (call it at the top level of a test file). */
export function deviceConformance(opts: DeviceConformanceOptions): void {
  describe('device conformance', () => {
    registerCases<DeviceCase>(deviceCases(opts), opts.skip);
  });
}

/** The cases as plain async functions (for running them outside the suite, e.g. on a known-bad device). */
export function deviceCases(
  opts: DeviceConformanceOptions,
): Record<DeviceCase, () => Promise<void>> {
  let cached: Promise<LoadedPlugin> | undefined;
  const plugin = () => {
    cached ??= resolvePlugin(opts.plugin);
    return cached;
  };
  const setup = async () => {
    const p = await plugin();
    const emu = new Emulator({
      machine: bareMachine(),
      ramSize: opts.ramSize ?? RAM,
      log: () => {},
      ...(opts.backends !== undefined && { backends: opts.backends }),
    });
    const def = p.definition;
    const dev = emu.addDevice(p, {
      id: 'dut',
      ...(def.pci === undefined && { platform: true }),
      ...(opts.options !== undefined && { options: opts.options }),
    });
    return { p, def, emu, dev, drv: createDriver(emu) };
  };

  return {
    realizes: async () => {
      const { def, drv } = await setup();
      if (def.pci !== undefined) {
        const found = drv.pciFind(def.pci.vendorId, def.pci.deviceId);
        expect(found, 'the device enumerates through 0xcf8/0xcfc').toBeDefined();
        expect(found!.configRead(0x0b, 1)).toBe((def.pci.classCode >>> 16) & 0xff);
      }
    },
    'identity is read-only': async () => {
      const { def, drv } = await setup();
      if (def.pci === undefined) return;
      const d = drv.pciFind(def.pci.vendorId, def.pci.deviceId)!;
      const before = [0x00, 0x08, 0x2c].map((o) => d.configRead(o, 4));
      for (const o of [0x00, 0x08, 0x2c]) d.configWrite(o, 4, 0xa5a5a5a5);
      expect([0x00, 0x08, 0x2c].map((o) => d.configRead(o, 4))).toEqual(before);
    },
    'reset matches a fresh device': async () => {
      const { emu, dev, drv } = await setup();
      const fresh = dev.saveState();
      await exercise(drv);
      emu.reset();
      expect(dev.saveState()).toEqual(fresh);
    },
    'state round trip': async () => {
      const { p, emu, dev, drv } = await setup();
      await exercise(drv);
      const saved = dev.saveState();
      expect(structuredClone(saved)).toEqual(saved);
      const registers = snapshotRegisters(createDriver(emu));
      const other = new Emulator({
        machine: bareMachine(),
        ramSize: opts.ramSize ?? RAM,
        log: () => {},
        ...(opts.backends !== undefined && { backends: opts.backends }),
      });
      const def = p.definition;
      const again = other.addDevice(p, {
        id: 'dut',
        state: saved,
        ...(def.pci === undefined && { platform: true }),
        ...(opts.options !== undefined && { options: opts.options }),
      });
      expect(again.saveState()).toEqual(saved);
      expect(
        snapshotRegisters(createDriver(other)),
        'guest-visible registers after restoring',
      ).toEqual(registers);
    },
    'hot reload keeps the device': async () => {
      const { p, emu, dev, drv } = await setup();
      await exercise(drv, { clock: false });
      const saved = dev.saveState();
      const registers = snapshotRegisters(drv);
      const report = reloadDevice(emu, 'dut', p);
      expect(report.outcome, String(report.error)).toBe('reloaded');
      expect(report.warnings, 'a reload onto the same code loses nothing').toEqual([]);
      expect(dev.saveState()).toEqual(saved);
      expect(snapshotRegisters(drv), 'guest-visible registers after the reload').toEqual(registers);
      await exercise(drv);
      expect(dev.slot.scope.guard.quarantined, String(dev.slot.scope.guard.lastFault?.error)).toBe(
        false,
      );
    },
    'survives failing DMA': async () => {
      const { emu, dev, drv } = await setup();
      const m = emu.machine;
      m.dma.addIommu('refuse-all', () => ({
        translate: () => ({ kind: 'fault', reason: 'not-present' }),
      }));
      m.dma.bind({ device: 'dut' }, 'refuse-all');
      const ram = new Uint8Array(1 << 20);
      m.memory.read(0 as GuestPhysAddr, ram);
      await exercise(drv, { busMaster: false });
      m.dma.unbind({ device: 'dut' });
      await exercise(drv, { busMaster: true, iommu: false });
      expect(dev.slot.scope.guard.quarantined, String(dev.slot.scope.guard.lastFault?.error)).toBe(
        false,
      );
      const after = new Uint8Array(1 << 20);
      m.memory.read(0 as GuestPhysAddr, after);
      expect(
        after.every((b, i) => b === ram[i]),
        'the first MiB of RAM is unchanged',
      ).toBe(true);
    },
    'unplug releases everything': async () => {
      const emu = new Emulator({
        machine: bareMachine(),
        ramSize: opts.ramSize ?? RAM,
        log: () => {},
        ...(opts.backends !== undefined && { backends: opts.backends }),
      });
      const p = await plugin();
      const def = p.definition;
      const m = emu.machine;
      const held = () => ({
        ranges: m.memory.flatView().ranges.length,
        timers: m.clock.pendingTimers,
        contexts: m.dma.info().length,
        bounceBytes: m.dma.bounceInUse,
      });
      const before = held();
      emu.addDevice(p, {
        id: 'dut',
        ...(def.pci === undefined && { platform: true }),
        ...(opts.options !== undefined && { options: opts.options }),
      });
      await exercise(createDriver(emu));
      emu.removeDevice('dut');
      expect(held()).toEqual(before);
    },
  };
}

/** Every BAR mapped (the same addresses each time) and enabled; the first 256 bytes of each, as dwords. */
function snapshotRegisters(drv: Driver): number[] {
  const out: number[] = [];
  for (const d of drv.pciDevices().filter((x) => x.devfn >= 8)) {
    const bars = mapBars(d);
    d.enable();
    for (const bar of bars) {
      for (let off = 0; off < Math.min(bar.size, 0x100); off += 4) {
        out.push(bar.kind === 'memory' ? drv.readl(bar.addr + off) : drv.inl(bar.addr + off));
      }
    }
  }
  return out;
}

/** Sizes and assigns every implemented BAR. */
function mapBars(d: PciDeviceRef): BarMapping[] {
  const bars: BarMapping[] = [];
  for (let b = 0; b < 6; b++) {
    const off = 0x10 + 4 * b;
    const orig = d.configRead(off, 4);
    d.configWrite(off, 4, 0xffffffff);
    const implemented = d.configRead(off, 4) !== 0;
    d.configWrite(off, 4, orig);
    if (implemented) bars.push(d.iomap(b));
    if (implemented && (orig & 0x6) === 0x4) b++;
  }
  return bars;
}

/**
 * Guest activity: map and enable every BAR, write a pattern to each aligned dword of the
 * first 4 KiB of each (RAM addresses below 1 MiB as values, so DMA the device starts lands in
 * guest RAM), read them back, and run the clock for a virtual second.
 */
async function exercise(
  drv: Driver,
  o: { busMaster?: boolean; iommu?: boolean; clock?: boolean } = {},
): Promise<void> {
  for (const d of drv.pciDevices().filter((x) => x.devfn >= 8)) {
    const bars = mapBars(d);
    d.enable();
    d.setBusMaster(o.busMaster ?? true);
    for (const bar of bars) {
      const span = Math.min(bar.size, 0x1000);
      for (let off = 0; off < span; off += 4) {
        const v = 0x1000 + ((off * 0x40) & 0xfffff);
        if (bar.kind === 'memory') {
          drv.writel(bar.addr + off, v);
          drv.readl(bar.addr + off);
        } else {
          drv.outl(bar.addr + off, v);
          drv.inl(bar.addr + off);
        }
      }
    }
  }
  // Without the clock, work the registers started (timers, DMA) is still pending.
  if (o.clock !== false) for (let i = 0; i < 10; i++) drv.clockStep(100_000_000);
}
