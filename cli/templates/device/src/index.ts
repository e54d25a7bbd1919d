/**
 * my-device: a DMA copy engine, the starting point for a device plugin.
 *
 * BAR0 (4 KiB, 4-byte accesses only):
 *   0x00 ID      RO  0x4d440001
 *   0x08 SRC     RW  source IOVA, low 32 bits (0x0c: high 32 bits)
 *   0x10 DST     RW  destination IOVA, low 32 bits (0x14: high 32 bits)
 *   0x18 LEN     RW  bytes to copy, at most 64 KiB
 *   0x1c CMD     WO  write 1 to start; the copy completes 1 µs of virtual time later
 *   0x20 STATUS  RW  bit 0 busy (RO), bit 1 done, bit 2 error; write 1 to clear done/error
 *   0x24 RESULT  RO  why the last copy failed: 0 ok, 1 decode error, 2 access error,
 *                    3 IOMMU fault, 4 bus master off, 5 other
 * Completion raises INTx, or sends MSI vector 0 when the guest enabled MSI.
 *
 * It never touches guest memory except through `ctx.dma`, so whatever IOMMU the machine
 * binds to its bus translates its DMA, and a failed DMA is a status the guest can see.
 */
import { type DmaResult, definePlugin, iova } from '@emuhost/sdk';

const MAX_LEN = 64 * 1024;
const RESULT_CODES: Record<string, number> = {
  'decode-error': 1,
  'access-error': 2,
  'iommu-fault': 3,
  'bus-master-disabled': 4,
};

interface State {
  src: number;
  dst: number;
  len: number;
  status: number;
  result: number;
}

const fresh = (): State => ({ src: 0, dst: 0, len: 0, status: 0, result: 0 });

export default definePlugin({
  kind: 'device',
  pci: { vendorId: 0x1234, deviceId: 0x4d44, revision: 1, classCode: 0xff0000 },
  stateVersion: 1,
  create(ctx, saved) {
    const s: State = saved === undefined ? fresh() : (saved as State);
    const msi = ctx.pci!.addMsi();

    const finish = (r: DmaResult) => {
      s.status = (s.status & ~1) | (r === 'ok' ? 2 : 4);
      s.result = r === 'ok' ? 0 : (RESULT_CODES[r.result] ?? 5);
      if (msi.enabled) msi.notify(0);
      else ctx.irq.raise();
    };

    const copy = ctx.clock.timer('copy', () => {
      const buf = new Uint8Array(s.len);
      const r = ctx.dma.read(iova(s.src), buf);
      finish(r === 'ok' ? ctx.dma.write(iova(s.dst), buf) : r);
    });

    const regs = ctx.mmio(
      'regs',
      0x1000,
      {
        read(offset) {
          switch (offset) {
            case 0x00:
              return 0x4d440001;
            case 0x08:
              return s.src % 2 ** 32;
            case 0x0c:
              return Math.floor(s.src / 2 ** 32);
            case 0x10:
              return s.dst % 2 ** 32;
            case 0x14:
              return Math.floor(s.dst / 2 ** 32);
            case 0x18:
              return s.len;
            case 0x20:
              return s.status;
            case 0x24:
              return s.result;
            default:
              return 0xffffffff;
          }
        },
        write(offset, _size, value) {
          const v = Number(value);
          if (s.status & 1 && offset !== 0x20) return; // registers are frozen while busy
          switch (offset) {
            case 0x08:
              s.src = Math.floor(s.src / 2 ** 32) * 2 ** 32 + v;
              break;
            case 0x0c:
              s.src = (v % 2 ** 21) * 2 ** 32 + (s.src % 2 ** 32);
              break;
            case 0x10:
              s.dst = Math.floor(s.dst / 2 ** 32) * 2 ** 32 + v;
              break;
            case 0x14:
              s.dst = (v % 2 ** 21) * 2 ** 32 + (s.dst % 2 ** 32);
              break;
            case 0x18:
              s.len = Math.min(v, MAX_LEN);
              break;
            case 0x1c:
              if (v === 1) {
                s.status = 1;
                copy.armIn(1000);
              }
              break;
            case 0x20:
              s.status &= ~(v & 6);
              if ((s.status & 6) === 0) ctx.irq.lower();
              break;
          }
        },
      },
      { valid: { min: 4, max: 4 }, impl: { min: 4, max: 4 } },
    );
    ctx.pci!.bar(0, { kind: 'memory', size: 0x1000 }, regs);

    return {
      reset() {
        Object.assign(s, fresh());
        copy.cancel();
        ctx.irq.lower();
      },
      saveState: () => ({ ...s }),
    };
  },
});
