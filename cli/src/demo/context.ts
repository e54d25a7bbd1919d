/**
 * What the demo's steps share: the machine, the driver that acts as its guest OS, what earlier
 * steps found or built (the edu device, the VT-d driver, the mappings), and what the kernel
 * reported through its hooks. The hooks are tapped here, once, so any step can show what the
 * kernel saw while it ran: each DMA piece with the address it was translated to, each IOMMU
 * fault.
 */
import type { DmaTraceEvent, IommuFaultEvent } from '@emuhost/core';
import type { Emulator } from '@emuhost/host';
import { createDriver, type Driver } from '@emuhost/testing/drivers';
import type { EduDriver } from './edu.js';
import type { DemoTarget } from './machine.js';
import type { StepOutput } from './report.js';
import type { VtdGuest } from './vtd.js';

/** One step of the demo: a heading, then `run` prints its results (see report.ts). */
export interface DemoStep {
  readonly title: string;
  run(demo: DemoContext, out: StepOutput): void;
}

/** One IOVA page the guest mapped for edu, and the guest-physical page behind it. */
export interface Mapping {
  readonly iova: number;
  readonly gpa: number;
}

export class DemoContext {
  readonly drv: Driver;
  readonly faults: IommuFaultEvent[] = [];
  readonly transfers: DmaTraceEvent[] = [];
  /** Set by the enumeration step. */
  edu: EduDriver | undefined;
  /** edu's requester id (bus << 8 | devfn), set by the enumeration step. */
  eduRid = 0;
  /** Set by the IOMMU step. */
  vtd: VtdGuest | undefined;
  /** The VT-d domain edu was put in. */
  readonly domain = 1;
  readonly mappings: Mapping[] = [];

  constructor(
    readonly emu: Emulator,
    readonly target: DemoTarget,
  ) {
    this.drv = createDriver(emu);
    const hooks = emu.machine.hooks;
    hooks.iommu.fault.tap('emuhost:demo', (e) => this.faults.push(e));
    hooks.dma.transfer.tap('emuhost:demo', (e) => this.transfers.push(e));
  }

  /** The edu driver; a step that needs it runs after enumeration found the device. */
  get eduDriver(): EduDriver {
    if (this.edu === undefined) throw new Error('edu was not found: enumeration has not run');
    return this.edu;
  }

  get vtdGuest(): VtdGuest {
    if (this.vtd === undefined) throw new Error('VT-d is not programmed: its step has not run');
    return this.vtd;
  }
}
