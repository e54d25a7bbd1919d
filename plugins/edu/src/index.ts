/**
 * edu: QEMU's educational PCI device (hw/misc/edu.c, docs/specs/edu.rst), as an emuhost plugin.
 *
 * PCI 1234:11e8, revision 0x10, class 0x00ff00 (PCI_CLASS_OTHERS), INTA, one MSI vector
 * (64-bit address, no per-vector mask). BAR0: 32-bit non-prefetchable memory, 1 MiB, with
 * QEMU's access rules (valid 4..8 bytes, implemented 4..8, aligned only): the memory core
 * rejects 1- and 2-byte and unaligned accesses before the device sees them (reads give 0).
 * Below 0x80 only 4-byte accesses are served (an 8-byte read there is all ones, an 8-byte
 * write is ignored); at 0x80 and above 4- and 8-byte. Offsets match exactly; any other offset
 * reads all ones at the access size and ignores writes.
 *
 *   0x00 RO  identification 0x010000ed
 *   0x04 RW  liveness: a write stores ~value
 *   0x08 RW  factorial: a write (ignored while COMPUTING) stores n and sets COMPUTING; the
 *            result n! mod 2^32 replaces it when the computation completes
 *   0x20 RW  status: 0x01 COMPUTING (read-only), 0x80 raise interrupt 0x1 after a factorial
 *   0x24 RO  interrupt status
 *   0x60 WO  interrupt raise: status |= value, then one MSI message (MSI enabled) or INTx up
 *   0x64 WO  interrupt ack: status &= ~value; INTx down when it reaches 0 (MSI disabled)
 *   0x80 RW  DMA source address       } 4 or 8 bytes; a 4-byte write stores the value
 *   0x88 RW  DMA destination address  } zero-extended; writes are ignored while RUN is set
 *   0x90 RW  DMA count (bytes)        }
 *   0x98 RW  DMA command: 0x1 RUN, 0x2 direction (0 RAM->EDU, 1 EDU->RAM), 0x4 raise
 *            interrupt 0x100 when done. A write without RUN, or while RUN is set, is ignored.
 *   0xa0 RO  DMA status (emuhost addition, see below)
 *
 * The DMA buffer is 4 KiB inside the device at device address 0x40000..0x40fff, reachable
 * only by the DMA engine. A transfer completes 100 ms of virtual time after the command write.
 * The RAM-side address is ANDed with the `dma_mask` option (default (1 << 28) - 1), as
 * edu_clamp_addr does, with a guest-error log line when that changes it.
 *
 * Where this model deliberately differs from QEMU:
 *
 * - Factorial timing. QEMU computes in a worker thread, so a driver must poll COMPUTING.
 *   Devices here have no threads and never read real time: the result is stored 1 µs of
 *   virtual time after the write (a timer), so COMPUTING is observable and a driver that
 *   polls the status while stepping the clock sees it clear. Over qtest, a client written for
 *   QEMU that polls without stepping sees it clear too (docs/qtest.md, "Polling without the
 *   clock"). n >= 34 gives 0 (34! has 32
 *   factors of two), so a huge n costs nothing.
 * - Out-of-range DMA. QEMU 7.2 aborts the whole emulator (and rejects the legitimate full
 *   4096-byte transfer by an off-by-one); current QEMU logs and then reads or writes past its
 *   buffer. Here the range [addr, addr + cnt) must lie inside [0x40000, 0x41000), computed
 *   without overflow: a full 4096-byte transfer at 0x40000 works, anything else is REFUSED as
 *   a whole (dropped, never clamped): no byte moves, RUN clears, and DMA status says why.
 * - DMA result. QEMU ignores it. Here every completed transfer sets DMA status (0xa0):
 *     0 ok (also cnt = 0, which moves nothing)
 *     1 out of range: the device-side range is not inside the 4 KiB buffer
 *     2 decode error: nothing at the RAM-side address
 *     3 access error: the target refused the access
 *     4 IOMMU fault: the IOMMU refused the translation
 *     5 bus master disabled: PCI COMMAND.MASTER is clear
 *     6 other failure (re-entrancy into this device, a faulted target, revoked DMA)
 *   It keeps its value until the next transfer completes. When the command asked for an
 *   interrupt (0x4), completion raises 0x100 whatever the outcome (as QEMU does, so a driver
 *   waiting for it never hangs), and a failure raises 0x200 with it. A failed EDU->RAM
 *   transfer writes nothing it did not complete; after a failed RAM->EDU transfer the bytes of
 *   the buffer in the range are unspecified (what was read before the fault).
 * - State. QEMU's edu has no vmstate; here the registers and the buffer are saved, and a
 *   pending factorial or DMA resumes: after a hot reload its named timer still holds the same
 *   deadline; restored into another machine it is re-armed for the time it had left.
 *
 * Like QEMU's edu it has no reset handler: its registers survive a system reset (only the
 * generic PCI reset applies: INTx low, MSI disabled).
 */
