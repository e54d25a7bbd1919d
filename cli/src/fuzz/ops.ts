/**
 * The fuzzer's operations, each one or a few qtest command lines, generated from a seeded
 * PRNG so a seed is a run. Addresses are biased to where bugs live: edu's registers and BAR
 * edges, config space through 0xcf8/0xcfc, the IOMMU's register block and tables, DMA
 * buffers in guest RAM, unassigned space, every access size and alignment.
 *
 * Every write keeps the layout's promise (see combos.ts): nothing the guest programs can make
 * a correct device or IOMMU write outside BUF (or, for an IOMMU, its own TABLES), so a write
 * anywhere else (the canary) is a bug in emuhost, not in the sequence.
 */
import {
  BAR_PLACES,
  BUF,
  BUF_SIZE,
  CANARY,
  CANARY_SIZE,
  type Combo,
  deviceId,
  IOVA_WINDOW,
  type IommuKind,
  iommuBase,
  iommuId,
  iommuOptions,
  pciBus,
  RAM_SIZE,
  TABLES,
  TCE_BASE,
  TCE_WINDOW,
  TESTDEV_IOMEM,
  TESTDEV_IOMEM_LEN,
  VTD_BASE,
} from './combos.js';

const PAGES = BUF_SIZE / 0x1000;
/** VT-d structures in TABLES: root table, context table, then one table per level. */
export const VTD = {
  root: TABLES,
  ctx: TABLES + 0x1000,
  l3: TABLES + 0x2000,
  l2: TABLES + 0x3000,
  l1: TABLES + 0x4000,
} as const;
/** The TCE table (512 entries). */
export const TCE_TABLE = TABLES + 0x8000;

/** A small fast PRNG (sfc32-like mulberry32): reproducible from a 32-bit seed. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  u32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  int(n: number): number {
    return this.u32() % n;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
  chance(p: number): boolean {
    return this.u32() / 2 ** 32 < p;
  }
  u64(): bigint {
    return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
}

export const hex = (n: number | bigint): string => `0x${n.toString(16)}`;

/** What the generator knows about the machine, found by enumeration before the run. */
export interface Target {
  readonly combo: Combo;
  /** edu's bus-0 devfn; undefined for a platform device (pc-testdev has no PCI identity). */
  readonly devfn: number | undefined;
  /** Offset of edu's MSI capability in config space, if it has one. */
  readonly msiCap: number | undefined;
}

const SIZES = [1, 2, 4, 8] as const;
const W = { 1: 'writeb', 2: 'writew', 4: 'writel', 8: 'writeq' } as const;
const R = { 1: 'readb', 2: 'readw', 4: 'readl', 8: 'readq' } as const;
const OUT = { 1: 'outb', 2: 'outw', 4: 'outl' } as const;
const IN = { 1: 'inb', 2: 'inw', 4: 'inl' } as const;

const cf8 = (devfn: number, off: number, bus = 0) =>
  hex((0x80000000 | (bus << 16) | (devfn << 8) | (off & 0xfc)) >>> 0);

/**
 * The devfn the IOMMU's tables are programmed for when the device has none (pc-testdev does
 * no DMA): an empty slot, so the IOMMU is set up as for edu but translates nothing.
 */
export const NO_DEVFN = 0x70;
const dmaDevfn = (t: Target): number => t.devfn ?? NO_DEVFN;

/** The lines that put edu on the bus (BAR0, memory and bus mastering) and program the IOMMU. */
export function setupLines(t: Target): string[] {
  const lines =
    t.devfn === undefined
      ? []
      : [
          `outl 0xcf8 ${cf8(t.devfn, 0x10)}`,
          `outl 0xcfc ${hex(BAR_PLACES[0])}`,
          `outl 0xcf8 ${cf8(t.devfn, 0x04)}`,
          'outw 0xcfc 0x6',
        ];
  switch (t.combo.iommu) {
    case 'vtd':
      lines.push(...vtdTables(dmaDevfn(t)), `writeq ${hex(VTD_BASE + 0x20)} ${hex(VTD.root)}`);
      lines.push(
        `writel ${hex(VTD_BASE + 0x18)} 0x40000000`,
        `writel ${hex(VTD_BASE + 0x18)} 0x80000000`,
      );
      break;
    case 'tce':
      lines.push(`writel ${hex(TCE_BASE)} ${hex(TCE_TABLE)}`, `writel ${hex(TCE_BASE + 4)} 0x0`);
      for (let i = 0; i < PAGES; i++)
        lines.push(...putTce(TCE_BASE, IOVA_WINDOW + i * 0x1000, BigInt(BUF + i * 0x1000) | 3n));
      break;
    default:
      break;
  }
  return lines;
}

