/**
 * The virt machine's device tree, generated from the machine as built (QEMU's
 * `create_fdt`): the harts with what their CPU plugin says it implements, the memory, the
 * CLINT, PLIC, UART, RTC, test device, virtio-mmio slots, the ECAM PCIe host with its windows
 * and INTx map, and the RISC-V IOMMU when there is one. Nothing is advertised that the
 * machine does not have.
 */
import { type Fdt, type FdtNode, fdt, node, setChosen, strList, u32, u64 } from './fdt/index.js';
import { IRQS, MEMMAP, PLIC_SOURCES, VIRTIO_SLOTS } from './memory-map.js';

/** What the tree describes. */
export interface TreeSpec {
  readonly ramSize: number;
  readonly timebase: number;
  /** Per hart, its CPU plugin's `info` (`riscv,isa`, `mmu-type`...). */
  readonly harts: readonly Readonly<Record<string, string | number | boolean>>[];
  /** The platform RISC-V IOMMU, with the PCIe requesters it translates. */
  readonly iommu?: boolean;
  readonly bootargs?: string;
  readonly initrd?: { readonly start: number; readonly end: number };
}

/** Two cells each: address then size, as the root's #address-cells/#size-cells = 2 say. */
const reg = (base: number, size: number) => u64(base, size);

export function buildTree(spec: TreeSpec): Fdt {
  let next = 1;
  const alloc = () => next++;
  const cpuPh = spec.harts.map(() => alloc());
  const intcPh = spec.harts.map(() => alloc());
  const plicPh = alloc();
  const testPh = alloc();
  const iommuPh = 0x8000;

  const cpus = node(
    'cpus',
    { '#address-cells': 1, '#size-cells': 0, 'timebase-frequency': spec.timebase },
    [
      ...spec.harts.map((info, i) =>
        node(
          `cpu@${i}`,
          [
            ['phandle', cpuPh[i]!],
            ['device_type', 'cpu'],
            ['reg', i],
            ['status', 'okay'],
            ['compatible', 'riscv'],
            ...isaProps(info),
          ],
          [
            node('interrupt-controller', {
              '#interrupt-cells': 1,
              'interrupt-controller': true,
              compatible: 'riscv,cpu-intc',
              phandle: intcPh[i]!,
            }),
          ],
        ),
      ),
      node('cpu-map', {}, [
        node(
          'cluster0',
          {},
          spec.harts.map((_, i) => node(`core${i}`, { cpu: cpuPh[i]! })),
        ),
      ]),
    ],
  );

  const perHart = (a: number, b: number) => u32(...intcPh.flatMap((ph) => [ph, a, ph, b]));
  const soc: FdtNode[] = [
    node(`rtc@${hex(MEMMAP.rtc.base)}`, {
      interrupts: IRQS.rtc,
      'interrupt-parent': plicPh,
      reg: reg(MEMMAP.rtc.base, MEMMAP.rtc.size),
      compatible: 'google,goldfish-rtc',
    }),
    node(`serial@${hex(MEMMAP.uart0.base)}`, {
      interrupts: IRQS.uart0,
      'interrupt-parent': plicPh,
      'clock-frequency': 3686400,
      reg: reg(MEMMAP.uart0.base, MEMMAP.uart0.size),
      compatible: 'ns16550a',
    }),
    node(`test@${hex(MEMMAP.test.base)}`, {
      phandle: testPh,
      reg: reg(MEMMAP.test.base, MEMMAP.test.size),
      compatible: ['sifive,test1', 'sifive,test0', 'syscon'],
    }),
  ];
  if (spec.iommu)
    soc.push(
      node(`iommu@${hex(MEMMAP.iommuSys.base)}`, {
        // The PLIC takes one interrupt cell: QEMU 10 writes two (a level flag) and Linux then
        // wires the fault interrupt to the wrong source. One cell per interrupt here.
        interrupts: u32(IRQS.iommu, IRQS.iommu + 1, IRQS.iommu + 2, IRQS.iommu + 3),
        'interrupt-parent': plicPh,
        reg: reg(MEMMAP.iommuSys.base, MEMMAP.iommuSys.size),
        phandle: iommuPh,
        '#iommu-cells': 1,
        compatible: 'riscv,iommu',
      }),
    );
  for (let slot = VIRTIO_SLOTS - 1; slot >= 0; slot--) {
    const base = MEMMAP.virtio.base + slot * MEMMAP.virtio.size;
    soc.push(
      node(`virtio_mmio@${hex(base)}`, {
        interrupts: IRQS.virtio + slot,
        'interrupt-parent': plicPh,
        reg: reg(base, MEMMAP.virtio.size),
        compatible: 'virtio,mmio',
      }),
    );
  }
  soc.push(
    node(`plic@${hex(MEMMAP.plic.base)}`, {
      phandle: plicPh,
      'riscv,ndev': PLIC_SOURCES,
      reg: reg(MEMMAP.plic.base, MEMMAP.plic.size),
      // Per hart: M-mode external (11), then S-mode external (9).
      'interrupts-extended': perHart(11, 9),
      'interrupt-controller': true,
      compatible: ['sifive,plic-1.0.0', 'riscv,plic0'],
      '#address-cells': 0,
      '#interrupt-cells': 1,
    }),
    node(`clint@${hex(MEMMAP.clint.base)}`, {
      // Per hart: M-mode software (3), then M-mode timer (7).
      'interrupts-extended': perHart(3, 7),
      reg: reg(MEMMAP.clint.base, MEMMAP.clint.size),
      compatible: ['sifive,clint0', 'riscv,clint0'],
    }),
    pcieNode(plicPh, spec.iommu === true ? iommuPh : undefined),
  );

  const root = node(
    '',
    {
      '#address-cells': 2,
      '#size-cells': 2,
      compatible: 'riscv-virtio',
      model: 'riscv-virtio,qemu',
    },
    [
      node('poweroff', { value: 0x5555, offset: 0, regmap: testPh, compatible: 'syscon-poweroff' }),
      node('reboot', { value: 0x7777, offset: 0, regmap: testPh, compatible: 'syscon-reboot' }),
      node(`memory@${hex(MEMMAP.dram.base)}`, {
        device_type: 'memory',
        reg: reg(MEMMAP.dram.base, spec.ramSize),
      }),
      cpus,
      node('aliases', { serial0: `/soc/serial@${hex(MEMMAP.uart0.base)}` }),
      node('chosen', {}),
      node(
        'soc',
        { '#address-cells': 2, '#size-cells': 2, compatible: 'simple-bus', ranges: true },
        soc,
      ),
    ],
  );
  setChosen(root, {
    stdoutPath: `/soc/serial@${hex(MEMMAP.uart0.base)}`,
    ...(spec.bootargs !== undefined && { bootargs: spec.bootargs }),
    ...(spec.initrd !== undefined && { initrd: spec.initrd }),
  });
  return fdt(root);
}