import { type DmaResult, definePlugin, iova } from '@emuhost/sdk';

const ID = 0x010000ed;
const STATUS_COMPUTING = 0x01;
const STATUS_IRQFACT = 0x80;
const FACT_IRQ = 0x001;
const DMA_IRQ = 0x100;
const DMA_ERROR_IRQ = 0x200;
const CMD_RUN = 0x1n;
const CMD_DIR_TO_RAM = 0x2n;
const CMD_IRQ = 0x4n;
const DMA_START = 0x40000n;
const DMA_SIZE = 0x1000;
const BAR_SIZE = 1 << 20;
/** Virtual time a factorial takes, in ns. */
const FACT_DELAY_NS = 1_000;
/** Virtual time a DMA transfer takes (QEMU: 100 ms of QEMU_CLOCK_VIRTUAL). */
const DMA_DELAY_NS = 100_000_000;
const ONES_64 = 0xffff_ffff_ffff_ffffn;
const LOW_32 = 0xffff_ffffn;
const DEFAULT_DMA_MASK = 2 ** 28 - 1;

/** DMA status (0xa0) codes. */
export const DMA_STATUS = {
  OK: 0,
  OUT_OF_RANGE: 1,
  DECODE_ERROR: 2,
  ACCESS_ERROR: 3,
  IOMMU_FAULT: 4,
  BUS_MASTER_DISABLED: 5,
  OTHER: 6,
} as const;

/** What `saveState` returns (stateVersion 1). */
export interface EduSavedState {
  readonly addr4: number;
  readonly fact: number;
  readonly status: number;
  readonly irqStatus: number;
  readonly dmaSrc: bigint;
  readonly dmaDst: bigint;
  readonly dmaCnt: bigint;
  readonly dmaCmd: bigint;
  readonly dmaStatus: number;
  /** The 4 KiB DMA buffer. */
  readonly buffer: Uint8Array;
  /** Virtual ns until the pending factorial completes, or -1. */
  readonly factRemainingNs: number;
  /** Virtual ns until the pending DMA completes, or -1. */
  readonly dmaRemainingNs: number;
}

interface Regs {
  addr4: number;
  fact: number;
  status: number;
  irqStatus: number;
  dmaSrc: bigint;
  dmaDst: bigint;
  dmaCnt: bigint;
  dmaCmd: bigint;
  dmaStatus: number;
}

const freshRegs = (): Regs => ({
  addr4: 0,
  fact: 0,
  status: 0,
  irqStatus: 0,
  dmaSrc: 0n,
  dmaDst: 0n,
  dmaCnt: 0n,
  dmaCmd: 0n,
  dmaStatus: DMA_STATUS.OK,
});

/** n! modulo 2^32, as edu.c's uint32 loop computes it. */
export function factorial32(n: number): number {
  if (n >= 34) return 0;
  let r = 1;
  for (let i = n; i > 0; i--) r = Math.imul(r, i) >>> 0;
  return r;
}

/** Whether [addr, addr + cnt) lies inside the DMA buffer window (exact, no overflow). */
export function inDmaWindow(addr: bigint, cnt: bigint): boolean {
  const size = BigInt(DMA_SIZE);
  return addr >= DMA_START && cnt <= size && addr - DMA_START <= size - cnt;
}

function dmaStatusOf(r: DmaResult): number {
  if (r === 'ok') return DMA_STATUS.OK;
  switch (r.result) {
    case 'decode-error':
      return DMA_STATUS.DECODE_ERROR;
    case 'access-error':
      return DMA_STATUS.ACCESS_ERROR;
    case 'iommu-fault':
      return DMA_STATUS.IOMMU_FAULT;
    case 'bus-master-disabled':
      return DMA_STATUS.BUS_MASTER_DISABLED;
    default:
      return DMA_STATUS.OTHER;
  }
}

const u32 = (x: unknown): x is number => typeof x === 'number' && x >>> 0 === x;
const u64 = (x: unknown): x is bigint => typeof x === 'bigint' && BigInt.asUintN(64, x) === x;
const remaining = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= -1;