function vtdTables(devfn: number): string[] {
  const l = [
    `writeq ${hex(VTD.root)} ${hex(VTD.ctx | 1)}`,
    `writeq ${hex(VTD.ctx + devfn * 16)} ${hex(VTD.l3 | 1)}`,
    `writeq ${hex(VTD.ctx + devfn * 16 + 8)} ${hex((1 << 8) | 1)}`,
    `writeq ${hex(VTD.l3)} ${hex(VTD.l2 | 3)}`,
    // IOVA_WINDOW >> 21 = 64: the L2 entry that covers the window.
    `writeq ${hex(VTD.l2 + 8 * (IOVA_WINDOW >>> 21))} ${hex(VTD.l1 | 3)}`,
  ];
  for (let i = 0; i < PAGES; i++)
    l.push(`writeq ${hex(VTD.l1 + 8 * i)} ${hex((BUF + i * 0x1000) | 3)}`);
  return l;
}

function putTce(base: number, ioba: number, tce: bigint): string[] {
  return [
    `writel ${hex(base + 0x08)} ${hex(ioba % 2 ** 32)}`,
    `writel ${hex(base + 0x0c)} ${hex(Math.floor(ioba / 2 ** 32))}`,
    `writel ${hex(base + 0x10)} ${hex(tce & 0xffffffffn)}`,
    `writel ${hex(base + 0x14)} ${hex(tce >> 32n)}`,
    `writel ${hex(base + 0x18)} 0x1`,
  ];
}

/** A RAM-side DMA address: inside the IOVA window, in BUF, or somewhere that is no RAM. */
function dmaAddr(r: Rng, size: 4 | 8): bigint {
  const off = r.chance(0.3)
    ? r.pick([0, 0xfff, 0x1000 - 8, BUF_SIZE - 0x1000, BUF_SIZE - 1])
    : r.int(BUF_SIZE);
  const wild32 = [
    0x0fffffff,
    0xfffffff0,
    0xfee00000,
    0x0ffff000,
    IOVA_WINDOW + BUF_SIZE,
    RAM_SIZE - 0,
  ];
  const v = r.pick([
    () => BigInt(IOVA_WINDOW + off),
    () => BigInt(IOVA_WINDOW + off),
    () => BigInt(BUF + off),
    () => BigInt(r.pick(wild32)),
    () =>
      size === 8
        ? r.pick([0xffffffffffffffffn, 0x100000000n + BigInt(BUF + off), 1n << 63n])
        : BigInt(r.pick(wild32)),
  ])();
  return v;
}

/** A device-side (edu buffer) address: mostly inside 0x40000..0x40fff, sometimes not. */
function eduSide(r: Rng): number {
  return r.chance(0.85)
    ? 0x40000 + (r.chance(0.6) ? r.int(0x100) : r.int(0x1000))
    : r.pick([0, 0x3ffff, 0x41000, 0x40fff, 0xffffffff]);
}

function ramAddr(r: Rng, size: number): number {
  if (r.chance(0.2))
    return r.pick([BUF, BUF + BUF_SIZE - size, BUF + 1, BUF + 0xfff, BUF + 0x1000 - size + 1]);
  return BUF + r.int(BUF_SIZE - size + 1);
}

