/**
 * The virtio-net part of the conformance kit: what any virtio-net-pci device must do, checked
 * through the virtio guest driver with two instances on an in-process hub (`NetHub`), each on
 * `netdev=n0`/`n1` and its own MAC. A virtio-net plugin's test file calls
 * `virtioNetConformance({ plugin: dir })` beside `virtioConformance`. Cases:
 *
 * - configuration: MAC offered and the configured address in the configuration space; STATUS
 *   offered with the link up, and a link taken down shown with a configuration interrupt;
 * - frames: a frame sent by one instance arrives intact in the other's receive buffer after
 *   the hub's latency, with a header whose num_buffers is 1, and is not echoed to the sender;
 * - bad requests: a transmit chain shorter than the 12-byte header sets DEVICE_NEEDS_RESET
 *   (the device is not quarantined); a frame that fits no receive buffer (without
 *   MRG_RXBUF) is dropped, the buffer kept for the next frame.
 */
import {
  bareMachine,
  DEFAULT_LATENCY_NS,
  Emulator,
  type LoadedPlugin,
  NetHub,
} from '@emuhost/host';
import type { OptionValue } from '@emuhost/sdk';
import { describe, expect } from 'vitest';
import { createDriver } from './driver.js';
import { type PluginSource, resolvePlugin } from './load.js';
import { registerCases } from './skips.js';
import { VIRTIO_F, VIRTIO_STATUS, virtioPciGuest } from './virtio.js';

export type VirtioNetCase = 'configuration' | 'frames' | 'bad requests';

export interface VirtioNetConformanceOptions {
  readonly plugin: PluginSource;
  readonly options?: Readonly<Record<string, OptionValue>>;
  readonly skip?: Partial<Record<VirtioNetCase, string>>;
}

/** Feature bits (virtio 1.2, 5.1.3). */
const NET_F = { MAC: 5, MRG_RXBUF: 15, STATUS: 16 } as const;
const HDR = 12;
const bit = (n: number) => 1n << BigInt(n);
const MACS = ['52:54:00:c0:ff:01', '52:54:00:c0:ff:02'];

export function virtioNetConformance(opts: VirtioNetConformanceOptions): void {
  describe('virtio-net conformance', () => {
    registerCases<VirtioNetCase>(virtioNetCases(opts), opts.skip);
  });
}

export function virtioNetCases(
  opts: VirtioNetConformanceOptions,
): Record<VirtioNetCase, () => Promise<void>> {
  let cached: Promise<LoadedPlugin> | undefined;
  const setup = async (features: bigint) => {
    cached ??= resolvePlugin(opts.plugin);
    const p = await cached;
    const hub = new NetHub();
    const ports = [hub.port('n0'), hub.port('n1')];
    const emu = new Emulator({
      machine: bareMachine(),
      ramSize: 64 << 20,
      log: () => {},
      backends: { netdevs: new Map(ports.map((x) => [x.id, x])) },
    });
    const devs = ports.map((port, i) =>
      emu.addDevice(p, {
        id: `dut${i}`,
        options: { ...opts.options, netdev: port.id, mac: MACS[i]! },
      }),
    );
    const d = createDriver(emu);
    const fns = d.pciDevices().filter((f) => f.vendorId === 0x1af4 && f.deviceId === 0x1041);
    if (fns.length !== 2)
      throw new Error('two virtio-net-pci functions (1af4:1041) do not enumerate');
    const nics = fns.map((f, i) => {
      const g = virtioPciGuest(d, f, 0x100000 + i * 0x400000);
      const offered = g.deviceFeatures();
      if (!g.negotiate(features & offered)) throw new Error('FEATURES_OK refused');
      const rx = g.setupQueue(0);
      const tx = g.setupQueue(1);
      g.driverOk();
      return { g, rx, tx, offered };
    });
    /** Sends `frame` from nic `i` (header prepended); returns the transmit chain's head. */
    const send = (i: number, frame: Uint8Array, hdrLen = HDR) => {
      const n = nics[i]!;
      const buf = n.g.alloc(hdrLen + frame.length);
      d.memwrite(buf, new Uint8Array(hdrLen));
      d.memwrite(buf + hdrLen, frame);
      n.tx.add([{ addr: buf, len: hdrLen + frame.length, write: false }]);
      n.g.notify(1);
    };
    const post = (i: number, len: number) => {
      const n = nics[i]!;
      const buf = n.g.alloc(len);
      n.rx.add([{ addr: buf, len, write: true }]);
      n.g.notify(0);
      return buf;
    };
    return { emu, d, ports, devs, nics, send, post };
  };
  const frame = (len: number, seed: number) => {
    const f = Uint8Array.from({ length: len }, (_, i) => (i * 11 + seed) & 0xff);
    f.set([0x52, 0x54, 0, 0xc0, 0xff, 2, 0x52, 0x54, 0, 0xc0, 0xff, 1, 0x08, 0x00]);
    return f;
  };
  const base = bit(VIRTIO_F.VERSION_1) | bit(NET_F.MAC) | bit(NET_F.STATUS);

  return {
    configuration: async () => {
      const t = await setup(base);
      const g = t.nics[0]!.g;
      expect(t.nics[0]!.offered & bit(NET_F.MAC), 'MAC offered').not.toBe(0n);
      expect(t.nics[0]!.offered & bit(NET_F.STATUS), 'STATUS offered').not.toBe(0n);
      const mac = Array.from({ length: 6 }, (_, i) => g.config8(i).toString(16).padStart(2, '0'));
      expect(mac.join(':')).toBe(MACS[0]);
      expect(g.config8(6) & 1, 'link up').toBe(1);
      g.isr();
      t.ports[0]!.setLink(false);
      expect(g.config8(6) & 1, 'link down').toBe(0);
      expect(g.isr() & 2, 'configuration interrupt').toBe(2);
    },
    frames: async () => {
      const t = await setup(base);
      const buf = t.post(1, 2048);
      t.post(0, 2048);
      const f = frame(1000, 1);
      t.send(0, f);
      t.d.clockStep(DEFAULT_LATENCY_NS);
      expect(t.nics[1]!.rx.takeUsed()).toMatchObject({ len: HDR + 1000 });
      const got = t.d.memread(buf, HDR + 1000);
      expect(got[10], 'num_buffers').toBe(1);
      expect([...got.subarray(HDR)]).toEqual([...f]);
      expect(t.nics[0]!.rx.takeUsed(), 'no echo to the sender').toBeUndefined();
      expect(t.nics[0]!.tx.takeUsed(), 'the transmit buffer given back').toBeDefined();
    },
    'bad requests': async () => {
      const t = await setup(base);
      t.post(1, 256);
      t.send(0, frame(1000, 2));
      t.d.clockStep(DEFAULT_LATENCY_NS);
      expect(t.nics[1]!.rx.takeUsed(), 'a frame larger than the buffer is dropped').toBeUndefined();
      t.send(0, frame(100, 3));
      t.d.clockStep(DEFAULT_LATENCY_NS);
      expect(t.nics[1]!.rx.takeUsed(), 'the buffer kept for the next frame').toMatchObject({
        len: HDR + 100,
      });
      t.send(0, new Uint8Array(0), 8);
      const g = t.nics[0]!.g;
      expect(g.status & VIRTIO_STATUS.NEEDS_RESET, 'a short header').toBe(
        VIRTIO_STATUS.NEEDS_RESET,
      );
      expect(t.devs[0]!.slot.scope.guard.quarantined).toBe(false);
    },
  };
}