/** Checks saved state before anything uses it; throws (the device is refused) if malformed. */
function parseState(data: unknown): { regs: Regs; buffer: Uint8Array; fact: number; dma: number } {
  const s = data as Partial<Record<keyof EduSavedState, unknown>> | null;
  const bad = (field: string): never => {
    throw new Error(`edu: saved state is malformed (${field})`);
  };
  if (s === null || typeof s !== 'object') return bad('not an object');
  for (const k of ['addr4', 'fact', 'status', 'irqStatus', 'dmaStatus'] as const)
    if (!u32(s[k])) bad(k);
  for (const k of ['dmaSrc', 'dmaDst', 'dmaCnt', 'dmaCmd'] as const) if (!u64(s[k])) bad(k);
  for (const k of ['factRemainingNs', 'dmaRemainingNs'] as const) if (!remaining(s[k])) bad(k);
  const b = s.buffer;
  if (!(ArrayBuffer.isView(b) && b.byteLength === DMA_SIZE)) return bad('buffer');
  const buffer = new Uint8Array(DMA_SIZE);
  buffer.set(new Uint8Array(b.buffer, b.byteOffset, DMA_SIZE));
  return {
    regs: {
      addr4: s.addr4 as number,
      fact: s.fact as number,
      status: (s.status as number) & (STATUS_COMPUTING | STATUS_IRQFACT),
      irqStatus: s.irqStatus as number,
      dmaSrc: s.dmaSrc as bigint,
      dmaDst: s.dmaDst as bigint,
      dmaCnt: s.dmaCnt as bigint,
      dmaCmd: s.dmaCmd as bigint,
      dmaStatus: s.dmaStatus as number,
    },
    buffer,
    fact: s.factRemainingNs as number,
    dma: s.dmaRemainingNs as number,
  };
}

