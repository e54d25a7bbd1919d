/**
 * What the hart caches stays coherent with memory: code a device's DMA overwrites runs as
 * written (the page watch drops the decoded blocks), code the hart itself rewrites runs after
 * `fence.i`, and an LR reservation whose word a device's DMA changes makes the SC fail. Each
 * case runs hot (compiled) and cold.
 */
import { addCpu } from '@emuhost/host';
import type { GuestPhysAddr, Iova } from '@emuhost/sdk';
import { describe, expect, it } from 'vitest';
import { encode } from './isa/index.js';
import { bareRiscvMachine, rv64 } from './test-support/isa-test.js';

const RAM = 0x80000000;
const words = (ws: number[]) => {
  const b = new Uint8Array(ws.length * 4);
  const v = new DataView(b.buffer);
  for (const [i, w] of ws.entries()) v.setUint32(i * 4, w >>> 0, true);
  return b;
};

function boot(program: number[], jit: boolean) {
  const m = bareRiscvMachine();
  m.memory.loadImage(RAM as GuestPhysAddr, words(program));
  const cpu = addCpu(m, rv64, {
    id: 'cpu0',
    index: 0,
    props: { resetvec: RAM, jit, 'jit-threshold': 2 },
  });
  const dma = m.dma.createContext({ device: 'dev0', bus: 'platform', requesterId: 1 });
  const reg = (n: number) => {
    const b = cpu.model.debug!.readRegister(n)!;
    return new DataView(b.buffer).getBigInt64(0, true);
  };
  return { m, dma, reg };
}

describe.each([true, false])('coherence (tier 2: %s)', (jit) => {
  it('runs code a device DMA overwrote, not the decoded copy', () => {
    // loop: addi t0,t0,1 ; j loop   (at RAM)
    const { m, dma, reg } = boot(
      [encode('addi', { rd: 5, rs1: 5, imm: 1 }), encode('jal', { rd: 0, imm: -4 })],
      jit,
    );
    m.cpus.run({ untilNs: 20_000 });
    const before = reg(5);
    expect(before).toBeGreaterThan(100n);
    // The device rewrites the loop body: addi t1,t1,1 instead.
    expect(dma.write(RAM as Iova, words([encode('addi', { rd: 6, rs1: 6, imm: 1 })]))).toBe('ok');
    m.cpus.run({ untilNs: m.clock.now + 20_000 });
    expect(reg(6)).toBeGreaterThan(100n);
    expect(reg(5)).toBeLessThanOrEqual(before + 1n);
  });

  it('runs code the hart rewrote itself after fence.i', () => {
    const patched = encode('addi', { rd: 7, rs1: 0, imm: 42 });
    const program = [
      // t0 = address of `target`; t1 = the new instruction; store it; fence.i; jump there
      encode('auipc', { rd: 5, imm: 0 }),
      encode('addi', { rd: 5, rs1: 5, imm: 32 }),
      encode('lui', { rd: 6, imm: ((patched + 0x800) >> 12) << 12 }),
      encode('addiw', { rd: 6, rs1: 6, imm: (patched << 20) >> 20 }),
      encode('jal', { rd: 0, imm: 16 }), // run `target` once first, so that it is decoded
      encode('sw', { rs1: 5, rs2: 6, imm: 0 }),
      encode('fence.i', {}),
      encode('jal', { rd: 0, imm: 4 }),
      encode('addi', { rd: 7, rs1: 0, imm: 1 }), // target (offset 32)
      encode('beq', { rs1: 7, rs2: 0, imm: 0 }), // spin while t2 = 0 (never)
      encode('addi', { rd: 28, rs1: 28, imm: 1 }), // count passes through `target`
      encode('addi', { rd: 29, rs1: 0, imm: 2 }),
      encode('blt', { rs1: 28, rs2: 29, imm: -28 }), // first pass: back to the store
      encode('jal', { rd: 0, imm: 0 }),
    ];
    const { m, reg } = boot(program, jit);
    m.cpus.run({ untilNs: 50_000 });
    expect(reg(28)).toBe(2n);
    expect(reg(7)).toBe(42n);
  });

  it('fails an SC whose word a device changed after the LR', () => {
    const data = RAM + 0x1000;
    const program = [
      encode('auipc', { rd: 5, imm: 0x1000 }),
      encode('lr.d', { rd: 6, rs1: 5 }),
      encode('jal', { rd: 0, imm: 0 }), // wait here: the host writes the word now
    ];
    const { m, dma, reg } = boot(program, jit);
    m.cpus.run({ untilNs: 1_000 });
    expect(dma.write(data as Iova, new Uint8Array([9, 9, 9, 9, 9, 9, 9, 9]))).toBe('ok');
    // Patch the wait into: sc.d t2, t1, (t0); then spin.
    m.memory.loadImage(
      (RAM + 8) as GuestPhysAddr,
      words([encode('sc.d', { rd: 7, rs1: 5, rs2: 6 }), encode('jal', { rd: 0, imm: 0 })]),
    );
    m.cpus.run({ untilNs: m.clock.now + 1_000 });
    expect(reg(7)).toBe(1n);
    const word = m.memory.load64(data as GuestPhysAddr);
    expect(word).toBe(0x0909090909090909n);
  });
});
