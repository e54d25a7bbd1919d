/**
 * The memory system: the factory for regions and address spaces, and the transaction that
 * batches tree changes into one re-render.
 *
 * Any change to any region re-renders every address space at the end of the outermost
 * transaction (or at once, outside one). That is QEMU's rule too: an alias can make a region
 * visible in several spaces, so "which spaces does this change touch" is not worth tracking
 * for a handful of spaces.
 */
import { EmuhostError, type Endianness, type MmioAccessRules, type MmioOps } from '@emuhost/sdk';
import type { DeviceGuard } from '../guard.js';
import { createKernelHooks, type KernelHooks } from '../hooks.js';
import { AddressSpace } from './address-space.js';
import { FlatRange } from './flat-view.js';
import { checkSize, MemoryRegion, resolveRules, type TopologyListener } from './region.js';
import { WasmRam } from './wasm-ram.js';

export interface MemorySystemOptions {
  /** The machine's hooks; a private set is made when omitted (tests). */
  readonly hooks?: KernelHooks;
  /** Byte order that `'native'` MMIO regions use. Default `'little'` (x86). */
  readonly targetEndianness?: Endianness;
  /**
   * Back the first RAM region of at least 1 MiB (the machine's main RAM) with a WebAssembly
   * memory, for CPUs that generate WebAssembly (`wasm-ram.ts`). Default false.
   */
  readonly wasmRam?: boolean;
}

export interface MmioRegionOptions {
  /** The device behind the region: its re-entrancy and fault guard. */
  readonly guard?: DeviceGuard;
  /** Let the device's callbacks be entered while it is already engaged. Default false. */
  readonly reentrant?: boolean;
}

const UNASSIGNED_OPS: MmioOps = Object.freeze({
  read: () => 'decode-error' as const,
  write: () => 'decode-error' as const,
});

export class MemorySystem implements TopologyListener {
  readonly hooks: KernelHooks;
  readonly targetEndianness: Endianness;
  private readonly spaces = new Set<AddressSpace<number>>();
  private depth = 0;
  private dirty = false;
  private readonly sentinel: FlatRange;
  private wasmAllowed: boolean;
  /** The WebAssembly memory behind the main RAM, once one was made. */
  wasmRam: WasmRam | undefined;

  constructor(opts: MemorySystemOptions = {}) {
    this.hooks = opts.hooks ?? createKernelHooks();
    this.targetEndianness = opts.targetEndianness ?? 'little';
    this.wasmAllowed = opts.wasmRam ?? false;
    // A range no address falls in: the initial "most recently used" range of every space.
    this.sentinel = new FlatRange(0, -1, new MemoryRegion(this, '(none)', 'container', 1), 0);
  }

  /**
   * RAM: reads and writes reach `bytes`, a zeroed buffer of `size` bytes. The first one of at
   * least 1 MiB lives in a WebAssembly memory (see `wasmRam`); its `bytes` are a view that
   * does not start at offset 0 of its buffer, which every user of `bytes` already allows.
   */
  createRam(name: string, size: number): MemoryRegion {
    checkSize(name, size);
    if (this.wasmAllowed && this.wasmRam === undefined) {
      const w = WasmRam.create(size);
      if (w !== undefined) {
        this.wasmRam = w;
        this.wasmAllowed = false;
        return new MemoryRegion(this, name, 'ram', size, w.bytes);
      }
    }
    return new MemoryRegion(this, name, 'ram', size, allocate(name, size));
  }

  /** ROM: reads as RAM, writes are ignored. `contents` is copied (or a size, zero-filled). */
  createRom(name: string, contents: Uint8Array | number): MemoryRegion {
    const size = typeof contents === 'number' ? contents : contents.length;
    checkSize(name, size);
    const bytes = allocate(name, size);
    if (typeof contents !== 'number') bytes.set(contents);
    return new MemoryRegion(this, name, 'rom', size, bytes);
  }

  /** MMIO (or port I/O): accesses call `ops`, within `rules`. */
  createMmio(
    name: string,
    size: number,
    ops: MmioOps,
    rules: MmioAccessRules = {},
    opts: MmioRegionOptions = {},
  ): MemoryRegion {
    checkSize(name, size);
    return new MemoryRegion(
      this,
      name,
      'mmio',
      size,
      null,
      ops,
      resolveRules(name, rules, this.targetEndianness),
      opts.guard ?? null,
      opts.reentrant ?? false,
    );
  }

  /**
   * A region where nothing answers: reads and writes end there with `decode-error` (reads
   * give 0, as QEMU's unassigned memory), and validity checks see no memory. Placed under a
   * bus's address space at a low priority, it stops accesses that no device decodes from
   * falling through to what lies beneath (a master abort).
   */
  createUnassigned(name: string, size: number): MemoryRegion {
    const r = this.createMmio(name, size, UNASSIGNED_OPS);
    r.unassigned = true;
    return r;
  }

  /** A window of `size` bytes onto `target`, starting at `offset` inside it. */
  createAlias(name: string, target: MemoryRegion, offset: number, size: number): MemoryRegion {
    checkSize(name, size);
    const a = new MemoryRegion(this, name, 'alias', size, null, null, null, null, false, target);
    a.setAliasOffset(offset);
    return a;
  }

  /** A region that only places subregions; its own content is a hole. */
  createContainer(name: string, size: number): MemoryRegion {
    checkSize(name, size);
    return new MemoryRegion(this, name, 'container', size);
  }

  /** An address space rooted at `root`. `A` is the kind of address it takes. */
  createAddressSpace<A extends number>(name: string, root: MemoryRegion): AddressSpace<A> {
    const as = new AddressSpace<A>(name, root, this.sentinel);
    this.spaces.add(as);
    return as;
  }

  /**
   * Runs `fn` with re-rendering deferred to its end (QEMU's memory_region_transaction_begin
   * and _commit). Transactions nest; the outermost one renders. The render happens even when
   * `fn` throws, so the flat views always match the tree.
   */
  transaction<T>(fn: () => T): T {
    this.depth++;
    try {
      return fn();
    } finally {
      this.depth--;
      if (this.depth === 0 && this.dirty) this.renderAll();
    }
  }

  /** @internal Called by regions on every change. */
  regionChanged(): void {
    if (this.depth > 0) this.dirty = true;
    else this.renderAll();
  }

  private renderAll(): void {
    this.dirty = false;
    for (const as of this.spaces) {
      as.render();
      const h = this.hooks.memory.topologyChanged;
      if (h.taps.length !== 0) h.call(as.name, as.version);
    }
  }
}

/** Creates a memory system (one per machine). */
export function createMemorySystem(opts: MemorySystemOptions = {}): MemorySystem {
  return new MemorySystem(opts);
}

function allocate(name: string, size: number): Uint8Array {
  try {
    return new Uint8Array(size);
  } catch (e) {
    throw new EmuhostError('E_REGION_SIZE', `cannot allocate ${size} bytes: ${String(e)}`, {
      region: name,
    });
  }
}