/** One operation: the lines of one step of a sequence. */
export function genOp(r: Rng, t: Target, state: { bar: number }): string[] {
  const c = t.combo;
  if (c.device === 'pc-testdev') return testdevOp(r, t, state);
  const n = r.int(100);
  if (n < 14) return [eduMmio(r, state.bar)];
  if (n < 24) return eduDma(r, state.bar);
  if (n < 34) return [clockStep(r)];
  if (n < 44) return ramWrite(r);
  if (n < 50) return [anyRead(r, state.bar)];
  if (n < 60) return configOp(r, t, state);
  if (n < 65) return [portIo(r)];
  if (n < 80) return iommuOp(r, c.iommu, t);
  if (n < 86) return [swap(r, c)];
  if (n < 87) return ['emuhost.device.restart edu0'];
  if (n < 88)
    return r.chance(0.5)
      ? ['emuhost.device.reload edu0']
      : [...eduDma(r, state.bar, 'emuhost.device.reload edu0'), clockStep(r)];
  if (n < 89) return [injectFault(r, c)];
  if (n < 91)
    return [
      r.pick([
        'emuhost.info iommu',
        'emuhost.info pci',
        'emuhost.info mtree -f',
        'emuhost.devices',
      ]),
    ];
  if (n < 95) return [unassignedWrite(r)];
  return [eduMmio(r, state.bar)];
}

const EDU_REGS = [
  0x00, 0x04, 0x08, 0x20, 0x24, 0x60, 0x64, 0x80, 0x84, 0x88, 0x8c, 0x90, 0x98, 0x9c, 0xa0,
];

function eduMmio(r: Rng, bar: number): string {
  const size = r.pick(SIZES);
  const off = r.pick([
    () => r.pick(EDU_REGS),
    () => r.pick(EDU_REGS) + r.int(8),
    () => r.int(0x100),
    () => 0x100000 - size + r.int(2) - 0,
    () => 0x100000 - 1,
    () => r.int(0x100000),
  ])();
  const addr = bar + off;
  if (r.chance(0.4)) return `${R[size]} ${hex(addr)}`;
  let v: bigint;
  if (off < 0x90 && off + size > 0x80) v = dmaAddr(r, size === 8 ? 8 : 4);
  else if (off <= 0x08 && off + size > 0x08)
    v = BigInt(r.pick([0, 1, 5, 10, 12, 13, 20, 33, r.int(64)]));
  else v = r.chance(0.5) ? BigInt(r.u32()) : r.u64();
  if (size < 8) v &= (1n << BigInt(8 * size)) - 1n;
  return `${W[size]} ${hex(addr)} ${hex(v)}`;
}

/**
 * A transfer: maybe a buffer placed in RAM, then src, dst, count and the command; then maybe
 * `mid` (or, sometimes, a hot reload or an armed fault) while it is in flight, and a step.
 */
function eduDma(r: Rng, bar: number, mid?: string): string[] {
  const toRam = r.chance(0.5);
  const ram = dmaAddr(r, 8);
  const dev = eduSide(r);
  const cnt = r.pick([
    0,
    1,
    4,
    8,
    8,
    0x10,
    0x40,
    0x100,
    0x1000,
    0x1001,
    r.int(0x100),
    r.int(0x1100),
  ]);
  const lines: string[] = [];
  if (!toRam && r.chance(0.5)) {
    const len = 1 + r.int(64);
    lines.push(
      `b64write ${hex(ramAddr(r, len))} ${len} ${Buffer.from(r.bytes(len)).toString('base64')}`,
    );
  }
  lines.push(
    `writeq ${hex(bar + 0x80)} ${hex(toRam ? BigInt(dev) : ram)}`,
    `writeq ${hex(bar + 0x88)} ${hex(toRam ? ram : BigInt(dev))}`,
    `writeq ${hex(bar + 0x90)} ${hex(cnt)}`,
    `writeq ${hex(bar + 0x98)} ${hex((toRam ? 3 : 1) | (r.chance(0.5) ? 4 : 0))}`,
  );
  // In the middle of the transfer: a hot reload, or a fault armed (maybe for its completion).
  if (mid !== undefined) lines.push(mid);
  else if (r.chance(0.08)) lines.push('emuhost.device.reload edu0');
  else if (r.chance(0.03)) lines.push(injectFault(r, { device: 'edu' }));
  if (r.chance(0.5)) lines.push(r.chance(0.5) ? 'clock_step' : 'clock_step 100000000');
  return lines;
}

/**
 * Arms a one-shot plugin exception in edu: its next callback of any site, or of one it has
 * (`timer` completes a transfer; `deferred` is where a reload saves its state).
 */
