/**
 * virtio-net through the virtio guest driver: two NICs of one machine on an in-process hub
 * (frames delivered in virtual time), mergeable and single receive buffers, what the spec
 * says of bad requests, link status, a pcap capture, a hot reload with receive buffers held,
 * virtio-mmio, and the conformance kit.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  bareMachine,
  DEFAULT_LATENCY_NS,
  Emulator,
  type LoadedPlugin,
  mmioSlotMachine,
  NetHub,
  type NetPort,
  PcapWriter,
  readPcap,
  reloadDevice,
} from '@emuhost/host';
import type { OptionValue } from '@emuhost/sdk';
import {
  createDriver,
  type Driver,
  deviceConformance,
  type GuestQueue,
  loadPluginDir,
  VIRTIO_F,
  VIRTIO_STATUS,
  type VirtioGuest,
  virtioConformance,
  virtioMmioGuest,
  virtioNetConformance,
  virtioPciGuest,
} from '@emuhost/testing';
import { describe, expect, it } from 'vitest';
import { parseMac } from './index.js';
import { NET_CONFIG, NET_F, NET_HDR_LEN } from './net.js';

const PLUGIN_DIR = fileURLToPath(new URL('..', import.meta.url));
let plugin: Promise<LoadedPlugin> | undefined;
const loadNet = () => {
  plugin ??= loadPluginDir(PLUGIN_DIR);
  return plugin;
};
const bit = (n: number) => 1n << BigInt(n);
const BASE = bit(VIRTIO_F.VERSION_1) | bit(NET_F.MAC) | bit(NET_F.STATUS);
const MRG = bit(NET_F.MRG_RXBUF);

/** One NIC as its guest driver sees it. */
interface Nic {
  g: VirtioGuest;
  rx: GuestQueue;
  tx: GuestQueue;
  port: NetPort;
  /** Sends `frame` (header prepended) and notifies. */
  send(frame: Uint8Array): void;
  /** Posts `n` receive buffers of `len` bytes; returns their addresses. */
  post(n: number, len: number): number[];
}

async function setup(
  o: { features?: bigint; options?: Record<string, OptionValue>; level?: 'confined' } = {},
) {
  const hub = new NetHub();
  const ports = [hub.port('n0'), hub.port('n1')];
  const emu = new Emulator({
    machine: bareMachine(),
    ramSize: 64 << 20,
    log: () => {},
    backends: { netdevs: new Map(ports.map((p) => [p.id, p])) },
  });
  const p = o.level === undefined ? await loadNet() : await loadPluginDir(PLUGIN_DIR, o);
  for (const [i, port] of ports.entries())
    emu.addDevice(p, {
      id: `nic${i}`,
      options: { netdev: port.id, mac: `52:54:00:00:00:0${i + 1}`, ...o.options },
    });
  const d = createDriver(emu);
  const fns = d.pciDevices().filter((f) => f.vendorId === 0x1af4 && f.deviceId === 0x1041);
  const nics = fns.map((f, i) => nic(d, virtioPciGuest(d, f, 0x100000 + i * 0x400000), ports[i]!));
  for (const n of nics) {
    if (!n.g.negotiate(o.features ?? BASE | MRG)) throw new Error('FEATURES_OK refused');
    n.rx = n.g.setupQueue(0);
    n.tx = n.g.setupQueue(1);
    n.g.driverOk();
  }
  return { emu, d, hub, ports, nics: nics as [Nic, Nic] };
}

function nic(d: Driver, g: VirtioGuest, port: NetPort): Nic {
  const n: Nic = {
    g,
    port,
    rx: undefined as unknown as GuestQueue,
    tx: undefined as unknown as GuestQueue,
    send(frame) {
      const buf = g.alloc(NET_HDR_LEN + frame.length);
      d.memwrite(buf, new Uint8Array(NET_HDR_LEN));
      d.memwrite(buf + NET_HDR_LEN, frame);
      n.tx.add([{ addr: buf, len: NET_HDR_LEN + frame.length, write: false }]);
      g.notify(1);
    },
    post(count, len) {
      const out: number[] = [];
      for (let i = 0; i < count; i++) {
        const buf = g.alloc(len);
        n.rx.add([{ addr: buf, len, write: true }]);
        out.push(buf);
      }
      g.notify(0);
      return out;
    },
  };
  return n;
}

