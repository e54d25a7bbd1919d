/**
 * pc-testdev on the `pc` machine, driven as QEMU's tests/qtest/endianness-test.c drives it
 * (x86_64/pc: isa_base -1, so port I/O, no byte swap), plus the access-size edge cases of its
 * regions, worked out from QEMU 7.2's memory core (memory_access_size for the bulk accesses
 * qtest makes, memory_region_access_valid, access_with_adjusted_size).
 */
import { fileURLToPath } from 'node:url';
import { Emulator, type LoadedPlugin, type RunningDevice } from '@emuhost/host';
import { createDriver, type Driver, deviceConformance, loadPluginDir } from '@emuhost/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type EndiannessStep,
  TEST_ENDIANNESS,
  TEST_ENDIANNESS_COMBINE,
  TEST_ENDIANNESS_SPLIT,
} from './endianness.js';

const dir = fileURLToPath(new URL('..', import.meta.url));
const pcDir = fileURLToPath(new URL('../../pc', import.meta.url));

deviceConformance({
  plugin: dir,
  skip: {
    'identity is read-only': 'an ISA device: it has no PCI identity to protect',
    'reset matches a fresh device':
      'like QEMU pc-testdev (no reset handler), the register and iomem survive a reset',
  },
});

const IOMEM = 0xff000000;

let testdev: LoadedPlugin;
let confined: LoadedPlugin;
let pc: LoadedPlugin;
beforeAll(async () => {
  [testdev, confined, pc] = await Promise.all([
    loadPluginDir(dir),
    loadPluginDir(dir, { level: 'confined' }),
    loadPluginDir(pcDir),
  ]);
});

interface Rig {
  emu: Emulator;
  d: Driver;
  dev: RunningDevice;
  logs: string[];
}

/** `-M pc -device pc-testdev`. */
function boot(level: 'trusted' | 'confined' = 'trusted'): Rig {
  const logs: string[] = [];
  const emu = new Emulator({
    machine: pc,
    ramSize: 128 << 20,
    log: (level, _src, msg) => {
      if (level !== 'debug') logs.push(msg);
    },
  });
  const plugin = level === 'trusted' ? testdev : confined;
  const dev = emu.addDevice(plugin, { id: 'testdev0', platform: true });
  return { emu, d: createDriver(emu), dev, logs };
}

/** Runs the steps; returns every isa_in whose value differs, as "inw 0xe2: got .. want ..". */
function run(d: Driver, steps: readonly EndiannessStep[]): string[] {
  const bad: string[] = [];
  const hex = (n: number) => `0x${n.toString(16)}`;
  for (const [i, s] of steps.entries()) {
    if ('value' in s) {
      d[s.op](s.port, s.value);
      continue;
    }
    const got = d[s.op](s.port);
    if (got !== s.expect)
      bad.push(`step ${i} ${s.op} ${hex(s.port)}: got ${hex(got)}, want ${hex(s.expect)}`);
  }
  return bad;
}

describe.each(['trusted', 'confined'] as const)(
  'endianness-test.c on -M pc -device pc-testdev (%s)',
  (level) => {
    it('endianness/pc (test_endianness)', () => {
      expect(run(boot(level).d, TEST_ENDIANNESS)).toEqual([]);
    });
    it('endianness/split/pc (test_endianness_split)', () => {
      expect(run(boot(level).d, TEST_ENDIANNESS_SPLIT)).toEqual([]);
    });
    it('endianness/combine/pc (test_endianness_combine)', () => {
      expect(run(boot(level).d, TEST_ENDIANNESS_COMBINE)).toEqual([]);
    });
  },
);

describe('pc-testdev-ioport (0xe0) and pc-testdev-ioport-byte (0xe8)', () => {
  it('are two views of one 32-bit register', () => {
    const { d } = boot();
    expect(d.inl(0xe0)).toBe(0);
    d.outl(0xe8, 0xdeadbeef);
    expect(d.inl(0xe0)).toBe(0xdeadbeef);
    d.outb(0xe1, 0x00);
    expect(d.inl(0xe8)).toBe(0xdead00ef);
  });

  it('an unaligned access is made of aligned pieces (memory_access_size), each valid', () => {
    const { d } = boot();
    d.outl(0xe0, 0x87654321);
    // inw 0xe1: offset 1 aligns to 1, so two byte reads: 0x43 then 0x65.
    expect(d.inw(0xe1)).toBe(0x6543);
    expect(d.inw(0xe9)).toBe(0x6543);
    // outw 0xe9: bytes 0xe9 <- 0xaa, 0xea <- 0xbb.
    d.outw(0xe9, 0xbbaa);
    expect(d.inl(0xe0)).toBe(0x87bbaa21);
    // outw 0xe3 crosses into the flush region: 0xe3 <- 0x11 lands, 0xe4 (valid 4..4) is refused.
    d.outw(0xe3, 0x2211);
    expect(d.inl(0xe0)).toBe(0x11bbaa21);
  });

  it('an inl crossing into the flush-page region reads 0 for its byte there', () => {
    const { d } = boot();
    d.outl(0xe0, 0x87654321);
    // 0xe1 (1 byte), 0xe2 (2 bytes) from the ioport; 0xe4 (1 byte) is below flush's valid.min.
    expect(d.inl(0xe1)).toBe(0x00876543);
    // 0xe9, 0xea..0xeb from ioport-byte; 0xec: nothing there (unassigned port: 0).
    expect(d.inl(0xe9)).toBe(0x00876543);
  });

  it('survives a system reset (QEMU registers no reset handler)', () => {
    const { emu, d } = boot();
    d.outl(0xe0, 0x12345678);
    emu.reset();
    expect(d.inl(0xe8)).toBe(0x12345678);
  });
});

