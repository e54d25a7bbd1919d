/**
 * virtio-net-pci / virtio-net-device: QEMU's virtio network card (hw/net/virtio-net.c) as an
 * emuhost plugin, on virtio-pci modern (PCI 1af4:1041, class 0x020000) or, as
 * `virtio-net-device`, a machine's virtio-mmio slot.
 *
 *   -netdev hub,id=n0,path=/tmp/lan.sock     (or stream,...; see the host's backends)
 *   -device virtio-net-pci,netdev=n0[,mac=52:54:00:12:34:56][,host_mtu=1500]
 *
 * Properties, with QEMU's names and defaults: `netdev` (without it the NIC has no peer and
 * what it sends is lost, as in QEMU), `mac` (default 52:54:00:12:34:56 for the first NIC this
 * plugin makes in the process, :57 for the next..., as QEMU's qemu_macaddr_default_if_unset),
 * `host_mtu` (offer VIRTIO_NET_F_MTU), `mrg_rxbuf` and `status` (on), `rx_queue_size` and
 * `tx_queue_size` (256), and every virtio device's `iommu_platform`, `disable-legacy`,
 * `event_idx`, `indirect_desc`, `vectors` (see @emuhost/virtio). The model is `net.ts`.
 */
import { DEVICE_ID, defineVirtioDevice } from '@emuhost/virtio';
import { createNet, type NetState } from './net.js';

/** NICs given a default MAC so far in this realm (QEMU counts per process). */
let defaultMacs = 0;

/** `52:54:00:12:34:56` -> bytes; throws a QEMU-worded message for anything else. */
export function parseMac(text: string): Uint8Array {
  const m =
    /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i.exec(
      text,
    );
  if (m === null)
    throw new Error(`virtio-net: Property 'mac' doesn't take value '${text}' (52:54:00:12:34:56)`);
  const b = Uint8Array.from(m.slice(1, 7), (h) => Number.parseInt(h, 16));
  if (b[0]! & 1)
    throw new Error(`virtio-net: mac=${text} is a multicast address (the first byte must be even)`);
  return b;
}

const queueSize = (name: string, v: unknown): number => {
  const n = v as number;
  if (!Number.isInteger(n) || n < 256 || n > 1024 || (n & (n - 1)) !== 0)
    throw new Error(`virtio-net: ${name} must be a power of 2 in 256..1024 (as QEMU), not ${n}`);
  return n;
};

export default defineVirtioDevice<NetState>({
  deviceId: DEVICE_ID.NET,
  pciClass: 0x020000,
  options: {
    netdev: { type: 'string', description: 'the -netdev id the NIC is plugged into' },
    mac: { type: 'string', description: 'the MAC address (default 52:54:00:12:34:56 + n)' },
    host_mtu: {
      type: 'number',
      description: 'offer VIRTIO_NET_F_MTU with this MTU (68..65535); default: not offered',
    },
    mrg_rxbuf: {
      type: 'boolean',
      default: true,
      description: 'offer VIRTIO_NET_F_MRG_RXBUF (a frame may span receive buffers)',
    },
    status: {
      type: 'boolean',
      default: true,
      description: 'offer VIRTIO_NET_F_STATUS (link up/down, set_link)',
    },
    rx_queue_size: { type: 'number', default: 256, description: 'receive queue size' },
    tx_queue_size: { type: 'number', default: 256, description: 'transmit queue size' },
  },
  stateVersion: 1,
  create(host, saved) {
    const o = host.ctx.options;
    const mtu = o.host_mtu as number | undefined;
    if (mtu !== undefined && (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535))
      throw new Error(`virtio-net: host_mtu must be 68..65535, not ${mtu}`);
    let mac: Uint8Array;
    if (saved !== undefined) mac = parseMac(saved.mac);
    else if (typeof o.mac === 'string' && o.mac !== '') mac = parseMac(o.mac);
    else mac = Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, (0x56 + defaultMacs++) & 0xff);
    const id = typeof o.netdev === 'string' && o.netdev !== '' ? o.netdev : undefined;
    if (id === undefined) host.ctx.log.warn('virtio-net: no netdev= given: the NIC has no peer');
    return createNet(
      host,
      id === undefined ? undefined : host.ctx.netdev!(id),
      {
        mac,
        mtu,
        mrgRxbuf: o.mrg_rxbuf !== false,
        status: o.status !== false,
        rxQueueSize: queueSize('rx_queue_size', o.rx_queue_size),
        txQueueSize: queueSize('tx_queue_size', o.tx_queue_size),
      },
      saved,
    );
  },
});