/** An Ethernet frame of `len` bytes from MAC ...:01 to ...:02, its payload counting up. */
function frame(len: number, seed = 0): Uint8Array {
  const f = Uint8Array.from({ length: len }, (_, i) => (i * 7 + seed) & 0xff);
  f.set([0x52, 0x54, 0, 0, 0, 2, 0x52, 0x54, 0, 0, 0, 1, 0x08, 0x00]);
  return f;
}

describe('virtio-net-pci', { timeout: 60_000 }, () => {
  it('is 1af4:1041, class 0x020000, with its MAC and the link up in the configuration', async () => {
    const t = await setup();
    const f = t.d.pciFind(0x1af4, 0x1041)!;
    expect(f.configRead(0x09, 1) | (f.configRead(0x0a, 2) << 8)).toBe(0x020000);
    const g = t.nics[0].g;
    expect(g.deviceFeatures() & (BASE | MRG)).toBe(BASE | MRG);
    expect(g.deviceFeatures() & bit(NET_F.MTU)).toBe(0n);
    const mac = Array.from({ length: 6 }, (_, i) => g.config8(NET_CONFIG.MAC + i));
    expect(mac).toEqual([0x52, 0x54, 0, 0, 0, 1]);
    expect(g.config8(NET_CONFIG.STATUS)).toBe(1);
  });

  it('a frame one NIC sends reaches the other after the hub latency, in virtual time', async () => {
    const t = await setup();
    const [a, b] = t.nics;
    const [buf] = b.post(1, 2048);
    const f = frame(1500);
    a.send(f);
    expect(a.tx.takeUsed(), 'the transmit buffer comes back at once').toMatchObject({ len: 0 });
    t.d.clockStep(DEFAULT_LATENCY_NS - 1);
    expect(b.rx.takeUsed(), 'not before the latency').toBeUndefined();
    t.d.clockStep(1);
    expect(b.rx.takeUsed()).toMatchObject({ len: NET_HDR_LEN + 1500 });
    const got = t.d.memread(buf!, NET_HDR_LEN + 1500);
    expect(got[10], 'num_buffers').toBe(1);
    expect([...got.subarray(NET_HDR_LEN)]).toEqual([...f]);
    expect(a.rx.takeUsed(), 'the hub does not echo to the sender').toBeUndefined();
    expect(t.ports[0]!.stats.tx).toBe(1);
    expect(t.ports[1]!.stats.rx).toBe(1);
  });

  it('MRG_RXBUF: a frame spans small buffers, num_buffers says how many', async () => {
    const t = await setup();
    const [a, b] = t.nics;
    const bufs = b.post(8, 512);
    const f = frame(1400, 3);
    a.send(f);
    t.d.clockStep(DEFAULT_LATENCY_NS);
    const used = [b.rx.takeUsed(), b.rx.takeUsed(), b.rx.takeUsed(), b.rx.takeUsed()];
    expect(used.map((u) => u?.len)).toEqual([512, 512, NET_HDR_LEN + 1400 - 1024, undefined]);
    const all = new Uint8Array(NET_HDR_LEN + 1400);
    for (let i = 0; i < 3; i++) all.set(t.d.memread(bufs[i]!, used[i]!.len), i * 512);
    expect(all[10]).toBe(3);
    expect([...all.subarray(NET_HDR_LEN)]).toEqual([...f]);
  });

  it('frames wait in the hub until the NIC posts buffers, then arrive in order', async () => {
    const t = await setup();
    const [a, b] = t.nics;
    a.send(frame(100, 1));
    a.send(frame(100, 2));
    t.d.clockStep(DEFAULT_LATENCY_NS);
    expect(t.ports[1]!.pending).toBe(2);
    const bufs = b.post(2, 2048);
    t.d.clockStep(0);
    expect(b.rx.takeUsed()).toMatchObject({ len: NET_HDR_LEN + 100 });
    expect(b.rx.takeUsed()).toMatchObject({ len: NET_HDR_LEN + 100 });
    expect(t.d.memread(bufs[0]! + NET_HDR_LEN + 20, 1)[0]).toBe((20 * 7 + 1) & 0xff);
    expect(t.d.memread(bufs[1]! + NET_HDR_LEN + 20, 1)[0]).toBe((20 * 7 + 2) & 0xff);
  });

  it('without MRG_RXBUF a frame larger than the buffer is dropped and the buffer kept', async () => {
    const t = await setup({ features: BASE });
    const [a, b] = t.nics;
    b.post(1, 256);
    a.send(frame(1000));
    t.d.clockStep(DEFAULT_LATENCY_NS);
    expect(b.rx.takeUsed()).toBeUndefined();
    a.send(frame(200));
    t.d.clockStep(DEFAULT_LATENCY_NS);
    expect(b.rx.takeUsed()).toMatchObject({ len: NET_HDR_LEN + 200 });
  });

  it('host_mtu: offers MTU; a longer frame is dropped on transmit, the buffer given back', async () => {
    const t = await setup({ options: { host_mtu: 1000 }, features: BASE | MRG | bit(NET_F.MTU) });
    const [a, b] = t.nics;
    expect(a.g.config8(NET_CONFIG.MTU) | (a.g.config8(NET_CONFIG.MTU + 1) << 8)).toBe(1000);
    b.post(4, 2048);
    a.send(frame(1019));
    expect(a.tx.takeUsed()).toMatchObject({ len: 0 });
    t.d.clockStep(DEFAULT_LATENCY_NS);
    expect(b.rx.takeUsed()).toBeUndefined();
    expect(t.ports[0]!.stats.tx).toBe(0);
    a.send(frame(1018));
    t.d.clockStep(DEFAULT_LATENCY_NS);
    expect(b.rx.takeUsed()).toMatchObject({ len: NET_HDR_LEN + 1018 });
  });

  it('a transmit chain shorter than the header needs a reset; the host does not throw', async () => {
    const t = await setup();
    const a = t.nics[0];
    const buf = a.g.alloc(8);
    a.tx.add([{ addr: buf, len: 8, write: false }]);
    a.g.notify(1);
    expect(a.g.status & VIRTIO_STATUS.NEEDS_RESET).toBe(VIRTIO_STATUS.NEEDS_RESET);
    expect(t.emu.devices.get('nic0')!.slot.scope.guard.quarantined).toBe(false);
  });

  it('set_link off: status shows it with a configuration interrupt, frames are dropped', async () => {
    const t = await setup();
    const [a, b] = t.nics;
    b.post(2, 2048);
    b.g.isr();
    t.ports[1]!.setLink(false);
    expect(b.g.config8(NET_CONFIG.STATUS)).toBe(0);
    expect(b.g.isr() & 2).toBe(2);
    a.send(frame(100));
    t.d.clockStep(DEFAULT_LATENCY_NS);
    expect(b.rx.takeUsed()).toBeUndefined();
    t.ports[1]!.setLink(true);
    expect(b.g.config8(NET_CONFIG.STATUS)).toBe(1);
    a.send(frame(100));
    t.d.clockStep(DEFAULT_LATENCY_NS);
    expect(b.rx.takeUsed()).toMatchObject({ len: NET_HDR_LEN + 100 });
  });

  it('filter-dump: a pcap file with both directions, virtual timestamps', async () => {
    const t = await setup();
    const file = join(mkdtempSync(join(tmpdir(), 'emuhost-pcap-')), 'cap.pcap');
    const cap = new PcapWriter(file);
    t.ports[1]!.taps.push(cap);
    const [a, b] = t.nics;
    b.post(2, 2048);
    a.send(frame(60, 5));
    t.d.clockStep(DEFAULT_LATENCY_NS);
    b.send(frame(70, 6));
    cap.close();
    const p = readPcap(new Uint8Array(readFileSync(file)));
    expect(p.linktype).toBe(1);
    expect(p.records.map((r) => [r.us, r.data.length])).toEqual([
      [DEFAULT_LATENCY_NS / 1000, 60],
      [DEFAULT_LATENCY_NS / 1000, 70],
    ]);
    expect([...p.records[0]!.data]).toEqual([...frame(60, 5)]);
  });

  it('a hot reload keeps the held receive buffers, the MAC and the queues', async () => {
    const t = await setup({ options: { mac: '' } });
    const [a, b] = t.nics;
    const [buf] = b.post(1, 2048);
    a.send(frame(64));
    // The buffer is popped (held) when the frame is offered; reload before and after.
    t.d.clockStep(DEFAULT_LATENCY_NS);
    expect(b.rx.takeUsed()).toBeDefined();
    const [buf2] = b.post(1, 2048);
    b.port.ready();
    const before = t.emu.devices.get('nic1')!.saveState();
    const report = reloadDevice(t.emu, 'nic1', await loadNet());
    expect(report.outcome).toBe('reloaded');
    expect(t.emu.devices.get('nic1')!.saveState().data).toMatchObject({
      device: { mac: (before.data as { device: { mac: string } }).device.mac },
    });
    a.send(frame(80, 9));
    t.d.clockStep(DEFAULT_LATENCY_NS);
    expect(b.rx.takeUsed()).toMatchObject({ len: NET_HDR_LEN + 80 });
    expect(t.d.memread(buf2! + NET_HDR_LEN + 20, 1)[0]).toBe((20 * 7 + 9) & 0xff);
    expect(buf).toBeDefined();
  });

  it('default MACs count up per NIC, as QEMU; bad ones are refused', async () => {
    const t = await setup({ options: { mac: '' } });
    const macs = t.nics.map((n) => Array.from({ length: 6 }, (_, i) => n.g.config8(i)));
    expect(macs[0]!.slice(0, 5)).toEqual([0x52, 0x54, 0, 0x12, 0x34]);
    expect(macs[1]![5]).toBe((macs[0]![5]! + 1) & 0xff);
    expect(() => parseMac('52:54:00:12:34')).toThrow(/doesn't take value/);
    expect(() => parseMac('01:00:5e:00:00:01')).toThrow(/multicast/);
  });

  it('works confined (the membrane carries the frontend and the frames)', async () => {
    const t = await setup({ level: 'confined' });
    const [a, b] = t.nics;
    const [buf] = b.post(1, 2048);
    a.send(frame(300, 4));
    t.d.clockStep(DEFAULT_LATENCY_NS);
    expect(b.rx.takeUsed()).toMatchObject({ len: NET_HDR_LEN + 300 });
    expect([...t.d.memread(buf! + NET_HDR_LEN, 300)]).toEqual([...frame(300, 4)]);
  });
});

describe('virtio-net-device (virtio-mmio)', { timeout: 60_000 }, () => {
  it('two NICs in virtio-mmio slots exchange a frame; the receiver interrupts on its line', async () => {
    const hub = new NetHub();
    const ports = [hub.port('n0'), hub.port('n1')];
    const emu = new Emulator({
      machine: mmioSlotMachine(),
      ramSize: 64 << 20,
      log: () => {},
      backends: { netdevs: new Map(ports.map((p) => [p.id, p])) },
    });
    for (const [i, p] of ports.entries())
      emu.addDevice(await loadNet(), {
        id: `nic${i}`,
        platform: true,
        options: { netdev: p.id, mac: `52:54:00:00:00:0${i + 1}` },
      });
    const d = createDriver(emu);
    expect(d.readl(0x10001008), 'device id: network').toBe(1);
    const nics = [0, 1].map((i) =>
      nic(d, virtioMmioGuest(d, 0x10001000 + 0x1000 * i, 0x80100000 + i * 0x400000), ports[i]!),
    );
    for (const n of nics) {
      expect(n.g.negotiate(BASE | MRG)).toBe(true);
      n.rx = n.g.setupQueue(0);
      n.tx = n.g.setupQueue(1);
      n.g.driverOk();
    }
    const [a, b] = nics as [Nic, Nic];
    expect(b.g.config8(5)).toBe(2);
    const [buf] = b.post(1, 2048);
    a.send(frame(600, 8));
    d.clockStep(DEFAULT_LATENCY_NS);
    expect(b.rx.takeUsed()).toMatchObject({ len: NET_HDR_LEN + 600 });
    expect([...d.memread(buf! + NET_HDR_LEN, 600)]).toEqual([...frame(600, 8)]);
    expect(d.irqLevel(2, 'plic')).toBe(1);
  });
});

describe('conformance', () => {
  deviceConformance({ plugin: PLUGIN_DIR });
  virtioConformance({ plugin: PLUGIN_DIR });
  virtioNetConformance({ plugin: PLUGIN_DIR });
});
