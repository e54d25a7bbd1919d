/**
 * Test helpers for the memory core: an MMIO device whose registers are a byte array and
 * whose every callback is recorded, so tests can assert exactly what the device saw.
 */
import type { AccessSize, MemTxAttrs, MmioAccessRules, MmioOps } from '@emuhost/sdk';
import type { DeviceGuard } from '../guard.js';
import type { MemorySystem } from './memory-system.js';
import type { MemoryRegion } from './region.js';

export interface Call {
  readonly op: 'r' | 'w';
  readonly offset: number;
  readonly size: AccessSize;
  readonly value?: number | bigint;
}

/** A little register file: reads return the bytes stored at the offset, little-endian. */
export function recordingDevice(size: number) {
  const regs = new Uint8Array(size);
  const calls: Call[] = [];
  const ops: MmioOps = {
    read(offset: number, sz: AccessSize, _attrs: MemTxAttrs) {
      calls.push({ op: 'r', offset, size: sz });
      let v = 0n;
      for (let i = sz - 1; i >= 0; i--) v = (v << 8n) | BigInt(regs[offset + i] ?? 0);
      return sz === 8 ? v : Number(v);
    },
    write(offset: number, sz: AccessSize, value: number | bigint) {
      calls.push({ op: 'w', offset, size: sz, value });
      let v = BigInt(value);
      for (let i = 0; i < sz; i++) {
        regs[offset + i] = Number(v & 0xffn);
        v >>= 8n;
      }
      return undefined;
    },
  };
  return { regs, calls, ops };
}

export function mmio(
  ms: MemorySystem,
  name: string,
  size: number,
  rules: MmioAccessRules = {},
  guard?: DeviceGuard,
): { region: MemoryRegion } & ReturnType<typeof recordingDevice> {
  const dev = recordingDevice(size);
  return { ...dev, region: ms.createMmio(name, size, dev.ops, rules, guard ? { guard } : {}) };
}
