/**
 * edu, driven as a QEMU qtest/libqos driver would drive it (docs/specs/edu.rst's "minimal
 * driver sequence"): enumerate through 0xcf8/0xcfc, size and map BAR0, poke registers, step
 * the virtual clock, look at RAM, the ioapic and the MSI window. Every driver-level test runs
 * at the trusted and at the confined (SES) sandbox level.
 */
import { fileURLToPath } from 'node:url';
import { bareMachine, Emulator, type LoadedPlugin, type RunningDevice } from '@emuhost/host';
import type { OptionValue } from '@emuhost/sdk';
import {
  createDriver,
  type DeviceCase,
  type Driver,
  deviceCases,
  deviceConformance,
  loadPluginDir,
  type PciDeviceRef,
} from '@emuhost/testing';
import { beforeAll, describe, expect, it } from 'vitest';

const dir = fileURLToPath(new URL('..', import.meta.url));

const RESET_SKIP = "QEMU's edu has no reset handler: its registers survive a system reset";
deviceConformance({ plugin: dir, skip: { 'reset matches a fresh device': RESET_SKIP } });

// Registers (BAR0 offsets).
const ID = 0x00;
const LIVENESS = 0x04;
const FACT = 0x08;
const STATUS = 0x20;
const IRQ_STATUS = 0x24;
const IRQ_RAISE = 0x60;
const IRQ_ACK = 0x64;
const DMA_SRC = 0x80;
const DMA_DST = 0x88;
const DMA_CNT = 0x90;
const DMA_CMD = 0x98;
const DMA_STATUS = 0xa0;
// Bits and values.
const COMPUTING = 0x01;
const IRQFACT = 0x80;
const RUN = 1n;
const TO_RAM = 2n;
const CMD_IRQ = 4n;
const BUF = 0x40000;
const DMA_NS = 100_000_000;
const ST = { OK: 0, OUT_OF_RANGE: 1, DECODE: 2, IOMMU: 4, NO_MASTER: 5, OTHER: 6 } as const;
const RAM = 64 << 20;
const ONES64 = 0xffff_ffff_ffff_ffffn;

interface Rig {
  emu: Emulator;
  d: Driver;
  dev: PciDeviceRef;
  running: RunningDevice;
  bar: number;
  /** BAR0 + offset. */
  r: (off: number) => number;
  /** The ioapic input INTA of the device's slot lands on (bare machine: 16 + swizzle). */
  intx: number;
  logs: string[];
}

function boot(plugin: LoadedPlugin, options?: Readonly<Record<string, OptionValue>>): Rig {
  const logs: string[] = [];
  const emu = new Emulator({
    machine: bareMachine(),
    ramSize: RAM,
    log: (level, _src, msg) => {
      if (level !== 'debug') logs.push(msg);
    },
  });
  const running = emu.addDevice(plugin, {
    id: 'edu0',
    ...(options !== undefined && { options }),
  });
  return attach(emu, running, logs);
}

/** What a driver does after power-on: find 1234:11e8, map BAR0, enable MEM|MASTER. */
function attach(emu: Emulator, running: RunningDevice, logs: string[] = []): Rig {
  const d = createDriver(emu);
  const dev = d.pciFind(0x1234, 0x11e8)!;
  expect(dev, 'edu enumerates').toBeDefined();
  const bar = dev.iomap(0).addr;
  dev.enable();
  const slot = dev.devfn >> 3;
  return { emu, d, dev, running, bar, r: (off) => bar + off, intx: 16 + ((slot + 0) % 4), logs };
}

/** Programs and starts a transfer (the DMA registers with 8-byte writes). */
function startDma(
  x: Rig,
  src: number | bigint,
  dst: number | bigint,
  cnt: number | bigint,
  cmd: bigint,
) {
  x.d.writeq(x.r(DMA_SRC), BigInt(src));
  x.d.writeq(x.r(DMA_DST), BigInt(dst));
  x.d.writeq(x.r(DMA_CNT), BigInt(cnt));
  x.d.writeq(x.r(DMA_CMD), cmd);
}

