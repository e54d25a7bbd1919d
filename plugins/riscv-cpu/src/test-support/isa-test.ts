/**
 * Runs one riscv-tests ELF on a bare machine (RAM at 0x80000000, one rv64 hart starting at
 * the entry point) and reads the result from `tohost` as the tests' HTIF protocol says
 * (../shared/riscv-tests/README.md): 1 is a pass, another odd value (N << 1 | 1) a failure of
 * test case N, and a device 1 / command 1 value a console character to acknowledge.
 */
import { readFileSync } from 'node:fs';
import { createMachine, type Machine } from '@emuhost/core';
import { addCpu, inProcessPlugin } from '@emuhost/host';
import type { GuestPhysAddr } from '@emuhost/sdk';
import plugin from '../index.js';
import { findSymbol, PT_LOAD, parseElf } from '../isa/index.js';

export interface IsaTestResult {
  readonly outcome: 'pass' | 'fail' | 'timeout' | 'idle';
  /** For a failure: the failing test case (gp >> 1), or the raw exit code. */
  readonly code: number;
  readonly instructions: number;
  readonly console: string;
}

const MANIFEST = {
  id: 'rv64',
  version: '0.1.0',
  kind: 'cpu',
  sdk: '^1.4.0',
  entry: 'src/index.ts',
  capabilities: [],
};

export const rv64 = inProcessPlugin(MANIFEST, plugin);

/** A bare machine: `ramSize` bytes of RAM at 0x80000000. */
export function bareRiscvMachine(ramSize = 1 << 20): Machine {
  const m = createMachine({ name: 'riscv-tests' });
  const ram = m.memorySystem.createRam('ram', ramSize);
  m.systemMemory.addSubregion(ram, 0x80000000);
  return m;
}

export function runIsaTest(
  file: string,
  opts: { maxInstructions?: number; jit?: boolean; jitThreshold?: number } = {},
): IsaTestResult {
  const elf = parseElf(new Uint8Array(readFileSync(file)));
  const m = bareRiscvMachine();
  for (const seg of elf.segments)
    if (seg.type === PT_LOAD && seg.filesz > 0)
      m.memory.loadImage(Number(seg.paddr) as GuestPhysAddr, seg.data);
  const sym = findSymbol(elf, 'tohost');
  if (sym === undefined) throw new Error(`${file}: no tohost symbol`);
  const tohost = Number(sym.value) as GuestPhysAddr;
  addCpu(m, rv64, {
    id: 'cpu0',
    index: 0,
    props: {
      resetvec: Number(elf.entry),
      jit: opts.jit ?? true,
      'jit-threshold': opts.jitThreshold ?? 64,
    },
  });
  const max = opts.maxInstructions ?? 2_000_000;
  let console = '';
  for (;;) {
    const out = m.cpus.run({ untilNs: m.clock.now + 5_000 });
    const v = m.memory.load64(tohost);
    if (typeof v === 'bigint' && v !== 0n) {
      const dev = Number(v >> 56n);
      const cmd = Number((v >> 48n) & 0xffn);
      const payload = v & 0xffffffffffffn;
      if (dev === 1 && cmd === 1) {
        console += String.fromCharCode(Number(payload & 0xffn));
        m.memory.store64(tohost, 0n);
        continue;
      }
      if (dev === 0 && (payload & 1n) === 1n) {
        const code = Number(payload >> 1n);
        return {
          outcome: code === 0 ? 'pass' : 'fail',
          code,
          instructions: m.cpus.instructions,
          console,
        };
      }
    }
    if (out.reason === 'idle')
      return { outcome: 'idle', code: -1, instructions: m.cpus.instructions, console };
    if (m.cpus.instructions > max)
      return { outcome: 'timeout', code: -1, instructions: m.cpus.instructions, console };
  }
}

export interface BareRunResult {
  /** The sifive,test exit code (0x5555: 0; 0x3333 | code << 16: code), or undefined on a timeout. */
  readonly exitCode: number | undefined;
  readonly instructions: number;
  /** Host milliseconds spent running. */
  readonly ms: number;
  readonly machine: Machine;
}

/**
 * Runs a bare-metal ELF that ends by writing to a sifive,test device at 0x100000 (the bench
 * workloads, bench/guest): RAM at 0x80000000, one rv64 hart at the entry point.
 */
export function runBareElf(
  file: string,
  opts: { maxInstructions?: number; jit?: boolean; jitThreshold?: number; ramSize?: number } = {},
): BareRunResult {
  const elf = parseElf(new Uint8Array(readFileSync(file)));
  const m = bareRiscvMachine(opts.ramSize ?? 64 << 20);
  let exitCode: number | undefined;
  const test = m.memorySystem.createMmio('sifive-test', 0x1000, {
    read: () => 0,
    write: (offset, _size, value) => {
      const v = Number(value);
      if (offset !== 0) return undefined;
      if ((v & 0xffff) === 0x5555) exitCode = 0;
      else if ((v & 0xffff) === 0x3333) exitCode = v >>> 16;
      if (exitCode !== undefined) m.cpus.stop();
      return undefined;
    },
  });
  m.systemMemory.addSubregion(test, 0x100000);
  for (const seg of elf.segments)
    if (seg.type === PT_LOAD && seg.filesz > 0)
      m.memory.loadImage(Number(seg.paddr) as GuestPhysAddr, seg.data);
  addCpu(m, rv64, {
    id: 'cpu0',
    index: 0,
    props: {
      resetvec: Number(elf.entry),
      jit: opts.jit ?? true,
      'jit-threshold': opts.jitThreshold ?? 64,
    },
  });
  const max = opts.maxInstructions ?? 5_000_000_000;
  const t0 = performance.now();
  let lastT = t0;
  let lastN = 0;
  while (exitCode === undefined && m.cpus.instructions < max) {
    const out = m.cpus.run({ untilNs: m.clock.now + 10_000_000 });
    if (process.env.EMUHOST_CHUNKS) {
      const now = performance.now();
      const n = m.cpus.instructions;
      console.log(`chunk ${((n - lastN) / (now - lastT) / 1000).toFixed(1)} MIPS`);
      lastT = now;
      lastN = n;
    }
    if (out.reason === 'idle') break;
  }
  return { exitCode, instructions: m.cpus.instructions, ms: performance.now() - t0, machine: m };
}
