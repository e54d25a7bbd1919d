/**
 * The platform bus: where non-PCI devices live. Their MMIO sits at fixed guest-physical
 * addresses, their interrupts are wired to controller inputs, and they get DMA contexts from
 * the platform, identified by a stream ID (as an SMMU sees platform masters), so that an IOMMU
 * can translate them exactly as it translates PCI devices.
 */
import type { DmaContextImpl } from '../dma/dma-context.js';
import type { DmaRegistry } from '../dma/registry.js';
import type { DeviceGuard } from '../guard.js';
import type { MemoryRegion } from '../memory/region.js';

export class PlatformBus {
  private nextStream = 0;

  constructor(
    readonly name: string,
    /** Where platform MMIO is placed (normally the system memory root). */
    readonly memory: MemoryRegion,
    private readonly dma: DmaRegistry,
  ) {}

  /** A DMA context for a platform device; stream IDs are handed out in order unless given. */
  createDmaContext(device: string, guard: DeviceGuard | null, streamId?: number): DmaContextImpl {
    const requesterId = streamId ?? this.nextStream++;
    return this.dma.createContext({
      device,
      bus: this.name,
      requesterId,
      ...(guard !== null && { guard }),
    });
  }
}