function injectFault(r: Rng, c: Pick<Combo, 'device'>): string {
  // pc-testdev has no timer and does no DMA: a fault armed for those would never fire.
  const site = r.pick(
    c.device === 'edu'
      ? ['', '', ' timer', ' mmio-read', ' mmio-write', ' deferred', ' timer']
      : ['', '', ' mmio-read', ' mmio-write', ' deferred'],
  );
  return `emuhost.device.inject-fault ${c.device}0${site}`;
}

/**
 * One pc-testdev operation: port I/O on its ports and the iomem window (every size and
 * alignment, their edges and just past them), the register check, and the generic operations
 * that apply (clock, RAM, reads anywhere, config space, IOMMU edits and swaps, lifecycle).
 */
function testdevOp(r: Rng, t: Target, state: { bar: number }): string[] {
  const c = t.combo;
  const id = deviceId(c);
  const n = r.int(100);
  if (n < 22) return [testdevPio(r)];
  if (n < 38) return testdevMem(r);
  if (n < 44) return testdevCheck(r);
  if (n < 52) return [clockStep(r)];
  if (n < 58) return ramWrite(r);
  if (n < 62) return [anyRead(r, state.bar)];
  if (n < 68) return configOp(r, t, state);
  if (n < 72) return [portIo(r)];
  if (n < 82) return iommuOp(r, c.iommu, t);
  if (n < 86) return [swap(r, c)];
  if (n < 87) return [`emuhost.device.restart ${id}`];
  if (n < 89)
    return r.chance(0.5)
      ? [`emuhost.device.reload ${id}`]
      : [testdevPio(r), `emuhost.device.reload ${id}`, ...testdevCheck(r)];
  if (n < 90) return [injectFault(r, c)];
  if (n < 92) return [r.pick(['emuhost.info mtree -f', 'emuhost.devices', 'emuhost.info iommu'])];
  if (n < 96) return [unassignedWrite(r)];
  return [testdevPio(r)];
}

/** in/out of 1, 2 or 4 bytes anywhere on 0xe0..0xef and 0x2000..0x2017, and just outside. */
function testdevPio(r: Rng): string {
  const size = r.pick([1, 2, 4] as const);
  const port = r.pick([
    () => 0xe0 + r.int(16),
    () => 0xe0 + r.int(16),
    () => 0xe0 + 4 * r.int(4) - size + 1 + r.int(size),
    () => r.pick([0xdc, 0xdd, 0xde, 0xdf, 0xf0, 0xf1, 0xf2, 0xf3]),
    () => 0x2000 + r.int(0x18),
    () => 0x2000 + r.int(0x10),
    () => r.pick([0x1ffc, 0x1fff, 0x2017, 0x2018, 0x2016, 0x2015, 0x201b]),
  ])();
  if (r.chance(0.45)) return `${IN[size]} ${hex(port)}`;
  const v = r.pick([0, 1, 0xff, r.u32()]);
  return `${OUT[size]} ${hex(port)} ${hex(v & (2 ** (8 * size) - 1))}`;
}

/** Reads and writes of every size and alignment on the iomem window, its edges and past them. */
function testdevMem(r: Rng): string[] {
  const size = r.pick(SIZES);
  const L = TESTDEV_IOMEM_LEN;
  const off = r.pick([
    () => r.int(0x40),
    () => r.int(L),
    () => L - size + r.int(size),
    () => L - 1 - r.int(16),
    () => L + r.int(16),
    () => -1 - r.int(8),
    () => 4 * r.int(L / 4) + r.int(4),
  ])();
  const a = TESTDEV_IOMEM + off;
  if (r.chance(0.15)) {
    const len = 1 + r.int(r.chance(0.8) ? 16 : 300);
    const at = r.chance(0.5) ? a : TESTDEV_IOMEM + L - r.int(len + 8);
    switch (r.int(4)) {
      case 0:
        return [`b64write ${hex(at)} ${len} ${Buffer.from(r.bytes(len)).toString('base64')}`];
      case 1:
        return [`memset ${hex(at)} ${len} ${hex(r.int(256))}`];
      default:
        return [`${r.pick(['read', 'b64read'])} ${hex(at)} ${len}`];
    }
  }
  if (r.chance(0.45)) return [`${R[size]} ${hex(a)}`];
  return [`${W[size]} ${hex(a)} ${hex(r.u64() & ((1n << BigInt(8 * size)) - 1n))}`];
}

