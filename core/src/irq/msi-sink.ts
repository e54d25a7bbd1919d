/**
 * Where message-signalled interrupts land: an MMIO window (0xfee00000 on x86) that takes
 * 4-byte writes and records each as a message. An MSI is a DMA write of the device, so it
 * goes through the device's DMA context (bus-master gate, IOMMU) before it gets here, as in
 * QEMU's msi_send_message.
 */
import type { MemTxAttrs, MmioOps } from '@emuhost/sdk';
import type { MemorySystem } from '../memory/memory-system.js';
import type { MemoryRegion } from '../memory/region.js';

export interface MsiMessage {
  /** The guest-physical address written. */
  readonly address: number;
  readonly data: number;
  readonly requesterId: number | undefined;
}

export type MsiObserver = (m: MsiMessage) => void;

/** Messages kept for inspection. */
const KEEP = 256;

export class MsiSink {
  readonly region: MemoryRegion;
  readonly messages: MsiMessage[] = [];
  private readonly observers = new Set<MsiObserver>();

  constructor(
    ms: MemorySystem,
    name: string,
    readonly base: number,
    size = 0x100000,
  ) {
    const ops: MmioOps = {
      read: () => 0,
      write: (offset: number, _size, value, attrs: MemTxAttrs) => {
        this.deliver({
          address: base + offset,
          data: Number(value),
          requesterId: attrs.requesterId,
        });
        return undefined;
      },
    };
    this.region = ms.createMmio(name, size, ops, {
      valid: { min: 4, max: 4 },
      impl: { min: 4, max: 4 },
    });
  }

  observe(o: MsiObserver): () => void {
    this.observers.add(o);
    return () => this.observers.delete(o);
  }

  private deliver(m: MsiMessage): void {
    if (this.messages.length >= KEEP) this.messages.shift();
    this.messages.push(m);
    for (const o of this.observers) o(m);
  }
}
