/**
 * The virtio suite: one 4 KiB virtio-blk read request end to end, in process, against a raw
 * 4 KiB copy (`Uint8Array.prototype.set`) timed in the same run.
 *
 * A request is what a guest driver and the device do for one read: the guest puts the chain's
 * head in the avail ring and bumps avail->idx (guest memory writes), writes the queue's notify
 * register (an MMIO write into the device's BAR); the device (the bundled virtio-blk-pci
 * plugin, trusted level, through the SDK's facades) reads avail->idx and the ring, walks the
 * three descriptors (header, 4 KiB data, status), reads the header, reads 4 KiB of the image
 * (a file in /dev/shm where there is one, so the host's page cache, not a disk, answers),
 * writes it and the status into guest RAM by DMA, writes the used element and used->idx, and
 * decides whether to interrupt; then the guest reads used->idx. Every guest access goes
 * through the machine's address space as a CPU's would.
 *
 * The first request is checked (status OK, the image's bytes in guest RAM) before timing.
 *
 * `virtio.net.frame.ns`: one 1500-byte frame from one virtio-net-pci NIC's transmit queue
 * through an in-process hub into another NIC's receive queue, against a raw 1500-byte copy.
 * The guest makes the transmit chain available and notifies; the device reads the header and
 * frame by DMA and sends it; the hub copies it to the other port, whose delivery timer the
 * clock fires (latency 0); the receiving NIC pops a receive buffer, writes header and frame by
 * DMA and uses it; the guest reposts that buffer and gets its transmit buffer back.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bareMachine, Emulator, loadBundled, NetHub, PluginHost } from '@emuhost/host';
import type { GuestPhysAddr } from '@emuhost/sdk';
import { createDriver, VIRTIO_F, virtioPciGuest } from '@emuhost/testing/drivers';
import type { BenchCase } from '../harness.js';
import { costRatio, type Metric } from '../metrics.js';
import type { Suite } from '../suite.js';

const PAGE = 4096;
const SECTOR = 512;
/** One request takes microseconds: a few per tinybench iteration. */
const INNER = 8;

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`virtio suite: ${what}; timing it would time an error path`);
}

export const virtioSuite: Suite = {
  name: 'virtio',
  async run(ctx) {
    ctx.log('building and loading the bundled virtio-blk-pci plugin (trusted)');
    const plugin = await loadBundled(new PluginHost(), 'virtio-blk-pci', 'trusted');
    const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'emuhost-bench-'));
    const file = join(dir, 'disk.img');
    const img = Uint8Array.from({ length: 1 << 20 }, (_, i) => (i * 31 + (i >> 12)) & 0xff);
    writeFileSync(file, img);
    const emu = new Emulator({
      machine: bareMachine(),
      ramSize: 64 << 20,
      log: () => {},
      backends: { drives: [{ id: 'd0', file }] },
    });
    emu.addDevice(plugin, { id: 'blk0', options: { drive: 'd0' } });
    const d = createDriver(emu);
    const g = virtioPciGuest(d, d.pciFind(0x1af4, 0x1042)!, 0x100000);
    check(g.negotiate(1n << BigInt(VIRTIO_F.VERSION_1)), 'FEATURES_OK');
    const q = g.setupQueue(0, 256);
    g.driverOk();
    // One chain, written once: header (IN, sector 8), 4 KiB of data, the status byte.
    const hdr = g.alloc(16);
    d.writel(hdr, 0);
    d.writeq(hdr + 8, 8n);
    const data = g.alloc(PAGE, PAGE);
    const status = g.alloc(1);
    q.writeDesc(0, { addr: hdr, len: 16, flags: 1, next: 1 });
    q.writeDesc(1, { addr: data, len: PAGE, flags: 3, next: 2 });
    q.writeDesc(2, { addr: status, len: 1, flags: 2, next: 0 });
    // The notify register, found as the guest driver found it.
    const mem = emu.machine.memory;
    const notifyAddr = findNotify(d);
    const two = new Uint8Array(2);
    const view = new DataView(two.buffer);
    const ram = new Uint8Array(2);
    const rv = new DataView(ram.buffer);
    let avail = 0;
    /** One request: avail ring + idx, notify, used->idx read back. Returns the used index. */
    const oneRequest = (): number => {
      view.setUint16(0, 0, true);
      mem.write((q.avail + 4 + 2 * (avail % q.size)) as GuestPhysAddr, two);
      avail = (avail + 1) & 0xffff;
      view.setUint16(0, avail, true);
      mem.write((q.avail + 2) as GuestPhysAddr, two);
      view.setUint16(0, 0, true);
      mem.write(notifyAddr as GuestPhysAddr, two);
      mem.read((q.used + 2) as GuestPhysAddr, ram);
      return rv.getUint16(0, true);
    };
    check(oneRequest() === 1, 'the first request completed');
    check(d.readb(status) === 0, 'the first request succeeded');
    const got = d.memread(data, PAGE);
    check(
      got.every((b, i) => b === img[8 * SECTOR + i]),
      'the image bytes arrived in guest RAM',
    );

    const src = img.subarray(0, PAGE);
    const dst = new Uint8Array(PAGE);
    const baseline: BenchCase = {
      name: 'virtio.copy.4096.baseline',
      inner: INNER,
      run(n) {
        let s = 0;
        for (let i = 0; i < n; i++) {
          dst.set(src);
          s = (s + dst[i & 0xff]!) | 0;
        }
        return s;
      },
    };
    const ours: BenchCase = {
      name: 'virtio.blk.read.4096',
      inner: INNER,
      run(n) {
        let s = 0;
        for (let i = 0; i < n; i++) s = (s + oneRequest()) | 0;
        return s;
      },
    };
    const m = ctx.measure([baseline, ours]);
    check(d.readb(status) === 0, 'every timed request succeeded');
    emu.close();
    const net = await netFrame(ctx);
    const metrics: Metric[] = [
      {
        name: 'virtio.blk.req.ns',
        value: m.paired(costRatio, 'virtio.blk.read.4096', 'virtio.copy.4096.baseline'),
        unit: 'ratio',
        better: 'lower',
        detail:
          'one 4 KiB virtio-blk read request end to end (ring, walk, file read, DMA, used) ns / raw 4 KiB copy ns',
      },
      {
        name: 'virtio.blk.req.abs.ns',
        value: m.ns('virtio.blk.read.4096'),
        unit: 'ns/op',
        better: 'lower',
        detail: 'the same request, absolute (for reading, not compared)',
      },
      ...net,
    ];
    return metrics;
  },
};