/**
 * The register check: `outl 0xe0 V` then `inl 0xe0`. Plain qtest lines (a replay is the
 * same); the runner checks that the `inl` right after such an `outl` answers V.
 */
function testdevCheck(r: Rng): string[] {
  return [`outl 0xe0 ${hex(r.pick([0, 0xffffffff, r.u32(), r.u32()]))}`, 'inl 0xe0'];
}

function clockStep(r: Rng): string {
  return r.pick([
    () => 'clock_step',
    () => `clock_step ${r.pick([1, 999, 1000, 100_000_000, 99_999_999, 250_000_000])}`,
    () => `clock_step ${r.int(200_000_000)}`,
  ])();
}

function ramWrite(r: Rng): string[] {
  const k = r.int(5);
  if (k === 0) {
    const size = r.pick(SIZES);
    return [
      `${W[size]} ${hex(ramAddr(r, size))} ${hex(r.u64() & ((1n << BigInt(8 * size)) - 1n))}`,
    ];
  }
  const len = 1 + r.int(r.chance(0.9) ? 64 : 4096);
  const a = ramAddr(r, len);
  if (k === 1) return [`b64write ${hex(a)} ${len} ${Buffer.from(r.bytes(len)).toString('base64')}`];
  if (k === 2) return [`write ${hex(a)} ${len} 0x${Buffer.from(r.bytes(len)).toString('hex')}`];
  if (k === 3) return [`memset ${hex(a)} ${len} ${hex(r.int(256))}`];
  return [`${r.pick(['read', 'b64read'])} ${hex(a)} ${len}`];
}

function anyRead(r: Rng, bar: number): string {
  const size = r.pick(SIZES);
  const a = r.pick([
    () => RAM_SIZE - r.int(9),
    () => CANARY + r.int(CANARY_SIZE),
    () => TABLES + r.int(0x9000),
    () => 0xfee00000 + r.int(0x1000),
    () => bar + r.int(0x100),
    () => r.u32(),
    () => 2 ** 53 - 1 - r.int(16),
    () => VTD_BASE + r.int(0x1000),
    () => TCE_BASE + r.int(0x40),
  ])();
  if (r.chance(0.15)) return `${r.pick(['read', 'b64read'])} ${hex(a)} ${1 + r.int(64)}`;
  return `${R[size]} ${hex(a)}`;
}

function configOp(r: Rng, t: Target, state: { bar: number }): string[] {
  const d = t.devfn;
  if (d === undefined || r.chance(0.35)) {
    if (d === undefined && r.chance(0.3)) {
      // No PCI device of ours: writes go to an empty slot (nothing answers them).
      const size = r.pick([1, 2, 4] as const);
      const off = r.int(256);
      return [
        `outl 0xcf8 ${cf8(NO_DEVFN, off)}`,
        `${OUT[size]} ${hex(0xcfc + (off & (4 - size)))} ${hex(r.u32() & (2 ** (8 * size) - 1))}`,
      ];
    }
    // Read anything: any device, function, offset and size.
    const size = r.pick([1, 2, 4] as const);
    const off = r.int(256);
    return [
      `outl 0xcf8 ${cf8(d !== undefined && r.chance(0.7) ? d : r.int(256), off, r.chance(0.9) ? 0 : r.int(4))}`,
      `${IN[size]} ${hex(0xcfc + (off & (4 - size)))}`,
    ];
  }
  const msi = t.msiCap;
  const k = r.int(msi === undefined ? 4 : 7);
  const w = (off: number, size: 1 | 2 | 4, v: number) => [
    `outl 0xcf8 ${cf8(d, off)}`,
    `${OUT[size]} ${hex(0xcfc + (off & 3))} ${hex(v >>> 0)}`,
  ];
  switch (k) {
    case 0:
      return w(0x04, 2, r.pick([0x6, 0x2, 0x4, 0x0, 0x406, r.int(0x10000)]));
    case 1: {
      // A BAR move (or a sizing probe, or unmapping it).
      const v = r.pick([...BAR_PLACES, 0xffffffff, 0]);
      if (BAR_PLACES.includes(v as (typeof BAR_PLACES)[number])) state.bar = v;
      return w(0x10, 4, v);
    }
    case 2:
      return w(0x3c, 1, r.int(256));
    case 3:
      return w(0x14 + 4 * r.int(5), 4, r.u32());
    case 4:
      return w(msi! + 2, 2, r.pick([0, 1, 0x81, r.int(0x10000)]));
    case 5:
      return w(msi! + 4, 4, r.pick([0xfee00000, 0xfee0100c, 0xfee00004]));
    default:
      return w(msi! + r.pick([8, 0xc]), 4, r.pick([0, r.u32() & 0xffff]));
  }
}

