/**
 * The hart as the kernel and a debugger use it, on a bare machine: a guest stuck in a storm of
 * traps with no handler is reported (not spun on forever), the debugger's breakpoints, single
 * steps, registers and memory work, and saved state resumes identically.
 */
import { addCpu } from '@emuhost/host';
import type { CpuDebug, GuestPhysAddr, SavedState } from '@emuhost/sdk';
import { describe, expect, it } from 'vitest';
import { encode } from './isa/index.js';
import { bareRiscvMachine, rv64 } from './test-support/isa-test.js';

const RAM = 0x80000000;

/** A bare machine with `words` at RAM and one hart starting there; `halts` collects halt reasons. */
function machineWith(words: number[], state?: SavedState) {
  const m = bareRiscvMachine();
  const bytes = new Uint8Array(words.length * 4);
  const v = new DataView(bytes.buffer);
  for (const [i, w] of words.entries()) v.setUint32(i * 4, w >>> 0, true);
  m.memory.loadImage(RAM as GuestPhysAddr, bytes);
  const halts: string[] = [];
  const cpu = addCpu(m, rv64, {
    id: 'cpu0',
    index: 0,
    props: { resetvec: RAM },
    ...(state !== undefined && { state }),
    onHalt: (_id, reason) => {
      halts.push(reason);
      m.cpus.stop();
    },
  });
  return { m, cpu, halts, debug: cpu.model.debug as CpuDebug };
}

const enc = (name: string, ops: Record<string, number>) => encode(name, ops);

describe('rv64 hart', () => {
  it('reports a guest stuck on an illegal instruction with no handler, naming the pc', () => {
    const { m, halts } = machineWith([0xffffffff]);
    m.cpus.run({ untilNs: 10_000_000 });
    expect(halts).toHaveLength(1);
    expect(halts[0]).toMatch(/illegal-insn at pc 0x0000000080000000/);
    expect(halts[0]).toMatch(/mtvec = 0x0000000000000000/);
  });

  it('stops at a breakpoint before the instruction, steps one instruction, reads and writes registers', () => {
    const prog = [
      enc('addi', { rd: 5, rs1: 0, imm: 7 }),
      enc('addi', { rd: 5, rs1: 5, imm: 1 }),
      enc('addi', { rd: 5, rs1: 5, imm: 1 }),
      enc('jal', { rd: 0, imm: 0 }),
    ];
    const { m, debug } = machineWith(prog);
    let stops = 0;
    debug.onStop = () => {
      stops++;
      m.cpus.stop();
    };
    debug.setBreakpoints([BigInt(RAM + 8)]);
    m.cpus.run({ untilNs: 1_000_000 });
    expect(debug.stopReason).toBe('breakpoint');
    expect(debug.pc).toBe(BigInt(RAM + 8));
    const t0 = new DataView(debug.readRegister(5)!.buffer).getBigUint64(0, true);
    expect(t0).toBe(8n);
    debug.setBreakpoints([]);
    debug.singleStep = true;
    m.cpus.run({ untilNs: m.clock.now + 1_000_000 });
    expect(debug.stopReason).toBe('step');
    expect(debug.pc).toBe(BigInt(RAM + 12));
    expect(stops).toBe(2);
    const nine = new Uint8Array(8);
    new DataView(nine.buffer).setBigUint64(0, 100n, true);
    expect(debug.writeRegister(5, nine)).toBe(true);
    expect(new DataView(debug.readRegister(5)!.buffer).getBigUint64(0, true)).toBe(100n);
    expect(debug.readMemory(BigInt(RAM), 4)).toEqual(
      new Uint8Array(new Uint32Array([prog[0]!]).buffer),
    );
    expect(debug.writeMemory(BigInt(RAM + 0x100), new Uint8Array([1, 2, 3]))).toBe(3);
    expect(Array.from(debug.readMemory(BigInt(RAM + 0x100), 3))).toEqual([1, 2, 3]);
    expect(debug.targetXml['target.xml']).toContain('riscv:rv64');
  });

  it("does not latch the external SEIP into mip's software bit on csrrs/csrrc (spec 3.1.9)", () => {
    // csrrsi x0, mip, 0 would not write; set STIP (bit 5) with a register: li t0, 32; csrrs x0, mip, t0
    const prog = [
      enc('addi', { rd: 5, rs1: 0, imm: 32 }),
      enc('csrrs', { rd: 0, rs1: 5, csr: 0x344 }),
      enc('csrrs', { rd: 6, rs1: 0, csr: 0x344 }),
      enc('jal', { rd: 0, imm: 0 }),
    ];
    const { m, cpu, debug } = machineWith(prog);
    const seip = cpu.handle().irq('seip');
    seip(1);
    m.cpus.run({ untilNs: 100 });
    seip(0);
    // Read mip again through the debugger: SEIP must have gone with the signal; STIP stays.
    const mip = new DataView(debug.readRegister(65 + 0x344)!.buffer).getBigUint64(0, true);
    expect(mip & 0x200n).toBe(0n);
    expect(mip & 0x20n).toBe(0x20n);
  });

  it('resumes from saved state exactly where it was', () => {
    const loop = [enc('addi', { rd: 6, rs1: 6, imm: 3 }), enc('jal', { rd: 0, imm: -4 })];
    const a = machineWith(loop);
    a.m.cpus.run({ untilNs: 1000 });
    const state = a.cpu.saveState();
    const b = machineWith(loop, state);
    a.m.cpus.run({ untilNs: a.m.clock.now + 1000 });
    b.m.cpus.run({ untilNs: b.m.clock.now + 1000 });
    expect(b.cpu.saveState().data).toEqual(a.cpu.saveState().data);
  });

  it('keeps the LR reservation in its state: an SC after a load succeeds as it would have', () => {
    const target = RAM + 0x100;
    // sc.w t1, t2, (a0); then spin.
    const prog = [enc('sc.w', { rd: 6, rs1: 10, rs2: 7 }), enc('jal', { rd: 0, imm: 0 })];
    const fresh = machineWith(prog).cpu.saveState();
    const data = structuredClone(fresh.data) as { x: number[]; reservation?: number[] };
    data.x[20] = target | 0; // a0, low word (x holds each register as two int32 words)
    data.x[12] = 5; // t1 (x6: words 12, 13) = 5, so that the SC's 0 or 1 shows
    data.x[14] = 7; // t2 (x7: words 14, 15) = 7
    data.x[15] = 0;
    for (const [reservation, t1] of [
      [[target, 4, 0, 0], 0],
      [[-1, 0, 0, 0], 1],
    ] as const) {
      const { m, cpu } = machineWith(prog, {
        version: fresh.version,
        data: { ...data, reservation },
      });
      m.cpus.run({ untilNs: 20 });
      const x = (cpu.saveState().data as { x: number[] }).x;
      expect(x[12], `reservation ${reservation.join()}`).toBe(t1);
      expect(m.memory.load(target as GuestPhysAddr, 4)).toBe(t1 === 0 ? 7 : 0);
    }
  });
});
