/**
 * pc-testdev: QEMU's x86 ISA test device (`hw/misc/pc-testdev.c`, as in QEMU 7.2), the device
 * `tests/qtest/endianness-test.c` drives to check how the memory core splits and combines
 * accesses. It sits on the platform bus (QEMU: the ISA bus, no PCI identity) at fixed places:
 *
 * | where | QEMU region | size | ops (QEMU's `MemoryRegionOps`) |
 * |---|---|---|---|
 * | I/O 0xe0 | pc-testdev-ioport | 4 | no `valid`/`impl`: every size valid (aligned), callbacks of 1..4 bytes; little-endian |
 * | I/O 0xe4 | pc-testdev-flush-page | 4 | valid 4..4; reads 0; a write flushes a guest page (no guest-visible effect) |
 * | I/O 0xe8 | pc-testdev-ioport-byte | 4 | valid 1..4, impl 1..1: the same register, one byte per callback |
 * | I/O 0x2000 | pc-testdev-irq-line | 24 | valid 1..1; reads 0; a write at offset n sets ISA IRQ n to `!!value` |
 * | memory 0xff000000 | pc-testdev-iomem | 64 KiB | no `valid`/`impl`; a little-endian byte buffer |
 *
 * The ioport register is one 32-bit value: an access of `len` bytes at offset `addr` reads or
 * replaces bytes `addr & 3 .. (addr & 3) + len - 1` of it, so 0xe0 and 0xe8 are two views of it.
 *
 * Differences from QEMU, where QEMU itself is undefined or aborts:
 * - A write to 0x2010..0x2017 asserts in QEMU (`isa_get_irq`: only 16 ISA IRQs); here it is
 *   refused (`access-error`) and logged, and no line changes.
 * - QEMU's flush-page write mprotects the host page behind a guest page; nothing a guest or a
 *   qtest client can see, so here it does nothing.
 * - The ISA IRQ outputs are the platform IRQ lines `isa-irq-0` .. `isa-irq-15`; whether they
 *   reach the machine's interrupt controller is up to the machine (`MachineModel.platformIrq`:
 *   pc and q35 wire them to ioapic input n).
 *
 * QEMU's pc-testdev has no reset handler and no vmstate: the register and iomem survive a
 * reset. Here they are saved (`saveState`) for hot reload and snapshots.
 */
import { definePlugin, type GuestPhysAddr, type IoPortAddr, type IrqHandle } from '@emuhost/sdk';

/** Where QEMU's realize places each region. */
const IOPORT = 0xe0;
const FLUSH = 0xe4;
const IOPORT_BYTE = 0xe8;
const IRQ_LINES = 0x2000;
const IOMEM = 0xff000000;
/** QEMU's IOMEM_LEN. */
const IOMEM_LEN = 0x10000;
/** The irq-line region's size (24 ports)... */
const IRQ_REGION_SIZE = 24;
/** ...of which only these are ISA IRQs (ISA_NUM_IRQS). */
const ISA_NUM_IRQS = 16;

/** What `saveState` returns (stateVersion 1). */
export interface PcTestdevState {
  readonly ioportData: number;
  readonly iomem: Uint8Array;
}

function parseState(data: unknown): { ioportData: number; iomem: Uint8Array } {
  const s = data as Partial<PcTestdevState> | null;
  if (
    s === null ||
    typeof s !== 'object' ||
    typeof s.ioportData !== 'number' ||
    // Saved state may come from another realm: a view, not necessarily this realm's Uint8Array.
    !ArrayBuffer.isView(s.iomem) ||
    s.iomem.byteLength !== IOMEM_LEN
  )
    throw new Error('pc-testdev: saved state is malformed');
  const iomem = new Uint8Array(IOMEM_LEN);
  iomem.set(new Uint8Array(s.iomem.buffer, s.iomem.byteOffset, IOMEM_LEN));
  return { ioportData: s.ioportData >>> 0, iomem };
}

