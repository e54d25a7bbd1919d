/**
 * virt: QEMU's RISC-V `virt` machine (hw/riscv/virt.c) as an emuhost machine plugin.
 *
 * RAM at 0x80000000; a mask ROM at 0x1000 with QEMU's reset vector; per hart an `rv64` CPU
 * (or the `-cpu` model of the riscv64 architecture); the CLINT (ACLINT MSWI + MTIMER, 10 MHz),
 * the PLIC (95 sources, M and S contexts per hart), an ns16550a UART on `-serial` 0, the
 * sifive,test power device, the goldfish RTC, eight virtio-mmio slots, a generic ECAM PCIe
 * host (`pcie.0`) with its I/O, 32-bit and 64-bit windows and INTx swizzled onto PLIC
 * 32..35; with `iommu-sys=on`, the platform RISC-V IOMMU (the riscv-iommu plugin, which the
 * host adds) at 0x3010000 translating pcie.0, its wired interrupts on PLIC 36..39. The
 * device tree is generated from the machine as built when it is complete
 * (`ready`), or taken from `-dtb`; `/chosen` gets `-append` and the initrd either way.
 *
 * - `memory-map.ts`: addresses and interrupt numbers; `boot.ts`: where images go and the
 *   reset vector; `device-tree.ts`: the generated tree; `devices/`: CLINT, PLIC, UART, test,
 *   RTC; `fdt/`: the flattened device tree library.
 */
import { type CpuHandle, definePlugin, EmuhostError, type GuestPhysAddr } from '@emuhost/sdk';
import { fdtAddress, layout, resetRom } from './boot.js';
import { buildTree } from './device-tree.js';
import { Clint } from './devices/aclint.js';
import type { VirtDevice } from './devices/device.js';
import { GoldfishRtc } from './devices/goldfish-rtc.js';
import { Plic } from './devices/plic.js';
import { SifiveTest } from './devices/sifive-test.js';
import { Uart16550 } from './devices/uart16550.js';
import { elfKernel } from './elf-kernel.js';
import { parseDtb, setChosen, toDtb } from './fdt/index.js';
import { checkKernelImage } from './kernel-image.js';
import { IRQS, MEMMAP, PLIC_SOURCES, TIMEBASE, VIRTIO_SLOTS } from './memory-map.js';
import { emptyVirtioMmio } from './virtio-mmio-slot.js';

/** The id the host gives the machine's own RISC-V IOMMU (QEMU's device is riscv-iommu-sys). */
const IOMMU_ID = 'iommu-sys';

/** QEMU's OnOffAuto as `-machine virt,iommu-sys=...` takes it; auto means off on virt. */
function parseOnOff(v: string, who: { plugin: string }): boolean {
  const s = v.toLowerCase();
  if (['on', 'true', 'yes'].includes(s)) return true;
  if (['off', 'false', 'no', 'auto'].includes(s)) return false;
  throw new EmuhostError('E_OPTION', `iommu-sys=${v}: on, off or auto`, who);
}

/** 2026-01-01T00:00:00Z: the RTC's time at virtual time 0 unless the host says otherwise. */
const DEFAULT_RTC_BASE_NS = 1_767_225_600 * 1e9;

