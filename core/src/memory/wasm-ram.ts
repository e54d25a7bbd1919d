/**
 * WebAssembly-backed RAM: the machine's main RAM lives in a `WebAssembly.Memory`, so that a
 * CPU's generated WebAssembly code can load and store guest RAM directly (wasm code touches
 * only its module's linear memory). The memory is made once at its final size and never
 * grown: growing would detach its buffer and with it every view of the RAM (`bytes`, DMA
 * mappings, the CPUs' windows). V8 reserves it and the OS commits pages as they are touched,
 * so a 512 MiB guest costs what it uses, as a plain `Uint8Array` would.
 *
 * Layout: `SCRATCH_SLOTS` private CPU scratch areas of `CPU_SCRATCH_SIZE` bytes at the bottom
 * (no guest address maps them), then the RAM region's bytes.
 */
import { CPU_SCRATCH_SIZE, type CpuWasm, EmuhostError } from '@emuhost/sdk';

/** The WebAssembly API this file uses (the project's TypeScript libs do not declare it). */
interface WasmApi {
  Memory: new (d: { initial: number; maximum?: number }) => { readonly buffer: ArrayBuffer };
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: object) => { readonly exports: Record<string, unknown> };
}

const WASM = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

const WASM_PAGE = 65536;
/** Linear memory a 32-bit WebAssembly memory may have (V8, Node 20: 65536 pages). */
const WASM_MAX_BYTES = 65536 * WASM_PAGE;
/** CPUs that may claim a scratch area (address space only: untouched ones cost nothing). */
export const SCRATCH_SLOTS = 64;
const SCRATCH_BYTES = SCRATCH_SLOTS * CPU_SCRATCH_SIZE;
/** Smaller RAM stays a plain buffer (tests make thousands of small regions). */
export const WASM_RAM_MIN = 1 << 20;

export class WasmRam {
  readonly memory: { readonly buffer: ArrayBuffer };
  /** The RAM region's bytes, after the scratch areas. */
  readonly bytes: Uint8Array;
  private readonly free: number[] = [];

  private constructor(size: number) {
    const pages = Math.ceil((SCRATCH_BYTES + size) / WASM_PAGE);
    this.memory = new WASM!.Memory({ initial: pages, maximum: pages });
    this.bytes = new Uint8Array(this.memory.buffer, SCRATCH_BYTES, size);
    for (let i = SCRATCH_SLOTS - 1; i >= 0; i--) this.free.push(i * CPU_SCRATCH_SIZE);
  }

  /** A wasm-backed RAM of `size` bytes, or undefined where none can be made. */
  static create(size: number): WasmRam | undefined {
    if (WASM === undefined || size < WASM_RAM_MIN || SCRATCH_BYTES + size > WASM_MAX_BYTES)
      return undefined;
    try {
      return new WasmRam(size);
    } catch {
      // Address space for wasm memories is limited per process: fall back to a plain buffer.
      return undefined;
    }
  }

  /** Claims a zeroed scratch area for a CPU; undefined when all are taken. */
  claim(): CpuWasm | undefined {
    const scratch = this.free.pop();
    if (scratch === undefined) return undefined;
    new Uint8Array(this.memory.buffer, scratch, CPU_SCRATCH_SIZE).fill(0);
    const memory = this.memory;
    return Object.freeze({
      buffer: memory.buffer,
      scratch,
      instantiate: (module: Uint8Array, imports: Readonly<Record<string, unknown>>) => {
        let m: object;
        try {
          m = new WASM!.Module(module);
        } catch (e) {
          throw new EmuhostError('E_BAD_ARGUMENT', `invalid WebAssembly module: ${String(e)}`);
        }
        return new WASM!.Instance(m, { env: { ...imports, memory } }).exports;
      },
    });
  }

  /** Gives a CPU's scratch area back (the CPU was removed). */
  release(area: CpuWasm): void {
    if (!this.free.includes(area.scratch)) this.free.push(area.scratch);
  }
}
