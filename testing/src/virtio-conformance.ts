/**
 * The virtio part of the device conformance kit: what every virtio-pci device must do,
 * whatever its type, checked through the virtio guest driver (`virtio.ts`). A virtio plugin's
 * test file calls `virtioConformance({ plugin: dir })` beside `deviceConformance`. Cases:
 *
 * - queue set-up: every queue's maximum size is a power of two up to 32768; FEATURES_OK is
 *   kept for VERSION_1 and refused without it or with a feature the device did not offer;
 *   every queue can be sized, placed and enabled, and DRIVER_OK sticks;
 * - reset: writing status 0 clears status, features, queue enables and sizes, and the device
 *   can be set up again;
 * - bad descriptors: a head past the queue, a looping chain and an avail index moved past the
 *   queue each set DEVICE_NEEDS_RESET with a configuration interrupt, use nothing, leave the
 *   device unquarantined, and a reset recovers it.
 */
import { bareMachine, Emulator, type EmulatorOptions, type LoadedPlugin } from '@emuhost/host';
import type { OptionValue } from '@emuhost/sdk';
import { describe, expect } from 'vitest';
import { createDriver } from './driver.js';
import { type PluginSource, resolvePlugin } from './load.js';
import { registerCases } from './skips.js';
import { VIRTIO_F, VIRTIO_STATUS, type VirtioGuest, virtioPciGuest } from './virtio.js';

export type VirtioCase = 'queue set-up' | 'reset' | 'bad descriptors';

export interface VirtioConformanceOptions {
  readonly plugin: PluginSource;
  readonly options?: Readonly<Record<string, OptionValue>>;
  readonly backends?: EmulatorOptions['backends'];
  readonly skip?: Partial<Record<VirtioCase, string>>;
}

const VERSION_1 = 1n << BigInt(VIRTIO_F.VERSION_1);
/** common cfg offsets (4.1.4.3). */
const C = { GF_SELECT: 0x08, GF: 0x0c, NUMQ: 0x12, Q_SELECT: 0x16, Q_SIZE: 0x18, Q_ENABLE: 0x1c };

export function virtioConformance(opts: VirtioConformanceOptions): void {
  describe('virtio conformance', () => {
    registerCases<VirtioCase>(virtioCases(opts), opts.skip);
  });
}

export function virtioCases(
  opts: VirtioConformanceOptions,
): Record<VirtioCase, () => Promise<void>> {
  let cached: Promise<LoadedPlugin> | undefined;
  const setup = async () => {
    cached ??= resolvePlugin(opts.plugin);
    const p = await cached;
    const emu = new Emulator({
      machine: bareMachine(),
      ramSize: 64 << 20,
      log: () => {},
      ...(opts.backends !== undefined && { backends: opts.backends }),
    });
    const dev = emu.addDevice(p, {
      id: 'dut',
      ...(opts.options !== undefined && { options: opts.options }),
    });
    const d = createDriver(emu);
    const pci = d.pciDevices().find((x) => x.vendorId === 0x1af4 && x.deviceId >= 0x1040);
    if (pci === undefined) throw new Error('no modern virtio-pci function (1af4:104x) enumerates');
    const g = virtioPciGuest(d, pci, 0x100000);
    const numq = () => g.common16(C.NUMQ);
    return { emu, dev, d, g, numq };
  };
  const word16 = (g: VirtioGuest, off: number) => g.common16(off);
  const select = (g: VirtioGuest, q: number) => g.queueMax(q);

  return {
    'queue set-up': async () => {
      const { g, numq } = await setup();
      const n = numq();
      expect(n, 'at least one queue').toBeGreaterThan(0);
      expect(g.negotiate(0n), 'FEATURES_OK without VERSION_1').toBe(false);
      expect(g.negotiate(VERSION_1 | (1n << 62n)), 'FEATURES_OK with a feature not offered').toBe(
        false,
      );
      expect((g.deviceFeatures() & VERSION_1) !== 0n, 'VERSION_1 offered').toBe(true);
      expect(g.negotiate(VERSION_1), 'FEATURES_OK with VERSION_1').toBe(true);
      for (let q = 0; q < n; q++) {
        const max = g.queueMax(q);
        expect(max > 0 && max <= 32768 && (max & (max - 1)) === 0, `queue ${q} size ${max}`).toBe(
          true,
        );
        const size = Math.max(1, max >> 1);
        g.setupQueue(q, size);
        select(g, q);
        expect(word16(g, C.Q_SIZE)).toBe(size);
        expect(word16(g, C.Q_ENABLE)).toBe(1);
      }
      g.driverOk();
      expect(g.status & VIRTIO_STATUS.DRIVER_OK).toBe(VIRTIO_STATUS.DRIVER_OK);
      expect(g.status & VIRTIO_STATUS.NEEDS_RESET).toBe(0);
    },
    reset: async () => {
      const { g, numq } = await setup();
      const n = numq();
      g.negotiate(VERSION_1);
      for (let q = 0; q < n; q++) g.setupQueue(q, 1);
      g.driverOk();
      g.reset();
      expect(g.status).toBe(0);
      g.setCommon32(C.GF_SELECT, 1);
      expect(g.common32(C.GF), 'driver features cleared').toBe(0);
      for (let q = 0; q < n; q++) {
        const max = g.queueMax(q);
        expect(word16(g, C.Q_ENABLE), `queue ${q} disabled`).toBe(0);
        expect(word16(g, C.Q_SIZE), `queue ${q} back to its maximum`).toBe(max);
      }
      expect(g.negotiate(VERSION_1)).toBe(true);
      for (let q = 0; q < n; q++) g.setupQueue(q);
      g.driverOk();
      expect(g.status & VIRTIO_STATUS.NEEDS_RESET).toBe(0);
    },
    'bad descriptors': async () => {
      const { g, dev, numq } = await setup();
      const n = numq();
      const broken: [string, (q: ReturnType<VirtioGuest['setupQueue']>) => void][] = [
        ['a head past the queue', (q) => q.publish(q.size + 1)],
        [
          'a looping chain',
          (q) => {
            q.writeDesc(0, { addr: 0x200000, len: 16, flags: 1, next: 1 });
            q.writeDesc(1, { addr: 0x200000, len: 16, flags: 1, next: 0 });
            q.publish(0);
          },
        ],
        ['an avail index moved past the queue', (q) => q.setAvailIdx(q.size + 2)],
      ];
      for (let qi = 0; qi < n; qi++) {
        for (const [what, bad] of broken) {
          expect(g.negotiate(VERSION_1)).toBe(true);
          const queues = Array.from({ length: n }, (_, k) => g.setupQueue(k));
          g.driverOk();
          g.isr();
          const q = queues[qi]!;
          bad(q);
          g.notify(qi);
          expect(g.status & VIRTIO_STATUS.NEEDS_RESET, `${what} on queue ${qi}`).toBe(
            VIRTIO_STATUS.NEEDS_RESET,
          );
          expect(g.isr() & 2, `${what}: configuration interrupt`).toBe(2);
          expect(q.usedIdx, `${what}: nothing used`).toBe(0);
          expect(dev.slot.scope.guard.quarantined).toBe(false);
          g.reset();
          expect(g.status).toBe(0);
        }
      }
    },
  };
}