/** Starts a transfer, runs the 100 ms, and checks it finished (RUN clear). Returns DMA status. */
function dma(
  x: Rig,
  src: number | bigint,
  dst: number | bigint,
  cnt: number | bigint,
  cmd: bigint,
) {
  startDma(x, src, dst, cnt, cmd | RUN);
  x.d.clockStep(DMA_NS);
  expect(x.d.readq(x.r(DMA_CMD)) & RUN, 'RUN clears when the transfer is done').toBe(0n);
  return x.d.readl(x.r(DMA_STATUS));
}

/** Byte-equality of two (possibly large) arrays, without vitest's slow deep diff. */
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

const pattern = (n: number, seed = 1) =>
  Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed * 31 + (i >> 8)) & 0xff);

/** Walks the capability list from 0x34, as a guest driver does. */
function findCap(dev: PciDeviceRef, id: number): number | undefined {
  if ((dev.configRead(0x06, 2) & 0x10) === 0) return undefined;
  for (let p = dev.configRead(0x34, 1) & ~3, n = 0; p !== 0 && n < 48; n++) {
    if (dev.configRead(p, 1) === id) return p;
    p = dev.configRead(p + 1, 1) & ~3;
  }
  return undefined;
}

/** Programs and enables MSI through config space (64-bit capable capability). */
function enableMsi(dev: PciDeviceRef, data: number): void {
  const cap = findCap(dev, 0x05)!;
  const ctl = dev.configRead(cap + 2, 2);
  expect(ctl & 0x80, '64-bit address capable').toBe(0x80);
  dev.configWrite(cap + 4, 4, 0xfee00000);
  dev.configWrite(cap + 8, 4, 0);
  dev.configWrite(cap + 0x0c, 2, data);
  dev.configWrite(cap + 2, 2, ctl | 1);
}

