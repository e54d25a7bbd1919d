/**
 * rv64: an RV64GC RISC-V hart as an emuhost CPU plugin (`-cpu rv64`).
 *
 * RV64 I M A F D C, Zicsr, Zifencei, Zicntr; M, S and U modes with delegation; Sv39 with
 * A/D managed by software; 16 PMP entries; misaligned loads and stores done in RAM. F and D
 * are exact (all rounding modes, every flag, a fused FMA). Nothing else is advertised.
 *
 * Execution: blocks of guest code are pre-decoded (exec/block.ts) and run by a generated
 * interpreter; hot blocks are compiled to JavaScript functions (exec/codegen.ts). Both come
 * from one set of instruction semantics (exec/sem-*.ts). Data accesses try a software TLB
 * per privilege regime inline and take the slow path (mmu/, exec/memops.ts) otherwise.
 *
 * - `hart.ts`: the hart's state and the CpuModel the kernel schedules.
 * - `isa/`: the instruction table, decoder and RVC expansion; `disasm/`: the disassembler.
 * - `fpu/`: the softfloat behind F and D.
 * - `exec/`: blocks, semantics, interpreter and compiler, the slow memory paths.
 * - `mmu/`: TLBs, the Sv39 walk, PMP, SFENCE.VMA.
 * - `priv/`, `csr/`: traps and interrupts, the CSR file.
 * - `state.ts`: saved state; `trace.ts`: `-d in_asm` output.
 */
import { definePlugin } from '@emuhost/sdk';
import { Hart, IRQ_INPUTS } from './hart.js';
import { type HartState, STATE_VERSION } from './state.js';

export default definePlugin({
  kind: 'cpu',
  arch: 'riscv64',
  irqInputs: IRQ_INPUTS,
  stateVersion: STATE_VERSION,
  options: {
    resetvec: {
      type: 'number',
      default: 0x1000,
      description: 'The pc after reset (QEMU: resetvec; the virt machine boots at its ROM, 0x1000)',
    },
    timebase: {
      type: 'number',
      default: 10_000_000,
      description: 'Ticks per second of the time CSR (the machine sets it: 10 MHz on virt)',
    },
    jit: {
      type: 'boolean',
      default: false,
      description:
        'Compile hot pages (tier 2). Off by default: the JavaScript region compiler is slower than the interpreter under V8 (see exec/README.md)',
    },
    'jit-threshold': {
      type: 'number',
      default: 64,
      description: 'Executions of a block by the interpreter before it is compiled',
    },
  },
  create(ctx, state) {
    const h = new Hart(ctx, {
      resetvec: Number(ctx.options.resetvec),
      timebase: Number(ctx.options.timebase),
      jit: ctx.options.jit === true,
      jitThreshold: Math.max(1, Number(ctx.options['jit-threshold'])),
    });
    if (state !== undefined) h.loadState(state as HartState);
    return h;
  },
});
