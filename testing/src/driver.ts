/**
 * A driver API for tests, in the spirit of QEMU's libqos: what a qtest client does, as
 * TypeScript calls. Memory and port accesses go through the machine exactly as qtest's
 * `readl`/`outb` do (bulk accesses, QEMU's splitting, zeroes where nothing answers), PCI
 * goes through 0xcf8/0xcfc, BARs are sized and assigned from libqos's bump allocators.
 */
import type { Machine } from '@emuhost/core';
import type { Emulator } from '@emuhost/host';
import type { GuestPhysAddr, IoPortAddr } from '@emuhost/sdk';

const PCI_COMMAND = 0x04;

export interface BarMapping {
  readonly kind: 'memory' | 'io';
  /** Where it was assigned. */
  readonly addr: number;
  readonly size: number;
}

export class PciDeviceRef {
  constructor(
    private readonly d: Driver,
    readonly devfn: number,
  ) {}

  get vendorId(): number {
    return this.configRead(0, 2);
  }
  get deviceId(): number {
    return this.configRead(2, 2);
  }

  configRead(offset: number, size: 1 | 2 | 4): number {
    this.d.outl(0xcf8, (0x80000000 | (this.devfn << 8) | offset) >>> 0);
    return size === 1 ? this.d.inb(0xcfc) : size === 2 ? this.d.inw(0xcfc) : this.d.inl(0xcfc);
  }

  configWrite(offset: number, size: 1 | 2 | 4, value: number): void {
    this.d.outl(0xcf8, (0x80000000 | (this.devfn << 8) | offset) >>> 0);
    if (size === 1) this.d.outb(0xcfc, value);
    else if (size === 2) this.d.outw(0xcfc, value);
    else this.d.outl(0xcfc, value);
  }

  /** Sizes BAR `bar`, assigns it from the allocator and writes the address (qpci_iomap). */
  iomap(bar: number): BarMapping {
    const off = 0x10 + 4 * bar;
    this.configWrite(off, 4, 0xffffffff);
    const probe = this.configRead(off, 4);
    const io = (probe & 1) === 1;
    const mask = (probe & (io ? ~3 : ~0xf)) >>> 0;
    if (mask === 0) throw new Error(`BAR${bar} of ${this.devfn.toString(16)} is not implemented`);
    const size = 2 ** (31 - Math.clz32(mask & -mask));
    const addr = this.d.allocate(io ? 'io' : 'memory', size);
    this.configWrite(off, 4, addr | (io ? 1 : 0));
    return { kind: io ? 'io' : 'memory', addr, size };
  }

  /** COMMAND |= IO | MEMORY | MASTER, checked (qpci_device_enable). */
  enable(): void {
    const cmd = this.configRead(PCI_COMMAND, 2) | 0x7;
    this.configWrite(PCI_COMMAND, 2, cmd);
    if ((this.configRead(PCI_COMMAND, 2) & 0x7) !== 0x7)
      throw new Error('COMMAND did not take IO|MEMORY|MASTER');
  }

  setBusMaster(on: boolean): void {
    const cmd = this.configRead(PCI_COMMAND, 2);
    this.configWrite(PCI_COMMAND, 2, on ? cmd | 0x4 : cmd & ~0x4);
  }
}

export class Driver {
  readonly machine: Machine;
  private mmioNext = 0xe0000000;
  private ioNext = 0xc000;

  constructor(readonly emulator: Emulator) {
    this.machine = emulator.machine;
  }

  // ---- memory, as qtest's read*/write* ------------------------------------------------

  memread(addr: number, len: number): Uint8Array {
    const b = new Uint8Array(len);
    this.machine.memory.read(addr as GuestPhysAddr, b);
    return b;
  }
  memwrite(addr: number, data: Uint8Array): void {
    this.machine.memory.write(addr as GuestPhysAddr, data);
  }
  readb(addr: number): number {
    return this.memread(addr, 1)[0]!;
  }
  readw(addr: number): number {
    return new DataView(this.memread(addr, 2).buffer).getUint16(0, true);
  }
  readl(addr: number): number {
    return new DataView(this.memread(addr, 4).buffer).getUint32(0, true);
  }
  readq(addr: number): bigint {
    return new DataView(this.memread(addr, 8).buffer).getBigUint64(0, true);
  }
  writeb(addr: number, v: number): void {
    this.memwrite(addr, Uint8Array.of(v & 0xff));
  }
  writew(addr: number, v: number): void {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v & 0xffff, true);
    this.memwrite(addr, b);
  }
  writel(addr: number, v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    this.memwrite(addr, b);
  }
  writeq(addr: number, v: bigint): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
    this.memwrite(addr, b);
  }

  // ---- port I/O, as qtest's in*/out* --------------------------------------------------

  private ioRead(port: number, len: number): number {
    const b = new Uint8Array(len);
    this.machine.io.read(port as IoPortAddr, b);
    let v = 0;
    for (let i = len - 1; i >= 0; i--) v = v * 256 + b[i]!;
    return v;
  }
  private ioWrite(port: number, len: number, v: number): void {
    const b = new Uint8Array(len);
    for (let i = 0; i < len; i++) b[i] = Math.floor(v / 256 ** i) & 0xff;
    this.machine.io.write(port as IoPortAddr, b);
  }
  inb(port: number): number {
    return this.ioRead(port, 1);
  }
  inw(port: number): number {
    return this.ioRead(port, 2);
  }
  inl(port: number): number {
    return this.ioRead(port, 4);
  }
  outb(port: number, v: number): void {
    this.ioWrite(port, 1, v);
  }
  outw(port: number, v: number): void {
    this.ioWrite(port, 2, v);
  }
  outl(port: number, v: number): void {
    this.ioWrite(port, 4, v >>> 0);
  }

  // ---- PCI ---------------------------------------------------------------------------

  /** Every function whose vendor ID reads other than 0xffff (qpci_device_foreach). */
  pciDevices(): PciDeviceRef[] {
    const out: PciDeviceRef[] = [];
    for (let devfn = 0; devfn < 256; devfn++) {
      const ref = new PciDeviceRef(this, devfn);
      if (ref.vendorId !== 0xffff) out.push(ref);
    }
    return out;
  }

  pciFind(vendorId: number, deviceId?: number): PciDeviceRef | undefined {
    return this.pciDevices().find(
      (d) => d.vendorId === vendorId && (deviceId === undefined || d.deviceId === deviceId),
    );
  }

  /** libqos's bump allocators: memory from 0xe0000000, I/O from 0xc000, aligned to size. */
  allocate(kind: 'memory' | 'io', size: number): number {
    if (kind === 'io') {
      const a = Math.ceil(this.ioNext / size) * size;
      this.ioNext = a + size;
      return a;
    }
    const a = Math.ceil(this.mmioNext / size) * size;
    this.mmioNext = a + size;
    return a;
  }

  // ---- time and interrupts -------------------------------------------------------------

  clockStep(ns?: number): number | undefined {
    return ns === undefined ? this.machine.clock.stepToNext() : this.machine.clock.step(ns);
  }

  get now(): number {
    return this.machine.clock.now;
  }

  irqLevel(input: number, controller = 'ioapic'): 0 | 1 {
    return (this.machine.interruptControllers.get(controller)?.levels[input] ?? 0) as 0 | 1;
  }
}

export function createDriver(emulator: Emulator): Driver {
  return new Driver(emulator);
}
