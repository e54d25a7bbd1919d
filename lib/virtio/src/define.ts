/**
 * `defineVirtioDevice`: a virtio device model as an emuhost device plugin. It makes the
 * plugin definition (the virtio-pci identity, `platform: true` for virtio-mmio, the options
 * every virtio device takes with QEMU's names and meanings), picks the transport by where the
 * host placed the device (a PCI function: virtio-pci; the platform bus: a virtio-mmio slot),
 * and keeps the whole device (status, features, queues with their in-flight requests, the
 * transport's registers, the model's own state) in the plugin's saved state, so that a hot
 * reload in the middle of a request loses nothing.
 */
import {
  type DeviceContext,
  type DeviceModel,
  type DevicePluginDefinition,
  definePlugin,
  type OptionSpec,
} from '@emuhost/sdk';
import { type CoreState, VirtioCore, type VirtioDevice, type VirtioHost } from './core.js';
import { MmioTransport, type MmioTransportState } from './mmio.js';
import { PciTransport, type PciTransportState } from './pci.js';

/** The PCI vendor of virtio devices (Red Hat, Inc., formerly Qumranet). */
export const VIRTIO_PCI_VENDOR = 0x1af4;
/** A modern (virtio 1.x) device's PCI device id: 0x1040 + the virtio device id. */
export const VIRTIO_PCI_MODERN_BASE = 0x1040;

export interface VirtioDeviceDefinition<S> {
  /** The virtio device id (2: block, 4: entropy...). */
  readonly deviceId: number;
  /** The PCI class code (QEMU's: block 0x010000, entropy 0xff0000). */
  readonly pciClass: number;
  /** The device's own options (QEMU's property names); the common ones are added. */
  readonly options?: Readonly<Record<string, OptionSpec>>;
  /** Version of the whole saved state; bump when the model's state changes shape. */
  readonly stateVersion?: number;
  migrateState?(fromVersion: number, data: unknown): unknown;
  /** Makes the model; `saved` is what its `saveState` returned, or undefined. */
  create(host: VirtioHost, saved: S | undefined): VirtioDevice;
}

/** The options every virtio device accepts, as QEMU spells them. */
export const COMMON_OPTIONS: Readonly<Record<string, OptionSpec>> = Object.freeze({
  iommu_platform: {
    type: 'boolean',
    default: false,
    description:
      'offer VIRTIO_F_ACCESS_PLATFORM: the driver must accept it and the device then DMAs through the IOMMU; without it the device bypasses the IOMMU, as in QEMU',
  },
  'disable-legacy': {
    type: 'string',
    default: 'auto',
    description:
      'on or auto: a modern-only device (emuhost implements no legacy virtio, so off is refused)',
  },
  'disable-modern': {
    type: 'boolean',
    default: false,
    description: 'must stay off: emuhost implements only the modern (virtio 1.x) interface',
  },
  event_idx: {
    type: 'boolean',
    default: true,
    description: 'offer VIRTIO_RING_F_EVENT_IDX (notification suppression by ring index)',
  },
  indirect_desc: {
    type: 'boolean',
    default: true,
    description: 'offer VIRTIO_RING_F_INDIRECT_DESC (descriptor chains in indirect tables)',
  },
  vectors: {
    type: 'number',
    description:
      'virtio-pci: MSI-X vectors (default: one per queue plus one for configuration; 0: INTx only)',
  },
});

interface SavedVirtio {
  readonly core: CoreState;
  readonly transport: PciTransportState | MmioTransportState;
  readonly device: unknown;
}

/** Checks the options QEMU would refuse for a modern-only device; throws a plain message. */
function checkTransportOptions(ctx: DeviceContext): void {
  const legacy = String(ctx.options['disable-legacy'] ?? 'auto').toLowerCase();
  if (!['on', 'auto', 'true', 'yes'].includes(legacy))
    throw new Error(
      `disable-legacy=${legacy}: emuhost implements only modern virtio (virtio 1.x); use disable-legacy=on (or auto)`,
    );
  if (ctx.options['disable-modern'] === true)
    throw new Error(
      'disable-modern=on: emuhost implements only modern virtio (virtio 1.x), so the device would have no interface',
    );
}

export function defineVirtioDevice<S = unknown>(
  def: VirtioDeviceDefinition<S>,
): DevicePluginDefinition {
  return definePlugin({
    kind: 'device',
    pci: {
      vendorId: VIRTIO_PCI_VENDOR,
      deviceId: VIRTIO_PCI_MODERN_BASE + def.deviceId,
      revision: 1,
      classCode: def.pciClass,
      subsystemVendorId: VIRTIO_PCI_VENDOR,
      subsystemId: 0x1100,
      interruptPin: 1,
    },
    platform: true,
    options: { ...COMMON_OPTIONS, ...def.options },
    stateVersion: def.stateVersion ?? 1,
    ...(def.migrateState !== undefined && { migrateState: def.migrateState }),
    create(ctx: DeviceContext, state: unknown): DeviceModel {
      checkTransportOptions(ctx);
      const saved = state as SavedVirtio | undefined;
      const core = new VirtioCore(
        ctx,
        {
          iommuPlatform: ctx.options.iommu_platform === true,
          eventIdx: ctx.options.event_idx !== false,
          indirectDesc: ctx.options.indirect_desc !== false,
        },
        (host) => def.create(host, saved?.device as S | undefined),
      );
      if (saved !== undefined) core.load(saved.core);
      let transport: PciTransport | MmioTransport;
      if (ctx.pci !== undefined) {
        const v = ctx.options.vectors;
        const vectors = typeof v === 'number' ? v : core.queues.length + 1;
        transport = new PciTransport(
          ctx,
          core,
          vectors,
          saved?.transport as PciTransportState | undefined,
        );
      } else {
        transport = new MmioTransport(
          ctx,
          core,
          def.deviceId,
          saved?.transport as MmioTransportState | undefined,
        );
      }
      return {
        reset() {
          core.reset();
          transport.reset();
        },
        saveState: (): SavedVirtio => ({
          core: core.save(),
          transport: transport.save(),
          device: core.device.saveState?.(),
        }),
      };
    },
  });
}