describe.each(['trusted', 'confined'] as const)('edu at the %s level', (level) => {
  let plugin: LoadedPlugin;
  beforeAll(async () => {
    plugin = await loadPluginDir(dir, { level });
    expect(plugin.level).toBe(level);
  });

  it('identifies as QEMU edu in config space and BAR0', () => {
    const x = boot(plugin);
    const { dev, d } = x;
    expect(dev.configRead(0x00, 4)).toBe(0x11e81234);
    expect(dev.configRead(0x08, 4)).toBe(0x00ff0010);
    expect(dev.configRead(0x3c, 4) & 0xff00).toBe(0x0100);
    // BAR0: 32-bit non-prefetchable memory, 1 MiB; no other BAR.
    const orig = dev.configRead(0x10, 4);
    dev.configWrite(0x10, 4, 0xffffffff);
    expect(dev.configRead(0x10, 4) >>> 0).toBe(0xfff00000);
    dev.configWrite(0x10, 4, orig);
    for (let b = 1; b < 6; b++) {
      dev.configWrite(0x10 + 4 * b, 4, 0xffffffff);
      expect(dev.configRead(0x10 + 4 * b, 4)).toBe(0);
    }
    // One MSI vector, 64-bit, no per-vector masking.
    const cap = findCap(dev, 0x05);
    expect(cap).toBeDefined();
    expect(dev.configRead(cap! + 2, 2) & 0x18e).toBe(0x80);
    expect(d.readl(x.r(ID))).toBe(0x010000ed);
  });

  it('liveness register returns the complement of what was written', () => {
    const { d, r } = boot(plugin);
    d.writel(r(LIVENESS), 0x12345678);
    expect(d.readl(r(LIVENESS))).toBe(0xedcba987);
    d.writel(r(LIVENESS), 0xffffffff);
    expect(d.readl(r(LIVENESS))).toBe(0);
  });

  it('computes factorials, with COMPUTING observable while the clock has not moved', () => {
    const { d, r } = boot(plugin);
    const fact = (n: number) => {
      d.writel(r(FACT), n);
      expect(d.readl(r(STATUS)) & COMPUTING, 'COMPUTING right after the write').toBe(COMPUTING);
      expect(d.readl(r(FACT)), 'the input until it finishes').toBe(n);
      d.writel(r(FACT), 3); // ignored while computing
      let polls = 0;
      while (d.readl(r(STATUS)) & COMPUTING) {
        expect(++polls, 'finishes within a few µs of virtual time').toBeLessThan(100);
        d.clockStep(100);
      }
      expect(polls).toBeGreaterThan(0);
      return d.readl(r(FACT));
    };
    expect(fact(10)).toBe(3628800);
    expect(fact(13)).toBe(0x7328cc00);
    expect(fact(0)).toBe(1);
    expect(fact(33)).toBe(0x80000000);
    expect(fact(0xffffffff)).toBe(0);
  });

  it('status: COMPUTING is read-only, IRQFACT raises interrupt 0x1 after a factorial', () => {
    const { d, r, intx } = boot(plugin);
    d.writel(r(STATUS), 0xff);
    expect(d.readl(r(STATUS))).toBe(IRQFACT);
    d.writel(r(FACT), 5);
    expect(d.readl(r(STATUS))).toBe(IRQFACT | COMPUTING);
    expect(d.irqLevel(intx)).toBe(0);
    d.clockStep(1000);
    expect(d.readl(r(FACT))).toBe(120);
    expect(d.readl(r(STATUS))).toBe(IRQFACT);
    expect(d.readl(r(IRQ_STATUS))).toBe(0x1);
    expect(d.irqLevel(intx)).toBe(1);
    d.writel(r(IRQ_ACK), 0x1);
    expect(d.irqLevel(intx)).toBe(0);
    d.writel(r(STATUS), 0);
    expect(d.readl(r(STATUS))).toBe(0);
    d.writel(r(FACT), 4);
    d.clockStep(1000);
    expect([d.readl(r(FACT)), d.readl(r(IRQ_STATUS)), d.irqLevel(intx)]).toEqual([24, 0, 0]);
  });

  it('applies QEMU access rules: sizes, alignment, exact offsets, zero-extension', () => {
    const { d, r } = boot(plugin);
    d.writel(r(LIVENESS), 0x0f0f0f0f);
    // 1- and 2-byte accesses never reach the device: reads 0, writes dropped.
    expect(d.readw(r(ID))).toBe(0);
    expect(d.readb(r(ID))).toBe(0);
    d.writew(r(LIVENESS), 0x1234);
    d.writeb(r(LIVENESS), 0x12);
    expect(d.readl(r(LIVENESS))).toBe(0xf0f0f0f0);
    // Unaligned: the core splits a qtest-style bulk access at its alignment (as QEMU's
    // address_space_read does), and pieces below 4 bytes are rejected: reads 0, writes dropped.
    expect(d.readl(r(0x02))).toBe(0);
    d.writel(r(0x06), 0);
    expect(d.readl(r(LIVENESS))).toBe(0xf0f0f0f0);
    // readq at 0x84 is readl 0x84 (unlisted: ~0) then readl 0x88 (dst, low half: 0).
    expect(d.readq(r(0x84))).toBe(0x00000000_ffffffffn);
    // 8 bytes below 0x80: edu.c answers all-ones and ignores writes.
    expect(d.readq(r(ID))).toBe(ONES64);
    // (An aligned 8-byte write at 0x00 spans liveness; edu.c drops it whole.)
    d.writeq(r(ID), 0n);
    expect(d.readl(r(LIVENESS))).toBe(0xf0f0f0f0);
    // A writeq at 0x04 is not 8-aligned: the core splits it into writel 0x04 and 0x08.
    d.writeq(r(LIVENESS), 0x00000005_0f0f0f0fn);
    expect(d.readl(r(LIVENESS))).toBe(0xf0f0f0f0);
    expect(d.readl(r(STATUS)) & COMPUTING).toBe(COMPUTING);
    d.clockStep(1000);
    expect(d.readl(r(FACT))).toBe(120);
    // Unlisted aligned offsets read ~0 at the access size.
    for (const off of [0x10, IRQ_RAISE, IRQ_ACK, 0x7c, BUF])
      expect(d.readl(r(off))).toBe(0xffffffff);
    expect(d.readq(r(0xb0))).toBe(ONES64);
    expect(d.readq(r(BUF))).toBe(ONES64);
    // 64-bit DMA registers: a 4-byte write replaces the whole register, zero-extended.
    d.writeq(r(DMA_SRC), ONES64);
    expect(d.readq(r(DMA_SRC))).toBe(ONES64);
    d.writel(r(DMA_SRC), 0x12345678);
    expect(d.readq(r(DMA_SRC))).toBe(0x12345678n);
    d.writeq(r(DMA_DST), 0xaabbccdd_11223344n);
    expect(d.readl(r(DMA_DST))).toBe(0x11223344);
    expect(d.readl(r(DMA_DST + 4)), 'offsets match exactly: 0x8c is unlisted').toBe(0xffffffff);
    expect(d.readl(r(0x84))).toBe(0xffffffff);
    // A command write without RUN is ignored entirely.
    d.writeq(r(DMA_CMD), 0x6n);
    expect(d.readq(r(DMA_CMD))).toBe(0n);
    // DMA status reads 0 before any transfer (4 or 8 bytes).
    expect(d.readl(r(DMA_STATUS))).toBe(0);
    expect(d.readq(r(DMA_STATUS))).toBe(0n);
  });

  it('raises and acknowledges interrupts over INTx (level)', () => {
    const { d, r, intx, emu } = boot(plugin);
    d.writel(r(IRQ_RAISE), 0);
    expect(d.irqLevel(intx), 'raising nothing with status 0 does nothing').toBe(0);
    d.writel(r(IRQ_RAISE), 5);
    expect(d.readl(r(IRQ_STATUS))).toBe(5);
    expect(d.irqLevel(intx)).toBe(1);
    d.writel(r(IRQ_RAISE), 0x100);
    expect(d.readl(r(IRQ_STATUS))).toBe(0x105);
    d.writel(r(IRQ_ACK), 0x104);
    expect(d.readl(r(IRQ_STATUS))).toBe(1);
    expect(d.irqLevel(intx), 'still asserted while a bit remains').toBe(1);
    d.writel(r(IRQ_ACK), 1);
    expect(d.readl(r(IRQ_STATUS))).toBe(0);
    expect(d.irqLevel(intx)).toBe(0);
    // Only the device's own line moved.
    const levels = emu.machine.interruptControllers.get('ioapic')!.levels;
    d.writel(r(IRQ_RAISE), 2);
    expect([...levels].map((l, i) => (l ? i : -1)).filter((i) => i >= 0)).toEqual([intx]);
  });

  it('sends one MSI message per raise once the guest enables MSI, and leaves INTx alone', () => {
    const x = boot(plugin);
    const { d, r, dev, emu, intx } = x;
    enableMsi(dev, 0x4041);
    const msgs = emu.msi!.messages;
    const before = msgs.length;
    d.writel(r(IRQ_RAISE), 1);
    d.writel(r(IRQ_RAISE), 2);
    expect(msgs.length - before).toBe(2);
    expect(msgs.at(-1)).toEqual({ address: 0xfee00000, data: 0x4041, requesterId: dev.devfn });
    expect(d.irqLevel(intx)).toBe(0);
    expect(d.readl(r(IRQ_STATUS))).toBe(3);
    d.writel(r(IRQ_ACK), 3);
    expect(d.readl(r(IRQ_STATUS))).toBe(0);
    expect(msgs.length - before).toBe(2);
    // A DMA completion with the interrupt bit is a message too.
    d.memwrite(0x10000, pattern(16));
    expect(dma(x, 0x10000, BUF, 16, CMD_IRQ)).toBe(ST.OK);
    expect(msgs.length - before).toBe(3);
    expect(d.readl(r(IRQ_STATUS))).toBe(0x100);
    expect(d.irqLevel(intx)).toBe(0);
  });

  it('copies RAM -> EDU -> RAM after 100 ms of virtual time, raising 0x100', () => {
    const x = boot(plugin);
    const { d, r, intx } = x;
    const data = pattern(256);
    d.memwrite(0x100000, data);
    startDma(x, 0x100000, BUF, 256, RUN | CMD_IRQ);
    d.clockStep(DMA_NS - 1);
    expect(d.readq(r(DMA_CMD)) & RUN, 'still running just before 100 ms').toBe(RUN);
    expect(d.irqLevel(intx)).toBe(0);
    d.clockStep(1);
    expect(d.readq(r(DMA_CMD))).toBe(CMD_IRQ);
    expect(d.readl(r(DMA_STATUS))).toBe(ST.OK);
    expect(d.readl(r(IRQ_STATUS))).toBe(0x100);
    expect(d.irqLevel(intx)).toBe(1);
    d.writel(r(IRQ_ACK), 0x100);
    expect(d.irqLevel(intx)).toBe(0);
    // Back out, at an offset inside the buffer, without an interrupt.
    expect(dma(x, BUF + 0x10, 0x200000, 0x80, TO_RAM)).toBe(ST.OK);
    expect(d.memread(0x200000, 0x80)).toEqual(data.subarray(0x10, 0x90));
    expect(d.memread(0x200080, 4)).toEqual(new Uint8Array(4));
    expect(d.readl(r(IRQ_STATUS))).toBe(0);
  });

  it('transfers the whole 4096-byte buffer (QEMU 7.2 aborted here)', () => {
    const x = boot(plugin);
    const data = pattern(4096, 7);
    x.d.memwrite(0x300000, data);
    expect(dma(x, 0x300000, BUF, 4096, 0n)).toBe(ST.OK);
    expect(dma(x, BUF, 0x400000, 4096, TO_RAM)).toBe(ST.OK);
    expect(x.d.memread(0x400000, 4096)).toEqual(data);
    // The last byte alone, and an empty transfer.
    expect(dma(x, BUF + 4095, 0x500000, 1, TO_RAM)).toBe(ST.OK);
    expect(x.d.readb(0x500000)).toBe(data[4095]);
    expect(dma(x, BUF + 4096, 0x500010, 0, TO_RAM)).toBe(ST.OK);
  });

  it('ignores DMA register writes while RUN is set, and keeps the first deadline', () => {
    const x = boot(plugin);
    const { d, r } = x;
    d.memwrite(0x10000, pattern(64));
    startDma(x, 0x10000, BUF, 64, RUN);
    d.clockStep(DMA_NS / 2);
    d.writeq(r(DMA_SRC), 0x20000n);
    d.writel(r(DMA_CNT), 8);
    d.writeq(r(DMA_CMD), RUN | TO_RAM | CMD_IRQ);
    expect([d.readq(r(DMA_SRC)), d.readq(r(DMA_CNT)), d.readq(r(DMA_CMD))]).toEqual([
      0x10000n,
      64n,
      RUN,
    ]);
    d.clockStep(DMA_NS / 2);
    expect(d.readq(r(DMA_CMD))).toBe(0n);
    expect(d.readl(r(IRQ_STATUS))).toBe(0);
    expect(dma(x, BUF, 0x30000, 64, TO_RAM)).toBe(ST.OK);
    expect(d.memread(0x30000, 64)).toEqual(pattern(64));
  });

  it('refuses out-of-range transfers as a whole, visibly (status 1, interrupt 0x300)', () => {
    const x = boot(plugin);
    const { d, r, intx } = x;
    const inside = pattern(4096, 3);
    d.memwrite(0x600000, inside);
    expect(dma(x, 0x600000, BUF, 4096, 0n)).toBe(ST.OK);
    const ramBefore = d.memread(0, 1 << 20);
    const cases: [bigint, bigint][] = [
      [BigInt(BUF), 4097n], // count beyond the buffer
      [BigInt(BUF + 1), 4096n], // ends one past it
      [BigInt(BUF - 1), 2n], // starts before it
      [BigInt(BUF + 0x1000), 1n], // just after it
      [0n, 16n],
      [BigInt(BUF), ONES64], // addr + cnt overflows 64 bits
      [ONES64, 2n], // ditto
      [ONES64 - 0xfffn, 0x1000n],
    ];
    for (const [devAddr, cnt] of cases) {
      for (const toRam of [false, true]) {
        const msg = `${toRam ? 'EDU->RAM' : 'RAM->EDU'} at 0x${devAddr.toString(16)}+0x${cnt.toString(16)}`;
        const st = toRam
          ? dma(x, devAddr, 0x1000, cnt, TO_RAM | CMD_IRQ)
          : dma(x, 0x1000, devAddr, cnt, CMD_IRQ);
        expect(st, msg).toBe(ST.OUT_OF_RANGE);
        expect(d.readl(r(IRQ_STATUS)), msg).toBe(0x300);
        expect(d.irqLevel(intx), msg).toBe(1);
        d.writel(r(IRQ_ACK), 0x300);
      }
    }
    expect(same(d.memread(0, 1 << 20), ramBefore), 'the first MiB of RAM is unchanged').toBe(true);
    expect(x.logs.some((l) => l.includes('out of bounds'))).toBe(true);
    // The buffer was not touched, and a good transfer clears the status again.
    expect(dma(x, BUF, 0x700000, 4096, TO_RAM)).toBe(ST.OK);
    expect(d.memread(0x700000, 4096)).toEqual(inside);
    // Without the interrupt bit, a refusal raises nothing.
    expect(dma(x, 0x1000, BUF + 1, 4096, 0n)).toBe(ST.OUT_OF_RANGE);
    expect(d.readl(r(IRQ_STATUS))).toBe(0);
  });

  it('with bus mastering off, DMA fails visibly (status 5) and RAM is untouched', () => {
    const x = boot(plugin);
    const { d, r, dev } = x;
    const data = pattern(512, 5);
    d.memwrite(0x10000, data);
    expect(dma(x, 0x10000, BUF, 512, 0n)).toBe(ST.OK);
    dev.setBusMaster(false);
    const ramBefore = d.memread(0, 1 << 20);
    expect(dma(x, BUF, 0x20000, 512, TO_RAM | CMD_IRQ)).toBe(ST.NO_MASTER);
    expect(d.readl(r(IRQ_STATUS))).toBe(0x300);
    d.writel(r(IRQ_ACK), 0x300);
    expect(dma(x, 0x30000, BUF + 512, 16, 0n)).toBe(ST.NO_MASTER);
    expect(same(d.memread(0, 1 << 20), ramBefore), 'the first MiB of RAM is unchanged').toBe(true);
    dev.setBusMaster(true);
    expect(dma(x, BUF, 0x20000, 512, TO_RAM)).toBe(ST.OK);
    expect(d.memread(0x20000, 512)).toEqual(data);
  });

  it('reports decode errors, IOMMU faults and re-entry into itself, and survives them', () => {
    const x = boot(plugin, { dma_mask: 0xffffffff });
    const { d, emu, running } = x;
    // Nothing mapped above the 64 MiB of RAM.
    expect(dma(x, BUF, 0x8000000, 16, TO_RAM)).toBe(ST.DECODE);
    // DMA into its own BAR is blocked by the re-entrancy guard.
    d.writel(x.r(LIVENESS), 0x12345678);
    expect(dma(x, BUF, x.bar + LIVENESS, 4, TO_RAM)).toBe(ST.OTHER);
    expect(d.readl(x.r(LIVENESS))).toBe(0xedcba987);
    // An IOMMU that refuses everything.
    emu.machine.dma.addIommu('refuse-all', () => ({
      translate: () => ({ kind: 'fault', reason: 'not-present' }),
    }));
    emu.machine.dma.bind({ device: 'edu0' }, 'refuse-all');
    expect(dma(x, BUF, 0x1000, 16, TO_RAM)).toBe(ST.IOMMU);
    emu.machine.dma.unbind({ device: 'edu0' });
    expect(dma(x, BUF, 0x1000, 16, TO_RAM)).toBe(ST.OK);
    expect(running.slot.scope.guard.quarantined).toBe(false);
  });

  it('masks RAM-side addresses with dma_mask (default 256 MiB) and logs the clamp', () => {
    const x = boot(plugin);
    const data = pattern(32, 9);
    x.d.memwrite(0x12000, data);
    expect(dma(x, 0x1_1001_2000n, BUF, 32, 0n)).toBe(ST.OK);
    expect(dma(x, BUF, 0xf0034000, 32, TO_RAM)).toBe(ST.OK);
    expect(x.d.memread(0x34000, 32)).toEqual(data);
    expect(x.logs.some((l) => l.includes('clamping DMA'))).toBe(true);

    const y = boot(plugin, { dma_mask: 0xffff });
    y.d.memwrite(0x2345, data);
    expect(dma(y, 0x12345, BUF, 32, 0n)).toBe(ST.OK);
    expect(dma(y, BUF, 0x3f000, 32, TO_RAM)).toBe(ST.OK);
    expect(y.d.memread(0xf000, 32)).toEqual(data);

    for (const bad of [-1, 1.5, 2 ** 60])
      expect(() => boot(plugin, { dma_mask: bad }), String(bad)).toThrow(/dma_mask/);
  });

  it('keeps its registers across a system reset, as QEMU edu has no reset handler', () => {
    const x = boot(plugin);
    const { d, r, emu, intx } = x;
    d.writel(r(LIVENESS), 1);
    d.writel(r(IRQ_RAISE), 0x10);
    d.writeq(r(DMA_SRC), 0x1234n);
    expect(d.irqLevel(intx)).toBe(1);
    emu.reset();
    const y = attach(emu, x.running);
    expect(y.d.readl(y.r(LIVENESS))).toBe(0xfffffffe);
    expect(y.d.readl(y.r(IRQ_STATUS))).toBe(0x10);
    expect(y.d.readq(y.r(DMA_SRC))).toBe(0x1234n);
    expect(y.d.irqLevel(intx), 'the generic PCI reset lowers INTx').toBe(0);
  });

  it('restores saved state into another machine, with a pending DMA finishing on time', () => {
    const x = boot(plugin);
    const { d, r } = x;
    const data = pattern(1024, 11);
    d.memwrite(0x40000, data);
    expect(dma(x, 0x40000, BUF, 1024, 0n)).toBe(ST.OK);
    d.writel(r(LIVENESS), 0xa5a5a5a5);
    d.writel(r(STATUS), IRQFACT);
    d.writel(r(IRQ_RAISE), 0x40);
    startDma(x, BUF + 256, 0x90000, 512, RUN | TO_RAM | CMD_IRQ);
    d.clockStep(30_000_000);
    d.writel(r(FACT), 12);
    const saved = x.running.saveState();
    expect(structuredClone(saved)).toEqual(saved);

    const emu2 = new Emulator({ machine: bareMachine(), ramSize: RAM, log: () => {} });
    const running2 = emu2.addDevice(plugin, { id: 'edu0', state: saved });
    const y = attach(emu2, running2);
    expect(running2.saveState()).toEqual(saved);
    expect(y.d.readl(y.r(LIVENESS))).toBe(0x5a5a5a5a);
    expect(y.d.readl(y.r(IRQ_STATUS))).toBe(0x40);
    expect(y.d.readl(y.r(STATUS))).toBe(IRQFACT | COMPUTING);
    expect(y.d.readq(y.r(DMA_CMD))).toBe(RUN | TO_RAM | CMD_IRQ);
    y.d.clockStep(1000);
    expect(y.d.readl(y.r(FACT))).toBe(479001600);
    expect(y.d.readl(y.r(IRQ_STATUS))).toBe(0x41);
    y.d.clockStep(70_000_000 - 1000 - 1);
    expect(y.d.readq(y.r(DMA_CMD)) & RUN, 'not before the 100 ms are up').toBe(RUN);
    y.d.clockStep(1);
    expect(y.d.readq(y.r(DMA_CMD)) & RUN).toBe(0n);
    expect(y.d.readl(y.r(DMA_STATUS))).toBe(ST.OK);
    expect(y.d.readl(y.r(IRQ_STATUS))).toBe(0x141);
    expect(y.d.memread(0x90000, 512)).toEqual(data.subarray(256, 768));
  });

  it('keeps a pending DMA deadline across a hot reload of the instance', () => {
    const x = boot(plugin);
    const { d, r, running } = x;
    d.memwrite(0x50000, pattern(64, 2));
    startDma(x, 0x50000, BUF, 64, RUN | CMD_IRQ);
    d.clockStep(60_000_000);
    // What a hot reload does: a new instance from the old one's state, then the swap.
    const { model, life } = running.createInstance(running.plugin, running.saveState());
    running.adopt(running.plugin, model, life);
    d.clockStep(40_000_000 - 1);
    expect(d.readq(r(DMA_CMD)) & RUN).toBe(RUN);
    d.clockStep(1);
    expect(d.readq(r(DMA_CMD))).toBe(CMD_IRQ);
    expect(d.readl(r(IRQ_STATUS))).toBe(0x100);
    expect(dma(x, BUF, 0x60000, 64, TO_RAM)).toBe(ST.OK);
    expect(d.memread(0x60000, 64)).toEqual(pattern(64, 2));
  });

  it('refuses malformed saved state', () => {
    const emu = new Emulator({ machine: bareMachine(), ramSize: RAM, log: () => {} });
    expect(() =>
      emu.addDevice(plugin, { id: 'edu0', state: { version: 1, data: { addr4: 'x' } } }),
    ).toThrow(/malformed/);
  });

  if (level === 'confined') {
    it('passes the device conformance cases confined', async () => {
      const cases = deviceCases({ plugin: () => plugin });
      for (const [name, run] of Object.entries(cases) as [DeviceCase, () => Promise<void>][]) {
        if (name !== 'reset matches a fresh device') await run();
      }
    });
  }
});
