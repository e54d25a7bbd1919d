/**
 * A PCI bus: 32 slots of 8 functions, configuration access by (devfn, offset), the address
 * spaces its BARs decode into, INTx routing toward the host bridge, and the DMA contexts of
 * its functions (one per requester ID, bus << 8 | devfn).
 *
 * INTx lines are wired-OR: each of the bus's four interrupt lines is asserted while any
 * function routed to it asserts its pin. `route` maps (slot, pin) to one of those lines
 * (the standard swizzle by default); the host bridge decides where the lines go.
 */
import { EmuhostError } from '@emuhost/sdk';
import type { DmaRegistry } from '../dma/registry.js';
import type { DeviceGuard } from '../guard.js';
import type { MemoryRegion } from '../memory/region.js';
import { PCI_CFG, PCI_HEADER_MULTIFUNCTION } from './config-space.js';
import { PciFunction, type PciFunctionHost, type PciFunctionSpec } from './pci-function.js';

export interface PciBusOptions {
  /** The bus number (root bus: 0). */
  readonly number?: number;
  /** Where memory BARs are mapped (the machine maps this into system memory). */
  readonly memory: MemoryRegion;
  /** Where I/O BARs are mapped (on x86, the port I/O space's root). */
  readonly io: MemoryRegion;
  readonly dma: DmaRegistry;
  /** Which of the 4 bus lines a function's pin (1 = INTA) drives. Default: the standard swizzle. */
  readonly route?: (slot: number, pin: number) => number;
  /** Called when a bus line's wired-OR level changes. */
  readonly setIrq?: (line: number, level: 0 | 1) => void;
  /** The first slot automatic placement uses (pc: 2, q35: 1). Default 0. */
  readonly firstSlot?: number;
}

/** The standard interrupt swizzle: INTA of slot s drives line (s + 0) % 4, INTB (s + 1) % 4... */
export const swizzle = (slot: number, pin: number): number => (slot + pin - 1) % 4;

export class PciBus implements PciFunctionHost {
  readonly number: number;
  readonly memory: MemoryRegion;
  readonly io: MemoryRegion;
  readonly firstSlot: number;
  private readonly functions: (PciFunction | undefined)[] = new Array(256);
  /** How many functions assert each of the 4 lines. */
  private readonly lineCounts = [0, 0, 0, 0];
  private readonly route: (slot: number, pin: number) => number;
  /** Where the line levels go; set by the host bridge after construction if not given. */
  setIrq: (line: number, level: 0 | 1) => void;

  constructor(
    readonly name: string,
    private readonly opts: PciBusOptions,
  ) {
    this.number = opts.number ?? 0;
    this.memory = opts.memory;
    this.io = opts.io;
    this.route = opts.route ?? swizzle;
    this.firstSlot = opts.firstSlot ?? 0;
    this.setIrq = opts.setIrq ?? (() => {});
  }

  /** Creates a function at `devfn` with its DMA context; it appears on the bus at once. */
  attach(
    id: string,
    devfn: number,
    spec: PciFunctionSpec,
    guard: DeviceGuard | null = null,
  ): PciFunction {
    if (!Number.isInteger(devfn) || devfn < 0 || devfn > 255) {
      throw new EmuhostError('E_BAD_ARGUMENT', `devfn must be 0..255, not ${devfn}`, {
        device: id,
      });
    }
    if (this.functions[devfn] !== undefined) {
      throw new EmuhostError(
        'E_DUPLICATE_ID',
        `${this.name} ${formatDevfn(devfn)} is taken by '${this.functions[devfn]!.id}'`,
        {
          device: id,
        },
      );
    }
    const requesterId = (this.number << 8) | devfn;
    const dma = this.opts.dma.createContext({
      device: id,
      bus: this.name,
      requesterId,
      ...(guard !== null && { guard }),
    });
    const fn = new PciFunction(this, id, devfn, spec, dma, guard);
    this.functions[devfn] = fn;
    this.updateMultifunction(devfn >> 3);
    return fn;
  }

  /** Removes a function: BARs unmapped, INTx lowered, DMA context revoked. */
  detach(fn: PciFunction): void {
    if (this.functions[fn.devfn] !== fn) return;
    fn.release();
    this.opts.dma.releaseContext(fn.dma);
    this.functions[fn.devfn] = undefined;
    this.updateMultifunction(fn.slot);
  }

  find(devfn: number): PciFunction | undefined {
    return this.functions[devfn];
  }

  /** Every function, in devfn order. */
  list(): PciFunction[] {
    return this.functions.filter((f): f is PciFunction => f !== undefined);
  }

  /** The first free slot at or after `from` (function 0 free), or undefined. */
  freeSlot(from = 0): number | undefined {
    for (let s = from; s < 32; s++) {
      if (this.functions.slice(s * 8, s * 8 + 8).every((f) => f === undefined)) return s;
    }
    return undefined;
  }

  /** A config read; an absent function reads all-ones, as on hardware. */
  configRead(devfn: number, offset: number, size: number): number {
    const fn = this.functions[devfn];
    if (fn === undefined) return size >= 4 ? 0xffffffff : (1 << (8 * size)) - 1;
    return fn.configRead(offset, size);
  }

  /** A config write; writes to an absent function are dropped. */
  configWrite(devfn: number, offset: number, size: number, value: number): void {
    this.functions[devfn]?.configWrite(offset, size, value);
  }

  /** Resets every function (bus reset). */
  reset(): void {
    for (const fn of this.list()) fn.reset();
  }

  /** @internal A function's asserted pin level changed. */
  intxChanged(fn: PciFunction): void {
    const pin = fn.config.get8(PCI_CFG.INTERRUPT_PIN);
    if (pin < 1 || pin > 4) return;
    const line = this.route(fn.slot, pin) & 3;
    const before = this.lineCounts[line]!;
    const after = before + (fn.intxAsserted ? 1 : -1);
    this.lineCounts[line] = after;
    if ((before === 0) !== (after === 0)) this.setIrq(line, after > 0 ? 1 : 0);
  }

  private updateMultifunction(slot: number): void {
    const fns = this.functions.slice(slot * 8, slot * 8 + 8).filter((f) => f !== undefined);
    const multi = fns.length > 1;
    for (const f of fns) {
      const h = f.config.get8(PCI_CFG.HEADER_TYPE);
      const want = multi || f.spec.multifunction === true;
      f.config.set8(
        PCI_CFG.HEADER_TYPE,
        want ? h | PCI_HEADER_MULTIFUNCTION : h & ~PCI_HEADER_MULTIFUNCTION,
      );
    }
  }
}

/** `00:02.0` style. */
export function formatDevfn(devfn: number, bus = 0): string {
  const h = (n: number) => n.toString(16).padStart(2, '0');
  return `${h(bus)}:${h(devfn >> 3)}.${devfn & 7}`;
}
