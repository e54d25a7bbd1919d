/**
 * WebAssembly-backed RAM: the machine's main RAM lives in a WebAssembly memory with CPU
 * scratch areas below it that no guest address reaches, and stays plain RAM for everything
 * else (address-space reads and writes see the same bytes).
 */
import { CPU_SCRATCH_SIZE, type GuestPhysAddr } from '@emuhost/sdk';
import { describe, expect, it } from 'vitest';
import { createMachine } from '../machine.js';
import { createMemorySystem } from './memory-system.js';
import { SCRATCH_SLOTS, WASM_RAM_MIN } from './wasm-ram.js';

describe('wasm-backed RAM', () => {
  it('backs the first RAM of at least 1 MiB, and only that one', () => {
    const ms = createMemorySystem({ wasmRam: true });
    const small = ms.createRam('small', 4096);
    expect(ms.wasmRam).toBeUndefined();
    const main = ms.createRam('main', WASM_RAM_MIN);
    const other = ms.createRam('other', WASM_RAM_MIN);
    expect(ms.wasmRam).toBeDefined();
    expect(main.bytes!.buffer).toBe(ms.wasmRam!.memory.buffer);
    expect(main.bytes!.byteOffset).toBe(SCRATCH_SLOTS * CPU_SCRATCH_SIZE);
    expect(main.bytes!.length).toBe(WASM_RAM_MIN);
    expect(small.bytes!.buffer).not.toBe(main.bytes!.buffer);
    expect(other.bytes!.buffer).not.toBe(main.bytes!.buffer);
  });

  it('is reserved, not committed: 512 MiB of guest RAM costs what the guest touches', () => {
    const before = process.memoryUsage().rss;
    const ms = createMemorySystem({ wasmRam: true });
    const ram = ms.createRam('main', 512 << 20);
    expect(ram.bytes!.buffer).toBe(ms.wasmRam!.memory.buffer);
    expect(process.memoryUsage().rss - before).toBeLessThan(64 << 20);
    ram.bytes![(512 << 20) - 1] = 1;
    expect(process.memoryUsage().rss - before).toBeLessThan(64 << 20);
  });

  it('is off unless asked for (machines without CPUs keep plain buffers)', () => {
    const ms = createMemorySystem();
    ms.createRam('main', WASM_RAM_MIN);
    expect(ms.wasmRam).toBeUndefined();
  });

  it('gives each CPU its own zeroed scratch area below the RAM, reused after the CPU goes', () => {
    const m = createMachine({ wasmRam: true });
    const ram = m.memorySystem.createRam('ram', 2 * WASM_RAM_MIN);
    m.systemMemory.addSubregion(ram, 0x80000000);
    const areas: number[] = [];
    const cpus = [0, 1].map((i) =>
      m.addCpu(`cpu${i}`, ({ memory }) => {
        const w = memory.wasm!()!;
        expect(memory.wasm!()).toBe(w);
        expect(w.buffer).toBe(ram.bytes!.buffer);
        areas.push(w.scratch);
        const scratch = new Uint8Array(w.buffer, w.scratch, CPU_SCRATCH_SIZE);
        expect(scratch.every((b) => b === 0)).toBe(true);
        scratch.fill(0xa5);
        return {
          run: () => 0,
          waiting: false,
          setIrq: () => {},
          stop: () => {},
          reset: () => {},
          pageWritten: () => {},
          pageWatched: () => {},
          memoryChanged: () => {},
          info: {},
        };
      }),
    );
    expect(areas[0]).not.toBe(areas[1]);
    for (const a of areas) expect(a + CPU_SCRATCH_SIZE).toBeLessThanOrEqual(ram.bytes!.byteOffset);
    // Guest-visible RAM is untouched by the scratch writes, and DMA-style writes land in it.
    const buf = new Uint8Array(16);
    expect(m.memory.read(0x80000000 as GuestPhysAddr, buf)).toBe('ok');
    expect(buf.every((b) => b === 0)).toBe(true);
    m.memory.write(0x80000000 as GuestPhysAddr, Uint8Array.of(1, 2, 3));
    expect(Array.from(ram.bytes!.subarray(0, 3))).toEqual([1, 2, 3]);
    m.removeCpu(cpus[0]!);
    m.addCpu('cpu2', ({ memory }) => {
      const w = memory.wasm!()!;
      expect(w.scratch).toBe(areas[0]);
      expect(new Uint8Array(w.buffer, w.scratch, CPU_SCRATCH_SIZE).every((b) => b === 0)).toBe(
        true,
      );
      return {
        run: () => 0,
        waiting: false,
        setIrq: () => {},
        stop: () => {},
        reset: () => {},
        pageWritten: () => {},
        pageWatched: () => {},
        memoryChanged: () => {},
        info: {},
      };
    });
  });

  it('instantiates modules against the memory and rejects invalid ones with E_BAD_ARGUMENT', () => {
    const ms = createMemorySystem({ wasmRam: true });
    ms.createRam('main', WASM_RAM_MIN);
    const w = ms.wasmRam!.claim()!;
    expect(() => w.instantiate(Uint8Array.of(1, 2, 3), {})).toThrow(
      expect.objectContaining({ code: 'E_BAD_ARGUMENT' }),
    );
  });
});
