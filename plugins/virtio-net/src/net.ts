/**
 * The virtio-net model (virtio 1.2, 5.1): one receive and one transmit queue, each buffer a
 * 12-byte `virtio_net_hdr_v1` and an Ethernet frame, moved between the guest's rings and the
 * host's network backend.
 *
 * Transmit (queue 1) runs in the driver's notify: every chain's frame is read, handed to the
 * backend and the chain given back. Receive (queue 0) is the backend's: `canReceive` pops
 * receive buffers and keeps them in flight until a frame fills them (so they are in the saved
 * state, and a reload finds them with `host.inflight`); with MRG_RXBUF one frame may take
 * several buffers, and the device holds enough for the largest frame it accepts before it
 * says it can receive.
 *
 * What the spec says of bad requests, as QEMU does it: a transmit chain shorter than the
 * header needs a reset (virtio_error: "virtio-net header incorrect"); a frame longer than the
 * MTU (plus the Ethernet header and a VLAN tag) or shorter than an Ethernet header is
 * dropped, its buffer given back; a received frame that does not fit the buffers is dropped
 * and the buffers kept; a buffer the device cannot reach (an IOMMU fault) fails that frame.
 */
import type { NetBackend, NetFrontend } from '@emuhost/sdk';
import {
  bit,
  type Chain,
  sgRead,
  sgWrite,
  type VirtioDevice,
  type VirtioHost,
} from '@emuhost/virtio';

/** Feature bits (5.1.3). */
export const NET_F = { MTU: 3, MAC: 5, MRG_RXBUF: 15, STATUS: 16 } as const;
/** Configuration status bits. */
export const NET_S = { LINK_UP: 1 } as const;
/** struct virtio_net_config offsets (5.1.4). */
export const NET_CONFIG = { MAC: 0, STATUS: 6, MAX_PAIRS: 8, MTU: 10, SIZE: 12 } as const;
/** The header of every buffer with VERSION_1: struct virtio_net_hdr_v1 (5.1.6). */
export const NET_HDR_LEN = 12;
/** num_buffers' offset in the header. */
const NUM_BUFFERS = 10;
/** An Ethernet header with a VLAN tag: what a frame may carry beyond the MTU. */
const ETH_OVERHEAD = 18;
/** The smallest frame: an Ethernet header. */
const ETH_MIN = 14;
/** The largest frame without an MTU: what QEMU takes from a guest (64 KiB, with TSO). */
const NO_MTU_MAX = 65535 + ETH_OVERHEAD;
export const RX = 0;
export const TX = 1;

export interface NetConfig {
  /** 6 bytes. */
  readonly mac: Uint8Array;
  /** `host_mtu`: offer VIRTIO_NET_F_MTU with it; undefined: not offered. */
  readonly mtu: number | undefined;
  readonly mrgRxbuf: boolean;
  readonly status: boolean;
  readonly rxQueueSize: number;
  readonly txQueueSize: number;
}

/** What survives a reload: the MAC (a default one was given out once) and the counters. */
export interface NetState {
  readonly mac: string;
  /** DRIVER_OK was set: the held receive buffers may be filled. */
  readonly driverOk: boolean;
  readonly stats: { readonly tx: number; readonly rx: number; readonly dropped: number };
}

export const macText = (m: Uint8Array): string =>
  [...m].map((b) => b.toString(16).padStart(2, '0')).join(':');

/** A backend for a NIC with no `netdev=`: what it sends goes nowhere (QEMU warns the same). */
const NO_PEER: NetBackend = Object.freeze({
  id: '',
  send: () => {},
  connect: () => {},
  ready: () => {},
});