/** The CPU plugin's description as properties, strings as strings, lists split at commas. */
function isaProps(info: Readonly<Record<string, string | number | boolean>>) {
  const out: [string, Uint8Array | string | number][] = [];
  for (const key of ['riscv,isa-extensions', 'riscv,isa-base', 'riscv,isa', 'mmu-type']) {
    const v = info[key];
    if (typeof v !== 'string') continue;
    out.push([key, key === 'riscv,isa-extensions' ? strList(...v.split(',')) : v]);
  }
  return out;
}

/**
 * The generic ECAM host (`pci-host-ecam-generic`): config space, the I/O, 32-bit and 64-bit
 * memory windows, and INTA..INTD of each slot swizzled onto PLIC sources 32..35 (what the
 * core's PCI bus does: slot s, pin p drives line (s + p - 1) mod 4).
 */
function pcieNode(plic: number, iommu: number | undefined): FdtNode {
  const map: number[] = [];
  for (let slot = 0; slot < 4; slot++)
    for (let pin = 1; pin <= 4; pin++)
      map.push(slot << 11, 0, 0, pin, plic, IRQS.pcie + ((slot + pin - 1) % 4));
  const io = MEMMAP.pciePio;
  const m32 = MEMMAP.pcieMmio;
  const m64 = MEMMAP.pcieMmioHigh;
  const hi = (v: number) => Math.floor(v / 2 ** 32);
  const lo = (v: number) => v >>> 0;
  return node(`pci@${hex(MEMMAP.pcieEcam.base)}`, [
    ['interrupt-map-mask', u32(0x1800, 0, 0, 7)],
    ['interrupt-map', u32(...map)],
    ...(iommu !== undefined
      ? ([['iommu-map', u32(0, iommu, 0, 0x10000)]] as [string, Uint8Array][])
      : []),
    [
      'ranges',
      u32(
        0x1000000,
        0,
        0,
        hi(io.base),
        lo(io.base),
        hi(io.size),
        lo(io.size),
        0x2000000,
        hi(m32.base),
        lo(m32.base),
        hi(m32.base),
        lo(m32.base),
        hi(m32.size),
        lo(m32.size),
        0x3000000,
        hi(m64.base),
        lo(m64.base),
        hi(m64.base),
        lo(m64.base),
        hi(m64.size),
        lo(m64.size),
      ),
    ],
    ['reg', reg(MEMMAP.pcieEcam.base, MEMMAP.pcieEcam.size)],
    ['dma-coherent', true],
    ['bus-range', u32(0, 0xff)],
    ['linux,pci-domain', 0],
    ['device_type', 'pci'],
    ['compatible', 'pci-host-ecam-generic'],
    ['#size-cells', 2],
    ['#interrupt-cells', 1],
    ['#address-cells', 3],
  ]);
}

function hex(v: number): string {
  return v.toString(16);
}
