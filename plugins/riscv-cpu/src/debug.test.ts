import { addCpu } from '@emuhost/host';
import type { CpuModel } from '@emuhost/sdk';
import { describe, expect, it } from 'vitest';
import { bareRiscvMachine, rv64 } from './test-support/isa-test.js';

/** Every register number the target description names. */
function regnums(model: CpuModel): number[] {
  const xml = Object.values(model.debug!.targetXml).join('');
  return [...xml.matchAll(/regnum="(\d+)"/g)].map((m) => Number(m[1]));
}

describe('HartDebug', () => {
  it('reads every register without changing the hart, FP CSRs included while FS is off', () => {
    const m = bareRiscvMachine();
    const cpu = addCpu(m, rv64, { id: 'cpu0', index: 0, props: { resetvec: 0x80000000 } });
    const model = cpu.model;
    const before = JSON.stringify(model.saveState!());
    const fflags = regnums(model).find((n) => n === 65 + 1)!;
    for (const n of regnums(model))
      expect(model.debug!.readRegister(n), `regnum ${n}`).toBeDefined();
    expect(model.debug!.readRegister(fflags)).toHaveLength(4);
    expect(JSON.stringify(model.saveState!())).toBe(before);
  });

  it('writes a CSR through the debugger and reads it back', () => {
    const m = bareRiscvMachine();
    const model = addCpu(m, rv64, { id: 'cpu0', index: 0, props: { resetvec: 0x80000000 } }).model;
    const mscratch = 65 + 0x340;
    const v = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
    expect(model.debug!.writeRegister(mscratch, v)).toBe(true);
    expect(model.debug!.readRegister(mscratch)).toEqual(v);
    expect(model.debug!.pc).toBe(0x80000000n);
  });
});