function portIo(r: Rng): string {
  const size = r.pick([1, 2, 4] as const);
  const port = r.pick([
    () => 0xcf8 + r.int(8),
    () => r.int(0x10000),
    () => 0x80,
    () => 0xffff - r.int(4),
  ])();
  if (r.chance(0.5) || (port >= 0xcfc && port <= 0xcff)) return `${IN[size]} ${hex(port)}`;
  return `${OUT[size]} ${hex(port)} ${hex(r.u32() & (2 ** (8 * size) - 1))}`;
}

/** A write into unassigned space, never over a place a BAR or an IOMMU block can be. */
function unassignedWrite(r: Rng): string {
  const size = r.pick(SIZES);
  const a = r.pick([
    0x9000000 + r.int(0x1000000),
    0xfec00000 + r.int(0x1000),
    0xfee00000 + r.int(0x1000),
    0xfff00000 + r.int(0x100000),
  ]);
  return `${W[size]} ${hex(a)} ${hex(r.u64() & ((1n << BigInt(8 * size)) - 1n))}`;
}

/** VT-d register offsets a random 4/8-byte value may go to (RTADDR, IQ and event addresses are kept sane). */
const VTD_FREE = [
  0x18, 0x28, 0x2c, 0x34, 0x38, 0x3c, 0x9c, 0xa0, 0xa4, 0xf0, 0xf4, 0xf8, 0xfc, 0x220, 0x228, 0x230,
  0x238, 0x240, 0x250,
];

function iommuOp(r: Rng, k: IommuKind, t: Target): string[] {
  if (k === 'vtd') return vtdOp(r, t);
  if (k === 'tce') return tceOp(r);
  return [anyRead(r, BAR_PLACES[0])];
}

function perm(r: Rng): number {
  return r.pick([0, 1, 2, 3, 3, 3]);
}