export default definePlugin({
  kind: 'machine',
  cpu: { arch: 'riscv64', default: 'rv64' },
  options: {
    'rtc-base-ns': {
      type: 'number',
      default: DEFAULT_RTC_BASE_NS,
      description:
        'The RTC reads this many ns since the Unix epoch at virtual time 0 (the host sets it from -rtc base=...; fixed by default so that runs repeat)',
    },
    aia: {
      type: 'string',
      default: 'none',
      description: "Interrupt controllers: only 'none' (the PLIC) is implemented",
    },
    'iommu-sys': {
      type: 'string',
      default: 'auto',
      description:
        'The platform RISC-V IOMMU (riscv-iommu plugin) at 0x3010000, translating pcie.0, wired to PLIC 36..39: on, or off/auto (none, as QEMU)',
    },
  },
  create(ctx) {
    const who = { plugin: 'virt' };
    if (ctx.options.aia !== 'none')
      throw new EmuhostError(
        'E_OPTION',
        `aia=${String(ctx.options.aia)} is not implemented; use aia=none (the PLIC)`,
        who,
      );
    if (ctx.cpu === undefined || ctx.clock === undefined || ctx.load === undefined)
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        'the virt machine needs a host with SDK 1.4 (CPUs, the clock, the loader)',
        who,
      );
    const iommuSys = parseOnOff(String(ctx.options['iommu-sys']), who);
    const cpuOf = ctx.cpu;
    const load = ctx.load;
    const place = (name: string, d: VirtDevice, base: number) =>
      ctx.place(ctx.system, ctx.mmio(name, d.size, d.ops, d.rules), base);

    ctx.place(ctx.system, ctx.ram('riscv_virt_board.ram', ctx.ramSize), MEMMAP.dram.base);
    const mrom = ctx.rom('riscv_virt_board.mrom', new Uint8Array(MEMMAP.mrom.size));
    ctx.place(ctx.system, mrom, MEMMAP.mrom.base);

    const smp = ctx.smp ?? 1;
    const harts: CpuHandle[] = [];
    for (let i = 0; i < smp; i++)
      harts.push(cpuOf(i, { resetvec: MEMMAP.mrom.base, timebase: TIMEBASE }));

    const clint = new Clint({
      clock: ctx.clock,
      timebase: TIMEBASE,
      harts: harts.map((h) => ({ msip: h.irq('msip'), mtip: h.irq('mtip') })),
      log: ctx.log,
    });
    place('riscv.aclint', clint, MEMMAP.clint.base);

    const plic = new Plic({
      sources: PLIC_SOURCES,
      contexts: harts.flatMap((h) => [h.irq('meip'), h.irq('seip')]),
      log: ctx.log,
    });
    place('riscv.sifive.plic', plic, MEMMAP.plic.base);
    const source = (n: number) => (level: 0 | 1) => plic.setSource(n, level);

    const serial = ctx.serial?.(0);
    const uart = new Uart16550({
      clock: ctx.clock,
      irq: source(IRQS.uart0),
      ...(serial !== undefined && { backend: serial }),
      log: ctx.log,
    });
    place('serial', uart, MEMMAP.uart0.base);

    const test = new SifiveTest({
      shutdown: (kind, code) => ctx.requestShutdown?.(kind, code),
      log: ctx.log,
    });
    place('riscv.sifive.test', test, MEMMAP.test.base);

    const rtc = new GoldfishRtc({
      clock: ctx.clock,
      baseNs: BigInt(Math.round(Number(ctx.options['rtc-base-ns']))),
      irq: source(IRQS.rtc),
      log: ctx.log,
    });
    place('goldfish_rtc', rtc, MEMMAP.rtc.base);

    // The virtio-mmio transports: an empty one answers at each free slot (device ID 0), and a
    // `-device virtio-*-device` takes the lowest free slot with its PLIC source.
    const emptySlots = Array.from({ length: VIRTIO_SLOTS }, (_, slot) => {
      const r = ctx.mmio(`virtio-mmio@${slot}`, MEMMAP.virtio.size, emptyVirtioMmio(), {
        valid: { min: 1, max: 4 },
        impl: { min: 4, max: 4 },
      });
      ctx.place(ctx.system, r, MEMMAP.virtio.base + slot * MEMMAP.virtio.size);
      return r;
    });
    const slotTaken = new Array<boolean>(VIRTIO_SLOTS).fill(false);

    // PCIe: the bus's memory and I/O spaces, seen by the CPU through windows.
    const pciMem = ctx.container('pcie-mmio', 2 ** 53);
    const pciIo = ctx.container('pcie-io', 0x10000);
    const abort = (name: string, size: number) =>
      ctx.unassigned?.(name, size) ??
      ctx.mmio(name, size, { read: () => 'decode-error', write: () => 'decode-error' });
    ctx.place(pciMem, abort('pcie-mmio-unassigned', 2 ** 53), 0, -1000);
    ctx.place(pciIo, abort('pcie-io-unassigned', 0x10000), 0, -1000);
    const window = (name: string, space: typeof pciMem, at: number, size: number, base = at) =>
      ctx.place(ctx.system, ctx.alias(name, space, at, size), base);
    window('gpex_mmio_window', pciMem, MEMMAP.pcieMmio.base, MEMMAP.pcieMmio.size);
    window('gpex_mmio_window_high', pciMem, MEMMAP.pcieMmioHigh.base, MEMMAP.pcieMmioHigh.size);
    window('gpex_ioport_window', pciIo, 0, MEMMAP.pciePio.size, MEMMAP.pciePio.base);
    const pcie = ctx.pciHost({
      name: 'pcie.0',
      memory: pciMem,
      io: pciIo,
      firstSlot: 1,
      ecam: { base: MEMMAP.pcieEcam.base as GuestPhysAddr, size: MEMMAP.pcieEcam.size },
      setIrq: (line, level) => plic.setSource(IRQS.pcie + line, level),
    });
    // QEMU's gpex root function at 00.0: the Red Hat PCIe host bridge.
    pcie.addFunction(0, 'gpex-root', { vendorId: 0x1b36, deviceId: 0x0008, classCode: 0x060000 });

    const devices: VirtDevice[] = [clint, plic, uart, test, rtc];
    let dtb: Uint8Array | undefined;
    /** What `ready` placed, copied in again at every reset (QEMU's ROM blobs do the same). */
    let images: (readonly [number, Uint8Array])[] = [];

    const fail = (text: string) => {
      throw new EmuhostError('E_BAD_ARGUMENT', text, who);
    };
    const loadImages = () => {
      for (const [at, bytes] of images) load(at as GuestPhysAddr, bytes);
    };

    return {
      defaultPciBus: 'pcie.0',
      ...(iommuSys && {
        // QEMU's riscv-iommu-sys: the host adds the riscv-iommu plugin as `iommu-sys`, with
        // every pcie.0 requester behind it (device_id = RID, as the tree's iommu-map says).
        iommu: {
          base: MEMMAP.iommuSys.base as GuestPhysAddr,
          bus: 'pcie.0',
          builtin: { plugin: 'riscv-iommu', id: IOMMU_ID },
        },
      }),
      platformIrq(device: string, name: string) {
        // Its four wired interrupt vectors, wsi0..wsi3, are PLIC sources 36..39.
        const v = /^wsi([0-3])$/.exec(name);
        if (!iommuSys || device !== IOMMU_ID || v === null) return undefined;
        return source(IRQS.iommu + Number(v[1]));
      },
      platformSlot(_device: string, kind: string) {
        if (kind !== 'virtio-mmio') return undefined;
        const slot = slotTaken.indexOf(false);
        if (slot < 0) return undefined;
        slotTaken[slot] = true;
        ctx.setEnabled(emptySlots[slot]!, false);
        return {
          base: (MEMMAP.virtio.base + slot * MEMMAP.virtio.size) as GuestPhysAddr,
          size: MEMMAP.virtio.size,
          irq: source(IRQS.virtio + slot),
          release: () => {
            slotTaken[slot] = false;
            ctx.setEnabled(emptySlots[slot]!, true);
          },
        };
      },
      ready() {
        const fw = ctx.firmware;
        if (fw?.kernel !== undefined) checkKernelImage(fw.kernel);
        const elf = fw?.kernel !== undefined ? elfKernel(fw.kernel) : undefined;
        const where = layout(ctx.ramSize, fw?.bios, fw?.kernel, fw?.initrd, elf);
        const tree =
          fw?.dtb !== undefined
            ? parseDtb(fw.dtb)
            : buildTree({
                ramSize: ctx.ramSize,
                timebase: TIMEBASE,
                harts: harts.map((h) => h.info),
                iommu: iommuSys,
              });
        setChosen(tree.root, {
          ...(fw?.cmdline !== undefined && fw.cmdline !== '' && { bootargs: fw.cmdline }),
          ...(where.initrd !== undefined && { initrd: where.initrd }),
        });
        dtb = toDtb(tree);
        const fdtAt = fdtAddress(ctx.ramSize, dtb.length);
        const ramEnd = MEMMAP.dram.base + ctx.ramSize;
        const fits = (what: string, at: number, size: number) => {
          if (at + size > ramEnd)
            fail(
              `${what} (${size} bytes at 0x${at.toString(16)}) does not fit in ${Math.floor(ctx.ramSize / 2 ** 20)} MiB of RAM: give the machine more memory (-m)`,
            );
        };
        images = [];
        if (fw?.bios !== undefined) {
          fits('the -bios image', MEMMAP.dram.base, fw.bios.length);
          images.push([MEMMAP.dram.base, fw.bios]);
        }
        if (elf !== undefined) {
          if (elf.low < MEMMAP.dram.base) fail('the -kernel ELF file loads below RAM');
          fits('the -kernel ELF file', elf.low, elf.high - elf.low);
          images.push(...elf.pieces);
        } else if (fw?.kernel !== undefined && where.kernel !== undefined) {
          fits('the -kernel image', where.kernel.addr, where.kernel.size);
          images.push([where.kernel.addr, fw.kernel]);
        }
        if (fw?.initrd !== undefined && where.initrd !== undefined) {
          fits('the -initrd image', where.initrd.start, fw.initrd.length);
          if (where.initrd.end > fdtAt)
            fail(
              'the -initrd image reaches the device tree at the end of RAM: give the machine more memory (-m)',
            );
          images.push([where.initrd.start, fw.initrd]);
        }
        const next = where.kernel?.addr ?? MEMMAP.dram.base + 0x200000;
        images.push([fdtAt, dtb], [MEMMAP.mrom.base, resetRom(where.start, fdtAt, next)]);
        loadImages();
      },
      deviceTree: () => dtb ?? new Uint8Array(0),
      reset() {
        for (const d of devices) d.reset();
        loadImages();
      },
      saveState: () => devices.map((d) => d.saveState()),
      loadState(state: unknown) {
        if (!Array.isArray(state) || state.length !== devices.length)
          fail('virt machine state: expected one entry per device');
        for (const [i, d] of devices.entries()) d.loadState((state as unknown[])[i]);
      },
    };
  },
});
