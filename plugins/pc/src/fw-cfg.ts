/**
 * QEMU's fw_cfg, the part of it a qtest client reads: the I/O interface at 0x510 (a 16-bit
 * selector write) and 0x511 (the selected item's bytes, one per 8-bit read), with the
 * signature "QEMU", the interface id (1: no DMA interface), the RAM size and the CPU count.
 * libqos sizes its guest allocator from FW_CFG_RAM_SIZE, so QEMU's qos-tests need it. Items
 * not listed read as zeroes, past an item's end too, as QEMU's do.
 */
import type { MachineContext } from '@emuhost/sdk';

export const FW_CFG_PORT = 0x510;
const KEY = { SIGNATURE: 0x00, ID: 0x01, RAM_SIZE: 0x03, NB_CPUS: 0x05, MAX_CPUS: 0x0f } as const;

function le(value: number, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0, v = value; i < bytes; i++, v = Math.floor(v / 256)) out[i] = v % 256;
  return out;
}

/** Places fw_cfg's selector and data ports in the machine's I/O space. */
export function createFwCfg(ctx: MachineContext): { reset(): void } {
  const cpus = ctx.smp ?? 1;
  const items = new Map<number, Uint8Array>([
    [KEY.SIGNATURE, Uint8Array.of(0x51, 0x45, 0x4d, 0x55)],
    [KEY.ID, le(1, 4)],
    [KEY.RAM_SIZE, le(ctx.ramSize, 8)],
    [KEY.NB_CPUS, le(cpus, 2)],
    [KEY.MAX_CPUS, le(cpus, 2)],
  ]);
  let key = 0;
  let pos = 0;
  const region = ctx.mmio(
    'fwcfg',
    2,
    {
      read(offset) {
        if (offset !== 1) return 0;
        const b = items.get(key)?.[pos] ?? 0;
        pos++;
        return b;
      },
      write(offset, _size, value) {
        if (offset === 0) {
          key = Number(value) & 0xffff;
          pos = 0;
        }
        return undefined;
      },
    },
    { valid: { min: 1, max: 2 }, impl: { min: 1, max: 2 } },
  );
  ctx.place(ctx.io, region, FW_CFG_PORT);
  return {
    reset() {
      key = 0;
      pos = 0;
    },
  };
}