function vtdOp(r: Rng, t: Target): string[] {
  const B = VTD_BASE;
  switch (r.int(10)) {
    case 0:
    case 1:
      // A leaf edit: remap, change permissions, unmap, a 2 MiB superpage at L2.
      if (r.chance(0.1))
        return [
          `writeq ${hex(VTD.l2 + 8 * (IOVA_WINDOW >>> 21))} ${hex(r.chance(0.5) ? VTD.l1 | 3 : 0)}`,
        ];
      return [
        `writeq ${hex(VTD.l1 + 8 * r.int(512))} ${hex((BUF + r.int(PAGES) * 0x1000) | perm(r))}`,
      ];
    case 2:
      // Context entry: present or not, translation type, address width, domain.
      return [
        `writeq ${hex(VTD.ctx + dmaDevfn(t) * 16)} ${hex(VTD.l3 | r.pick([0, 1, 1, 3, 5, 9]))}`,
        `writeq ${hex(VTD.ctx + dmaDevfn(t) * 16 + 8)} ${hex((r.pick([1, 2, 1]) << 8) | r.pick([1, 1, 2, 0, 7]))}`,
      ];
    case 3:
      return [
        `writeq ${hex(B + 0x28)} ${hex((1n << 63n) | (BigInt(r.pick([1, 2, 3, 0])) << 61n) | BigInt(r.int(3)))}`,
      ];
    case 4: {
      const g = r.pick([1, 2, 3, 0]);
      const lines: string[] = [];
      if (g === 3)
        lines.push(
          `writeq ${hex(B + 0xf0)} ${hex(IOVA_WINDOW + r.int(PAGES) * 0x1000 + r.pick([0, 0, 1, 2, 9, 0x40]))}`,
        );
      lines.push(
        `writeq ${hex(B + 0xf8)} ${hex((1n << 63n) | (BigInt(g) << 60n) | (BigInt(r.int(3)) << 32n))}`,
      );
      return lines;
    }
    case 5:
      return [
        `writel ${hex(B + 0x18)} ${hex(r.pick([0x80000000, 0x40000000, 0, 0xc0000000, 0x04000000, r.u32()]))}`,
      ];
    case 6:
      return [`writeq ${hex(B + 0x20)} ${hex(r.pick([VTD.root, VTD.root | 0x400, 0]))}`];
    case 7: {
      const size = r.pick(SIZES);
      const off = r.chance(0.5) ? r.pick(VTD_FREE) : r.int(0x1000);
      if (size < 4 || off % size !== 0)
        return [`${W[size]} ${hex(B + off)} ${hex(r.u32() & (2 ** (8 * Math.min(size, 4)) - 1))}`];
      if (!VTD_FREE.includes(off)) return [`${R[size]} ${hex(B + off)}`];
      return [`${W[size]} ${hex(B + off)} ${hex(size === 8 ? r.u64() : BigInt(r.u32()))}`];
    }
    case 8:
      return [`writel ${hex(B + 0x40)} ${hex(r.pick([0xfee00000, 0xfee01000]))}`];
    default:
      return [`${R[r.pick(SIZES)]} ${hex(B + r.int(0x1000))}`];
  }
}

function tceOp(r: Rng): string[] {
  const B = TCE_BASE;
  switch (r.int(6)) {
    case 0:
    case 1:
    case 2: {
      const ioba = r.chance(0.9)
        ? IOVA_WINDOW + r.int(TCE_WINDOW / 0x1000) * 0x1000
        : r.pick([0, IOVA_WINDOW + 1, IOVA_WINDOW + TCE_WINDOW, 2 ** 40]);
      const tce = r.pick([
        () => BigInt(BUF + r.int(PAGES) * 0x1000) | BigInt(perm(r)),
        () => 0n,
        () => BigInt(BUF) | 3n | (1n << BigInt(2 + r.int(10))),
      ])();
      return putTce(B, ioba, tce);
    }
    case 3:
      return [`writel ${hex(B + 0x18)} ${hex(r.pick([1, 0, 2, r.u32()]))}`];
    case 4: {
      const size = r.pick(SIZES);
      const off = r.int(0x40);
      // Random values anywhere but the table address.
      if (off < 8 && off + size > 0) return [`${R[size]} ${hex(B + off)}`];
      return [
        `${W[size]} ${hex(B + off)} ${hex(size === 8 ? r.u64() : BigInt(r.u32() & (2 ** (8 * size) - 1)))}`,
      ];
    }
    default:
      return [`${R[r.pick(SIZES)]} ${hex(B + r.int(0x40))}`];
  }
}

function swap(r: Rng, c: Combo): string {
  const bus = pciBus(c.machine);
  const where = r.pick([
    `bus=${bus}`,
    `bus=${bus}`,
    `device=${deviceId(c)}`,
    `bus=${bus},rid=0-0xff`,
    `bus=${bus},rid=8-8`,
  ]);
  const id = iommuId(c.iommu);
  const choices: string[] = ['none'];
  if (id !== undefined) {
    choices.push(id, id);
    const opts = { ...iommuOptions(c.iommu) };
    if (iommuBase(c.iommu) !== undefined) opts.base = (iommuBase(c.iommu) ?? 0) - 0x10000;
    const kv = Object.entries(opts).map(([k, v]) => `${k}=${hex(v)}`);
    choices.push(`${c.iommu} id=swap${r.int(4)} ${kv.join(' ')}`.trim());
    choices.push(`${c.iommu} ${kv.join(' ')}`.trim());
  }
  return `emuhost.iommu.swap ${where} ${r.pick(choices)}`;
}