/** The bytes `addr & 3 .. + len` of the 32-bit register, as test_ioport_{read,write} mask them. */
function ioportMask(addr: number, len: number): { mask: number; shift: number } {
  const shift = (addr & 3) * 8;
  const bits = len * 8;
  return { mask: ((0xffffffff >>> (32 - bits)) << shift) >>> 0, shift };
}

export default definePlugin({
  kind: 'device',
  platform: true,
  stateVersion: 1,
  create(ctx, saved) {
    const platform = ctx.platform;
    if (platform === undefined) throw new Error('pc-testdev sits on the platform (ISA) bus only');
    const restored = saved === undefined ? undefined : parseState(saved);
    let ioportData = restored?.ioportData ?? 0;
    const iomem = restored?.iomem ?? new Uint8Array(IOMEM_LEN);

    // test_ioport_read / test_ioport_write, shared by the ioport and ioport-byte regions.
    const ioportOps = {
      read(addr: number, len: number) {
        const { mask, shift } = ioportMask(addr, len);
        return ((ioportData & mask) >>> 0) >>> shift;
      },
      write(addr: number, len: number, data: number | bigint) {
        const { mask, shift } = ioportMask(addr, len);
        // QEMU: `ioport_data |= data << start_bit` in 32 bits; data is already len bytes wide.
        const v = Number(BigInt.asUintN(32, BigInt(data) << BigInt(shift)));
        ioportData = ((ioportData & ~mask) | v) >>> 0;
        return undefined;
      },
    };
    const ioport = ctx.mmio('pc-testdev-ioport', 4, ioportOps, { endianness: 'little' });
    const ioportByte = ctx.mmio('pc-testdev-ioport-byte', 4, ioportOps, {
      valid: { min: 1, max: 4 },
      impl: { min: 1, max: 1 },
      endianness: 'little',
    });

    const flush = ctx.mmio(
      'pc-testdev-flush-page',
      4,
      {
        read: () => 0,
        // QEMU maps the guest page at `data & ~0xfff` and mprotects the host page behind it
        // off and on again: invisible to the guest, so nothing to do here.
        write: () => undefined,
      },
      { valid: { min: 4, max: 4 }, endianness: 'little' },
    );

    const lines: IrqHandle[] = [];
    for (let n = 0; n < ISA_NUM_IRQS; n++) lines.push(platform.irq(`isa-irq-${n}`));
    const irq = ctx.mmio(
      'pc-testdev-irq-line',
      IRQ_REGION_SIZE,
      {
        read: () => 0,
        write(addr, _len, data) {
          const line = lines[addr];
          if (line === undefined) {
            // QEMU asserts here (isa_get_irq: isairq < ISA_NUM_IRQS) and aborts.
            ctx.log.warn(`write to port 0x${(IRQ_LINES + addr).toString(16)}: no ISA IRQ ${addr}`);
            return 'access-error';
          }
          line.set(data === 0 || data === 0n ? 0 : 1);
          return undefined;
        },
      },
      { valid: { min: 1, max: 1 }, endianness: 'little' },
    );

    // test_iomem_read / test_iomem_write: memcpy to and from the buffer on a little-endian host.
    const mem = ctx.mmio(
      'pc-testdev-iomem',
      IOMEM_LEN,
      {
        read(addr, len) {
          let v = 0;
          for (let i = len - 1; i >= 0; i--) v = v * 256 + (iomem[addr + i] ?? 0);
          return v;
        },
        write(addr, len, val) {
          const v = BigInt(val);
          for (let i = 0; i < len && addr + i < IOMEM_LEN; i++)
            iomem[addr + i] = Number((v >> BigInt(8 * i)) & 0xffn);
          return undefined;
        },
      },
      { endianness: 'little' },
    );

    platform.mapIo(ioport, IOPORT as IoPortAddr);
    platform.mapIo(flush, FLUSH as IoPortAddr);
    platform.mapIo(ioportByte, IOPORT_BYTE as IoPortAddr);
    platform.mapIo(irq, IRQ_LINES as IoPortAddr);
    platform.map(mem, IOMEM as GuestPhysAddr);

    return {
      saveState: (): PcTestdevState => ({ ioportData, iomem: iomem.slice() }),
    };
  },
});