export function createNet(
  host: VirtioHost,
  backend: NetBackend | undefined,
  cfg: NetConfig,
  saved: NetState | undefined,
): VirtioDevice {
  const { dma } = host;
  const net = backend ?? NO_PEER;
  const config = new Uint8Array(NET_CONFIG.SIZE);
  const view = new DataView(config.buffer);
  config.set(cfg.mac, NET_CONFIG.MAC);
  view.setUint16(NET_CONFIG.MAX_PAIRS, 1, true);
  if (cfg.mtu !== undefined) view.setUint16(NET_CONFIG.MTU, cfg.mtu, true);
  let linkUp = net.linkUp ?? true;
  view.setUint16(NET_CONFIG.STATUS, linkUp ? NET_S.LINK_UP : 0, true);
  const maxFrame = cfg.mtu === undefined ? NO_MTU_MAX : cfg.mtu + ETH_OVERHEAD;
  /** Bytes of receive buffer held before a frame is accepted (MRG_RXBUF): a full-size frame. */
  const rxNeed = NET_HDR_LEN + (cfg.mtu === undefined ? 1500 : cfg.mtu) + ETH_OVERHEAD;
  const stats = {
    tx: saved?.stats.tx ?? 0,
    rx: saved?.stats.rx ?? 0,
    dropped: saved?.stats.dropped ?? 0,
  };
  let features = bit(NET_F.MAC);
  if (cfg.mrgRxbuf) features |= bit(NET_F.MRG_RXBUF);
  if (cfg.status) features |= bit(NET_F.STATUS);
  if (cfg.mtu !== undefined) features |= bit(NET_F.MTU);

  let driverOk = saved?.driverOk ?? false;
  /** Receive buffers popped and not yet filled, in ring order. */
  let posted: Chain[] = [];
  let postedBytes = 0;
  const txBuf = new Uint8Array(NET_HDR_LEN + NO_MTU_MAX);
  const rxBuf = new Uint8Array(NET_HDR_LEN + NO_MTU_MAX);

  // After a restore the buffers in flight are the receive buffers the device held; the
  // queues exist only once the model is made, so they are found at first use.
  let restored = saved === undefined;
  const restore = () => {
    restored = true;
    for (const head of host.inflight(RX)) {
      const c = host.rewalk(RX, head);
      if (c !== undefined) {
        posted.push(c);
        postedBytes += c.inLen;
      }
    }
  };

  const mrg = () => host.negotiated(NET_F.MRG_RXBUF);

  /** Pops receive buffers until a frame of `rxNeed` bytes fits (one buffer without MRG_RXBUF). */
  const fill = (): boolean => {
    if (!restored) restore();
    while (mrg() ? postedBytes < rxNeed : posted.length < 1) {
      const c = host.pop(RX);
      if (c === undefined) return false;
      posted.push(c);
      postedBytes += c.inLen;
    }
    return true;
  };

  const transmit = () => {
    for (;;) {
      const c = host.pop(TX);
      if (c === undefined) return;
      if (c.outLen < NET_HDR_LEN) {
        host.fail(`virtio-net header incorrect (a transmit chain of ${c.outLen} bytes)`);
        return;
      }
      const len = c.outLen - NET_HDR_LEN;
      if (len < ETH_MIN || len > maxFrame) {
        stats.dropped++;
        host.complete(TX, c.head, 0);
        continue;
      }
      const r = sgRead(dma, c.out, NET_HDR_LEN, txBuf.subarray(0, len));
      if (r.error !== undefined || r.transferred < len) stats.dropped++;
      else if (!linkUp) stats.dropped++;
      else {
        stats.tx++;
        net.send(txBuf.subarray(0, len));
      }
      host.complete(TX, c.head, 0);
    }
  };

  /** Writes `frame` into the held buffers, or drops it. */
  const receive = (frame: Uint8Array) => {
    if (!restored) restore();
    const total = NET_HDR_LEN + frame.length;
    if (frame.length > maxFrame) return drop();
    // The buffers this frame takes: the first alone without MRG_RXBUF, else as many as needed.
    let count = 0;
    if (!mrg()) count = posted[0] !== undefined && posted[0].inLen >= total ? 1 : 0;
    else if (postedBytes >= total)
      for (let room = 0; room < total; count++) room += posted[count]!.inLen;
    if (count === 0) return drop();
    const use = posted.slice(0, count);
    posted = posted.slice(count);
    for (const c of use) postedBytes -= c.inLen;
    // Header (num_buffers: how many) and frame are one stream of bytes across the buffers.
    const pkt = rxBuf.subarray(0, total);
    pkt.fill(0, 0, NET_HDR_LEN);
    pkt[NUM_BUFFERS] = count;
    pkt[NUM_BUFFERS + 1] = count >> 8;
    pkt.set(frame, NET_HDR_LEN);
    let at = 0;
    let ok = true;
    const lens: number[] = [];
    for (const c of use) {
      const n = Math.min(c.inLen, total - at);
      ok &&= write(c, 0, pkt.subarray(at, at + n));
      lens.push(ok ? n : 0);
      at += n;
    }
    for (const [i, c] of use.entries()) host.complete(RX, c.head, lens[i]!);
    if (ok) stats.rx++;
    else stats.dropped++;
  };

  const write = (c: Chain, offset: number, data: Uint8Array): boolean => {
    const w = sgWrite(dma, c.in, offset, data);
    return w.error === undefined && w.transferred === data.length;
  };
  const drop = () => {
    stats.dropped++;
  };

  const frontend: NetFrontend = {
    canReceive: () => driverOk && linkUp && fill(),
    receive,
    linkChanged(up: boolean) {
      linkUp = up;
      view.setUint16(NET_CONFIG.STATUS, up ? NET_S.LINK_UP : 0, true);
      if (cfg.status) host.configChanged();
    },
    mac: () => macText(cfg.mac),
  };
  net.connect(frontend);

  return {
    features,
    queueSizes: [cfg.rxQueueSize, cfg.txQueueSize],
    config,
    driverOk() {
      driverOk = true;
      net.ready();
    },
    queueNotify(q: number) {
      if (q === TX) transmit();
      else if (q === RX) {
        // Held at once, so a malformed ring is found when the driver posts it, as the
        // transmit side finds its own.
        if (driverOk) fill();
        net.ready();
      }
    },
    reset() {
      driverOk = false;
      restored = true;
      posted = [];
      postedBytes = 0;
    },
    saveState: (): NetState => ({ mac: macText(cfg.mac), driverOk, stats: { ...stats } }),
  };
}