/** The queue-0 notify address: BAR 4 + the notify capability's offset (notify_off 0). */
function findNotify(d: ReturnType<typeof createDriver>): number {
  const dev = d.pciFind(0x1af4, 0x1042)!;
  for (let p = dev.configRead(0x34, 1); p !== 0; p = dev.configRead(p + 1, 1)) {
    if (dev.configRead(p, 1) === 0x09 && dev.configRead(p + 3, 1) === 2) {
      const bar = (dev.configRead(0x10 + 4 * dev.configRead(p + 4, 1), 4) & ~0xf) >>> 0;
      return bar + dev.configRead(p + 8, 4);
    }
  }
  throw new Error('no notify capability');
}

const FRAME = 1500;
/** virtio_net_hdr_v1. */
const NET_HDR = 12;

/** `virtio.net.frame.ns`: one frame NIC to NIC through the hub (see the file's comment). */
async function netFrame(ctx: Parameters<Suite['run']>[0]): Promise<Metric[]> {
  ctx.log('building and loading the bundled virtio-net-pci plugin (trusted)');
  const plugin = await loadBundled(new PluginHost(), 'virtio-net-pci', 'trusted');
  const hub = new NetHub({ latencyNs: 0 });
  const ports = [hub.port('n0'), hub.port('n1')];
  const emu = new Emulator({
    machine: bareMachine(),
    ramSize: 64 << 20,
    log: () => {},
    backends: { netdevs: new Map(ports.map((p) => [p.id, p])) },
  });
  for (const [i, p] of ports.entries())
    emu.addDevice(plugin, {
      id: `net${i}`,
      options: { netdev: p.id, mac: `52:54:00:00:00:0${i + 1}` },
    });
  const d = createDriver(emu);
  const fns = d.pciDevices().filter((f) => f.vendorId === 0x1af4 && f.deviceId === 0x1041);
  const [a, b] = fns.map((f, i) => virtioPciGuest(d, f, 0x100000 + i * 0x400000));
  const nics = [a!, b!].map((g) => {
    check(g.negotiate(1n << BigInt(VIRTIO_F.VERSION_1)), 'FEATURES_OK');
    const rx = g.setupQueue(0);
    const tx = g.setupQueue(1);
    g.driverOk();
    return { g, rx, tx };
  });
  const [sender, receiver] = nics as [(typeof nics)[0], (typeof nics)[0]];
  const frame = Uint8Array.from({ length: FRAME }, (_, i) => (i * 13) & 0xff);
  frame.set([0x52, 0x54, 0, 0, 0, 2, 0x52, 0x54, 0, 0, 0, 1, 0x08, 0x00]);
  const txBuf = sender.g.alloc(NET_HDR + FRAME);
  d.memwrite(txBuf, new Uint8Array(NET_HDR));
  d.memwrite(txBuf + NET_HDR, frame);
  sender.tx.writeDesc(0, { addr: txBuf, len: NET_HDR + FRAME, flags: 0, next: 0 });
  const rxBuf = receiver.g.alloc(2048);
  receiver.rx.writeDesc(0, { addr: rxBuf, len: 2048, flags: 2, next: 0 });
  receiver.rx.publish(0);
  receiver.g.notify(0);
  const clock = emu.machine.clock;
  // Guest accesses as the blk case makes them: ring words and the notify register written
  // straight into the address space, the notify address found once as a driver finds it.
  const mem = emu.machine.memory;
  const txNotify = notifyAddress(d, fns[0]!, 1);
  const word = new Uint8Array(2);
  const wv = new DataView(word.buffer);
  const put16 = (addr: number, v: number) => {
    wv.setUint16(0, v, true);
    mem.write(addr as GuestPhysAddr, word);
  };
  const get16 = (addr: number) => {
    mem.read(addr as GuestPhysAddr, word);
    return wv.getUint16(0, true);
  };
  let txAvail = 0;
  let rxAvail = 1;
  /** One frame: transmit, deliver, receive, repost; returns the receive queue's used index. */
  const oneFrame = (): number => {
    const tq = sender.tx;
    put16(tq.avail + 4 + 2 * (txAvail % tq.size), 0);
    txAvail = (txAvail + 1) & 0xffff;
    put16(tq.avail + 2, txAvail);
    put16(txNotify, 1);
    clock.step(0);
    const rq = receiver.rx;
    put16(rq.avail + 4 + 2 * (rxAvail % rq.size), 0);
    rxAvail = (rxAvail + 1) & 0xffff;
    put16(rq.avail + 2, rxAvail);
    return get16(rq.used + 2);
  };
  check(oneFrame() === 1, 'the first frame arrived');
  check(
    d.memread(rxBuf + NET_HDR, FRAME).every((x, i) => x === frame[i]),
    'the frame arrived intact',
  );
  const dst = new Uint8Array(FRAME);
  const m = ctx.measure([
    {
      name: 'virtio.copy.1500.baseline',
      inner: INNER,
      run(n) {
        let s = 0;
        for (let i = 0; i < n; i++) {
          dst.set(frame);
          s = (s + dst[i & 0xff]!) | 0;
        }
        return s;
      },
    },
    {
      name: 'virtio.net.frame.1500',
      inner: INNER,
      run(n) {
        let s = 0;
        for (let i = 0; i < n; i++) s = (s + oneFrame()) | 0;
        return s;
      },
    },
  ]);
  check(ports[0]!.stats.dropped + ports[1]!.stats.dropped === 0, 'no frame was dropped');
  check(ports[1]!.stats.rx === ports[0]!.stats.tx, 'every frame sent arrived');
  emu.close();
  return [
    {
      name: 'virtio.net.frame.ns',
      value: m.paired(costRatio, 'virtio.net.frame.1500', 'virtio.copy.1500.baseline'),
      unit: 'ratio',
      better: 'lower',
      detail:
        'one 1500-byte frame NIC to NIC (TX ring and DMA, hub, delivery timer, RX ring and DMA) ns / raw 1500-byte copy ns',
    },
    {
      name: 'virtio.net.frame.abs.ns',
      value: m.ns('virtio.net.frame.1500'),
      unit: 'ns/op',
      better: 'lower',
      detail: 'the same frame, absolute (for reading, not compared)',
    },
  ];
}

/** Where queue `q` of a virtio-pci function is notified: BAR + notify offset + off * multiplier. */
function notifyAddress(
  d: ReturnType<typeof createDriver>,
  dev: ReturnType<ReturnType<typeof createDriver>['pciDevices']>[number],
  q: number,
): number {
  let common = 0;
  let notify = 0;
  let mult = 0;
  const bar = (i: number) => (dev.configRead(0x10 + 4 * i, 4) & ~0xf) >>> 0;
  for (let p = dev.configRead(0x34, 1); p !== 0; p = dev.configRead(p + 1, 1)) {
    if (dev.configRead(p, 1) !== 0x09) continue;
    const type = dev.configRead(p + 3, 1);
    const at = bar(dev.configRead(p + 4, 1)) + dev.configRead(p + 8, 4);
    if (type === 1) common = at;
    if (type === 2) {
      notify = at;
      mult = dev.configRead(p + 16, 4);
    }
  }
  if (common === 0 || notify === 0) throw new Error('no common or notify capability');
  d.writew(common + 0x16, q);
  return notify + d.readw(common + 0x1e) * mult;
}