export default definePlugin({
  kind: 'device',
  pci: {
    vendorId: 0x1234,
    deviceId: 0x11e8,
    revision: 0x10,
    classCode: 0x00ff00,
    interruptPin: 1,
  },
  options: {
    dma_mask: {
      type: 'number',
      default: DEFAULT_DMA_MASK,
      description:
        'mask ANDed with the RAM-side DMA address (QEMU default (1 << 28) - 1: 256 MiB); at most 2^53 - 1',
    },
  },
  stateVersion: 1,
  create(ctx, saved) {
    const pci = ctx.pci;
    if (pci === undefined) throw new Error('edu is a PCI device');
    const maskOpt = ctx.options.dma_mask ?? DEFAULT_DMA_MASK;
    if (typeof maskOpt !== 'number' || !Number.isSafeInteger(maskOpt) || maskOpt < 0)
      throw new Error(`edu: dma_mask must be an integer in [0, 2^53), not ${String(maskOpt)}`);
    const dmaMask = BigInt(maskOpt);

    const restored = saved === undefined ? undefined : parseState(saved);
    const r: Regs = restored?.regs ?? freshRegs();
    const buffer = restored?.buffer ?? new Uint8Array(DMA_SIZE);

    const msi = pci.addMsi({ vectors: 1, addr64: true, perVectorMask: false });

    const raiseIrq = (value: number) => {
      r.irqStatus = (r.irqStatus | value) >>> 0;
      if (r.irqStatus === 0) return;
      if (msi.enabled) {
        const res = msi.notify(0);
        if (res !== undefined && res !== 'ok')
          ctx.log.warn(`EDU: MSI message not delivered (${res.result})`);
      } else ctx.irq.raise();
    };
    const lowerIrq = (value: number) => {
      r.irqStatus = (r.irqStatus & ~value) >>> 0;
      if (r.irqStatus === 0 && !msi.enabled) ctx.irq.lower();
    };

    const factTimer = ctx.clock.timer('fact', () => {
      if ((r.status & STATUS_COMPUTING) === 0) return;
      r.fact = factorial32(r.fact);
      r.status &= ~STATUS_COMPUTING;
      if (r.status & STATUS_IRQFACT) raiseIrq(FACT_IRQ);
    });

    /** The RAM-side address, masked as edu_clamp_addr does. */
    const clamp = (addr: bigint): number => {
      const res = addr & dmaMask;
      if (res !== addr)
        ctx.log.warn(`EDU: clamping DMA 0x${addr.toString(16)} to 0x${res.toString(16)}!`);
      return Number(res);
    };

    const dmaTimer = ctx.clock.timer('dma', () => {
      if ((r.dmaCmd & CMD_RUN) === 0n) return;
      const toRam = (r.dmaCmd & CMD_DIR_TO_RAM) !== 0n;
      const devAddr = toRam ? r.dmaSrc : r.dmaDst;
      const ramAddr = toRam ? r.dmaDst : r.dmaSrc;
      const cnt = r.dmaCnt;
      let status: number;
      if (!inDmaWindow(devAddr, cnt)) {
        ctx.log.warn(
          `EDU: DMA range 0x${devAddr.toString(16)}+0x${cnt.toString(16)} out of bounds (0x40000-0x40fff): refused`,
        );
        status = DMA_STATUS.OUT_OF_RANGE;
      } else if (cnt === 0n) {
        status = DMA_STATUS.OK;
      } else {
        const off = Number(devAddr - DMA_START);
        const view = buffer.subarray(off, off + Number(cnt));
        const at = iova(clamp(ramAddr));
        status = dmaStatusOf(toRam ? ctx.dma.write(at, view) : ctx.dma.read(at, view));
      }
      r.dmaCmd &= ~CMD_RUN;
      r.dmaStatus = status;
      if (r.dmaCmd & CMD_IRQ)
        raiseIrq(status === DMA_STATUS.OK ? DMA_IRQ : DMA_IRQ | DMA_ERROR_IRQ);
    });

    // Resume what was pending. A hot reload finds its named timers still armed (same
    // deadline); a restore into another machine re-arms them for the time they had left.
    const resume = (
      t: typeof factTimer,
      active: boolean,
      left: number | undefined,
      full: number,
    ) => {
      if (!active) t.cancel();
      else if (!t.pending) t.armIn(left === undefined || left < 0 ? full : left);
    };
    resume(factTimer, (r.status & STATUS_COMPUTING) !== 0, restored?.fact, FACT_DELAY_NS);
    resume(dmaTimer, (r.dmaCmd & CMD_RUN) !== 0n, restored?.dma, DMA_DELAY_NS);

    const read64 = (offset: number): bigint => {
      switch (offset) {
        case 0x80:
          return r.dmaSrc;
        case 0x88:
          return r.dmaDst;
        case 0x90:
          return r.dmaCnt;
        case 0x98:
          return r.dmaCmd;
        case 0xa0:
          return BigInt(r.dmaStatus);
        default:
          return ONES_64;
      }
    };

    const region = ctx.mmio(
      'edu-mmio',
      BAR_SIZE,
      {
        read(offset, size) {
          if (offset < 0x80) {
            if (size !== 4) return ONES_64;
            switch (offset) {
              case 0x00:
                return ID;
              case 0x04:
                return r.addr4;
              case 0x08:
                return r.fact;
              case 0x20:
                return r.status;
              case 0x24:
                return r.irqStatus;
              default:
                return 0xffffffff;
            }
          }
          if (size !== 4 && size !== 8) return ONES_64;
          const v = read64(offset);
          return size === 8 ? v : Number(v & LOW_32);
        },
        write(offset, size, value) {
          if (offset < 0x80) {
            if (size !== 4) return;
            const v = Number(value) >>> 0;
            switch (offset) {
              case 0x04:
                r.addr4 = ~v >>> 0;
                break;
              case 0x08:
                if (r.status & STATUS_COMPUTING) break;
                r.fact = v;
                r.status |= STATUS_COMPUTING;
                factTimer.armIn(FACT_DELAY_NS);
                break;
              case 0x20:
                if (v & STATUS_IRQFACT) r.status |= STATUS_IRQFACT;
                else r.status &= ~STATUS_IRQFACT;
                break;
              case 0x60:
                raiseIrq(v);
                break;
              case 0x64:
                lowerIrq(v);
                break;
            }
            return;
          }
          if (size !== 4 && size !== 8) return;
          // A 4-byte write replaces the whole register with the zero-extended value.
          const v = typeof value === 'bigint' ? BigInt.asUintN(64, value) : BigInt(value >>> 0);
          if (r.dmaCmd & CMD_RUN) return;
          switch (offset) {
            case 0x80:
              r.dmaSrc = v;
              break;
            case 0x88:
              r.dmaDst = v;
              break;
            case 0x90:
              r.dmaCnt = v;
              break;
            case 0x98:
              if ((v & CMD_RUN) === 0n) break;
              r.dmaCmd = v;
              dmaTimer.armIn(DMA_DELAY_NS);
              break;
          }
        },
      },
      { valid: { min: 4, max: 8 }, impl: { min: 4, max: 8 } },
    );
    pci.bar(0, { kind: 'memory', size: BAR_SIZE }, region);

    return {
      // No reset(): like QEMU's edu, the registers survive a system reset.
      saveState: (): EduSavedState => ({
        ...r,
        buffer: buffer.slice(),
        factRemainingNs: factTimer.pending ? factTimer.deadline - ctx.clock.now() : -1,
        dmaRemainingNs: dmaTimer.pending ? dmaTimer.deadline - ctx.clock.now() : -1,
      }),
    };
  },
});