describe('pc-testdev-flush-page (0xe4)', () => {
  it('takes only 4-byte accesses, reads 0 and ignores what is written', () => {
    const { d, dev } = boot();
    d.outl(0xe4, 0x00100000);
    expect(d.inl(0xe4)).toBe(0);
    d.outb(0xe4, 0xff);
    expect(d.inb(0xe4)).toBe(0);
    expect(d.inw(0xe6)).toBe(0);
    expect(d.inl(0xe0)).toBe(0);
    expect(dev.slot.scope.guard.quarantined).toBe(false);
  });
});

describe('pc-testdev-irq-line (0x2000)', () => {
  const level = (dev: RunningDevice, n: number) => dev.slot.irqLines.get(`isa-irq-${n}`)?.level;

  it('outb 0x2000+n sets ISA IRQ n to !!value; reads are 0', () => {
    const { d, dev } = boot();
    d.outb(0x2003, 1);
    expect(level(dev, 3)).toBe(1);
    d.outb(0x2003, 0x80);
    expect(level(dev, 3)).toBe(1);
    d.outb(0x2003, 0);
    expect(level(dev, 3)).toBe(0);
    d.outb(0x200f, 7);
    expect(level(dev, 15)).toBe(1);
    expect(d.inb(0x200f)).toBe(0);
  });

  it('a wider write is split into byte writes (valid.max 1 caps the bulk pieces)', () => {
    const { d, dev } = boot();
    d.outw(0x2004, 0x0100);
    expect([level(dev, 4), level(dev, 5)]).toEqual([0, 1]);
    d.outl(0x2008, 0x01000101);
    expect([8, 9, 10, 11].map((n) => level(dev, n))).toEqual([1, 1, 0, 1]);
    expect(d.inl(0x2008)).toBe(0);
  });

  it('0x2010..0x2017 are no ISA IRQ: refused and logged (QEMU asserts in isa_get_irq)', () => {
    const { d, dev, logs } = boot();
    d.outb(0x2010, 1);
    expect(logs.some((l) => l.includes('no ISA IRQ 16'))).toBe(true);
    expect(dev.slot.scope.guard.quarantined).toBe(false);
    expect([...dev.slot.irqLines.values()].every((l) => l.level === 0)).toBe(true);
  });

  // QEMU's ISA bus wires isa_get_irq(n) to the i8259 and IOAPIC input n; the pc machine
  // plugin does the same for platform devices' `isa-irq-N` outputs (MachineModel.platformIrq).
  it('reaches the pc ioapic input n, as on QEMU', () => {
    const { d } = boot();
    d.outb(0x2005, 1);
    expect(d.irqLevel(5)).toBe(1);
    d.outb(0x2005, 0);
    expect(d.irqLevel(5)).toBe(0);
    d.outb(0x200b, 1);
    expect(d.irqLevel(11)).toBe(1);
  });
});

describe('pc-testdev-iomem (0xff000000, 64 KiB)', () => {
  it('is a little-endian buffer; 8-byte accesses are two 4-byte callbacks', () => {
    const { d } = boot();
    expect(d.readq(IOMEM)).toBe(0n);
    d.writel(IOMEM, 0x12345678);
    expect(d.readb(IOMEM)).toBe(0x78);
    expect(d.readw(IOMEM + 2)).toBe(0x1234);
    d.writeq(IOMEM + 8, 0x0102030405060708n);
    expect(d.readl(IOMEM + 8)).toBe(0x05060708);
    expect(d.readl(IOMEM + 12)).toBe(0x01020304);
    expect(d.readq(IOMEM + 8)).toBe(0x0102030405060708n);
  });

  it('unaligned accesses go through as aligned pieces; the last byte is reachable', () => {
    const { d } = boot();
    d.writel(IOMEM + 0x101, 0xaabbccdd);
    expect(d.readl(IOMEM + 0x100)).toBe(0xbbccdd00);
    expect(d.readl(IOMEM + 0x101)).toBe(0xaabbccdd);
    d.writeb(IOMEM + 0xffff, 0x5a);
    expect(d.readb(IOMEM + 0xffff)).toBe(0x5a);
    // Past the end: RAM-less, PCI-unassigned space reads 0.
    expect(d.readw(IOMEM + 0xffff)).toBe(0x005a);
  });
});

describe('state', () => {
  it('saves the register and iomem, and resumes from them', () => {
    const { d, dev } = boot();
    d.outl(0xe0, 0xcafef00d);
    d.writel(IOMEM + 0x40, 0x11223344);
    const saved = dev.saveState();
    const emu = new Emulator({ machine: pc, ramSize: 128 << 20, log: () => {} });
    emu.addDevice(testdev, { id: 'testdev0', platform: true, state: saved });
    const d2 = createDriver(emu);
    expect(d2.inl(0xe8)).toBe(0xcafef00d);
    expect(d2.readl(IOMEM + 0x40)).toBe(0x11223344);
  });
});
