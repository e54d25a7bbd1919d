/**
 * One CPU's access to guest-physical memory (the SDK's `CpuMemory`): direct windows onto RAM
 * for its TLB, typed loads and stores through the address space for everything else, and the
 * page watches that keep what it decoded coherent with memory.
 */
import type {
  AccessSize,
  CpuAccess,
  CpuMemory,
  CpuWasm,
  GuestPhysAddr,
  MemTxAttrs,
  MemTxError,
  MemTxResult,
  RamWindow,
} from '@emuhost/sdk';
import type { AddressSpace } from '../memory/address-space.js';
import { RANGE_RAM, RANGE_ROM } from '../memory/flat-view.js';
import type { WasmRam } from '../memory/wasm-ram.js';
import type { WatchHub } from './watch-hub.js';

/** CPU accesses carry no requester: they are not bus-master DMA. */
const CPU_ACCESS_ATTRS: MemTxAttrs = Object.freeze({ unspecified: true });

export class KernelCpuMemory implements CpuMemory {
  private wasmArea: CpuWasm | undefined;

  constructor(
    private readonly space: AddressSpace<GuestPhysAddr>,
    private readonly hub: WatchHub,
    /** Where the machine's main RAM lives when it is a WebAssembly memory. */
    private readonly wasmRam: () => WasmRam | undefined = () => undefined,
  ) {}

  wasm(): CpuWasm | undefined {
    if (this.wasmArea === undefined) this.wasmArea = this.wasmRam()?.claim();
    return this.wasmArea;
  }

  /** The CPU is gone: its scratch area may serve another. */
  dispose(): void {
    if (this.wasmArea !== undefined) this.wasmRam()?.release(this.wasmArea);
    this.wasmArea = undefined;
  }

  window(addr: GuestPhysAddr, access: CpuAccess): RamWindow | undefined {
    const r = this.space.findRange(addr, access === 'write');
    if (r === null || r.bytes === null) return undefined;
    if (access === 'write' ? r.kind !== RANGE_RAM : r.kind !== RANGE_RAM && r.kind !== RANGE_ROM)
      return undefined;
    return {
      start: r.start as GuestPhysAddr,
      end: r.end as GuestPhysAddr,
      bytes: r.region.bytes!,
      offset: r.regionOffset,
    };
  }

  load(addr: GuestPhysAddr, size: AccessSize): number | bigint | MemTxError {
    return size === 8
      ? this.space.load64(addr, 'little', CPU_ACCESS_ATTRS)
      : this.space.load(addr, size, 'little', CPU_ACCESS_ATTRS);
  }

  store(addr: GuestPhysAddr, size: AccessSize, value: number | bigint): MemTxResult {
    return size === 8
      ? this.space.store64(addr, BigInt(value), 'little', CPU_ACCESS_ATTRS)
      : this.space.store(addr, size, Number(value), 'little', CPU_ACCESS_ATTRS);
  }

  watch(addr: GuestPhysAddr): void {
    this.hub.watch(addr);
  }

  watched(addr: GuestPhysAddr): boolean {
    return this.hub.watched(addr);
  }
}
