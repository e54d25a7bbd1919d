/**
 * A PCI function as the bus sees it: its configuration space, its BARs and where they are
 * mapped, its INTx pin, its MSI capability and its DMA context.
 *
 * Config writes follow QEMU's pci_default_write_config: masks first, then the side effects
 * of what changed. BARs are remapped whenever a BAR or COMMAND is written (mapped only while
 * COMMAND.MEM/IO decodes them), COMMAND.MASTER gates the DMA context, and
 * COMMAND.INTX_DISABLE masks the pin toward the bus.
 */
import { EmuhostError, type PciBarSpec, type PciIdentity } from '@emuhost/sdk';
import type { DmaContextImpl } from '../dma/dma-context.js';
import type { DeviceGuard } from '../guard.js';
import type { MemorySystem } from '../memory/memory-system.js';
import type { MemoryRegion } from '../memory/region.js';
import { BAR_UNMAPPED, PciBar } from './bar.js';
import {
  PCI_CFG,
  PCI_COMMAND,
  PCI_CONFIG_SIZE,
  PCI_HEADER_MULTIFUNCTION,
  PCI_STATUS,
  PciConfigSpace,
} from './config-space.js';
import { MsiCapability, type MsiSpec } from './msi.js';
import { MsixCapability } from './msix.js';

/** The SDK's identity of a function, plus the header's multifunction bit. */
export interface PciFunctionSpec extends PciIdentity {
  /** Advertise multifunction in the header type. Default: only when the slot has several. */
  readonly multifunction?: boolean;
}

/** Device-specific config-space behaviour, called after the kernel's own handling. */
/** A function's kernel-side state as plain data (see `PciFunction.saveState`). */
export interface PciFunctionState {
  /** The 256 bytes of config space. */
  readonly config: Uint8Array;
  readonly intx: 0 | 1;
}

export interface PciConfigHooks {
  /** May replace the value a guest reads. */
  read?(offset: number, size: number, value: number): number;
  /** Sees every guest write after the masks applied (e.g. chipset registers). */
  write?(offset: number, size: number, value: number): void;
}

/** What a function needs from its bus. */
export interface PciFunctionHost {
  readonly memory: MemoryRegion;
  readonly io: MemoryRegion;
  intxChanged(fn: PciFunction): void;
}

export class PciFunction {
  readonly config = new PciConfigSpace();
  readonly bars: (PciBar | undefined)[] = new Array(6);
  msi: MsiCapability | null = null;
  msix: MsixCapability | null = null;
  /** The level the device drives on its pin (before INTX_DISABLE masking). */
  intxLevel: 0 | 1 = 0;
  hooks: PciConfigHooks = {};

  constructor(
    private readonly host: PciFunctionHost,
    readonly id: string,
    readonly devfn: number,
    readonly spec: PciFunctionSpec,
    readonly dma: DmaContextImpl,
    readonly guard: DeviceGuard | null,
  ) {
    const c = this.config;
    c.set16(PCI_CFG.VENDOR_ID, spec.vendorId);
    c.set16(PCI_CFG.DEVICE_ID, spec.deviceId);
    c.set8(PCI_CFG.REVISION_ID, spec.revision ?? 0);
    c.set8(PCI_CFG.CLASS_PROG, spec.classCode & 0xff);
    c.set16(PCI_CFG.CLASS_DEVICE, spec.classCode >>> 8);
    c.set16(PCI_CFG.SUBSYSTEM_VENDOR_ID, spec.subsystemVendorId ?? 0);
    c.set16(PCI_CFG.SUBSYSTEM_ID, spec.subsystemId ?? 0);
    c.set8(PCI_CFG.INTERRUPT_PIN, spec.interruptPin ?? 0);
    if (spec.multifunction) c.set8(PCI_CFG.HEADER_TYPE, PCI_HEADER_MULTIFUNCTION);
    dma.setBusMaster(false);
  }

  get slot(): number {
    return this.devfn >> 3;
  }

  get function(): number {
    return this.devfn & 7;
  }

  /** The pin level the bus sees: the device's level unless COMMAND.INTX_DISABLE masks it. */
  get intxAsserted(): boolean {
    return (
      this.intxLevel === 1 && (this.config.get16(PCI_CFG.COMMAND) & PCI_COMMAND.INTX_DISABLE) === 0
    );
  }

  /** Registers BAR `index` decoding to `region` (pci_register_bar). */
  addBar(index: number, spec: PciBarSpec, region: MemoryRegion): PciBar {
    const bar = new PciBar(index, spec, region);
    if (index < 0 || index > 5 || (bar.is64 && index > 4) || this.bars[index] !== undefined) {
      throw new EmuhostError('E_BAD_ARGUMENT', `BAR${index} is taken or out of range`, {
        device: this.id,
      });
    }
    if (region.size !== spec.size) {
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `BAR${index} is ${spec.size} bytes but its region is ${region.size}`,
        {
          device: this.id,
          region: region.name,
        },
      );
    }
    this.bars[index] = bar;
    if (bar.is64) this.bars[index + 1] = bar;
    const o = PCI_CFG.BAR0 + 4 * index;
    const [lo, hi] = bar.masks();
    this.config.set32(o, bar.flags);
    this.config.wmask.set(le32(lo), o);
    if (bar.is64) {
      this.config.set32(o + 4, 0);
      this.config.wmask.set(le32(hi), o + 4);
    }
    return bar;
  }

  /** Adds the MSI capability (msi_init). */
  addMsi(spec: MsiSpec = {}): MsiCapability {
    if (this.msi !== null)
      throw new EmuhostError('E_BAD_ARGUMENT', 'MSI already added', { device: this.id });
    this.msi = new MsiCapability(this.config, this.dma, spec);
    return this.msi;
  }

  /**
   * Adds the MSI-X capability with its table and PBA in BAR `bar`, which it takes alone
   * (msix_init_exclusive_bar). Enabling MSI-X lowers the INTx pin, as QEMU does.
   */
  addMsix(ms: MemorySystem, vectors: number, bar: number): MsixCapability {
    if (this.msix !== null)
      throw new EmuhostError('E_BAD_ARGUMENT', 'MSI-X already added', { device: this.id });
    const msix = new MsixCapability(this.config, this.dma, ms, this.id, vectors, bar, () =>
      this.setIntx(0),
    );
    this.addBar(bar, { kind: 'memory', size: msix.barSize }, msix.region);
    this.msix = msix;
    return msix;
  }

  /** Drives the INTx pin (pci_set_irq). */
  setIntx(level: number): void {
    const l: 0 | 1 = level ? 1 : 0;
    if (l === this.intxLevel) return;
    const before = this.intxAsserted;
    this.intxLevel = l;
    const st = this.config.get16(PCI_CFG.STATUS);
    this.config.set16(PCI_CFG.STATUS, l ? st | PCI_STATUS.INTERRUPT : st & ~PCI_STATUS.INTERRUPT);
    if (this.intxAsserted !== before) this.host.intxChanged(this);
  }

  /** A guest config read of 1, 2 or 4 bytes (truncated at the end of config space). */
  configRead(offset: number, size: number): number {
    const n = Math.min(size, PCI_CONFIG_SIZE - offset);
    const v = this.config.read(offset, n);
    return this.hooks.read ? this.hooks.read(offset, n, v) >>> 0 : v;
  }

  /** A guest config write, with its side effects. */
  configWrite(offset: number, size: number, value: number): void {
    const n = Math.min(size, PCI_CONFIG_SIZE - offset);
    const intxBefore = this.intxAsserted;
    this.config.write(offset, n, value);
    const end = offset + n;
    const touchesCommand = offset <= PCI_CFG.COMMAND + 1 && end > PCI_CFG.COMMAND;
    if (touchesCommand || (offset < PCI_CFG.BAR0 + 24 && end > PCI_CFG.BAR0)) this.updateMappings();
    if (touchesCommand) {
      this.dma.setBusMaster((this.config.get16(PCI_CFG.COMMAND) & PCI_COMMAND.MASTER) !== 0);
      if (this.intxAsserted !== intxBefore) this.host.intxChanged(this);
    }
    this.msix?.configWritten(offset, n);
    // The device's config-write hook is device code reached through the host bridge's config
    // mechanism, not through the device's own MMIO: it runs under the device's guard here.
    const w = this.hooks.write;
    if (w !== undefined) {
      if (this.guard === null) w(offset, n, value);
      else
        this.guard.run(
          'config-write',
          () => w(offset, n, value),
          `0x${offset.toString(16)}, ${n} byte${n === 1 ? '' : 's'}, value 0x${value.toString(16)}`,
        );
    }
  }

  /**
   * The generic part of a device reset (pci_do_device_reset): command, status and interrupt
   * line cleared, BARs back to their flags and unmapped, MSI disabled, INTx lowered.
   */
  reset(): void {
    const c = this.config;
    c.set16(
      PCI_CFG.COMMAND,
      c.get16(PCI_CFG.COMMAND) &
        ~(c.wmask[PCI_CFG.COMMAND]! | (c.wmask[PCI_CFG.COMMAND + 1]! << 8)),
    );
    c.set16(PCI_CFG.STATUS, c.get16(PCI_CFG.STATUS) & ~PCI_STATUS.W1C);
    c.set8(PCI_CFG.INTERRUPT_LINE, 0);
    c.set8(PCI_CFG.CACHE_LINE_SIZE, 0);
    for (const bar of new Set(this.bars)) {
      if (bar === undefined) continue;
      const o = PCI_CFG.BAR0 + 4 * bar.index;
      c.set32(o, bar.flags);
      if (bar.is64) c.set32(o + 4, 0);
    }
    this.updateMappings();
    this.dma.setBusMaster(false);
    this.msi?.reset();
    this.msix?.reset();
    this.setIntx(0);
  }

  /** The kernel's part of the function's state (snapshots): config space and the INTx level. */
  saveState(): PciFunctionState {
    return { config: this.config.bytes.slice(), intx: this.intxLevel };
  }

  /**
   * Puts back what `saveState` returned: config space as it was (BARs mapped where it says,
   * bus mastering as COMMAND says) and the INTx level. No device hook runs and no MSI is sent:
   * the device's own state (its MSI-X table) comes back through its plugin.
   */
  loadState(s: PciFunctionState): void {
    const intxBefore = this.intxAsserted;
    this.config.bytes.set(s.config.subarray(0, PCI_CONFIG_SIZE));
    this.updateMappings();
    this.dma.setBusMaster((this.config.get16(PCI_CFG.COMMAND) & PCI_COMMAND.MASTER) !== 0);
    if (this.intxLevel !== s.intx) this.setIntx(s.intx);
    else if (this.intxAsserted !== intxBefore) this.host.intxChanged(this);
  }

  /** Unmaps every BAR and lowers INTx (the function is being detached). */
  release(): void {
    for (const bar of new Set(this.bars)) if (bar !== undefined) this.place(bar, BAR_UNMAPPED);
    this.setIntx(0);
  }

  /** Where each BAR should be mapped now (QEMU's pci_bar_address), applied. */
  updateMappings(): void {
    for (const bar of new Set(this.bars))
      if (bar !== undefined) this.place(bar, this.barAddress(bar));
  }

  private barAddress(bar: PciBar): number {
    const c = this.config;
    const cmd = c.get16(PCI_CFG.COMMAND);
    const o = PCI_CFG.BAR0 + 4 * bar.index;
    const size = bar.spec.size;
    if (bar.spec.kind === 'io') {
      if (!(cmd & PCI_COMMAND.IO)) return BAR_UNMAPPED;
      const a = (c.get32(o) & ~(size - 1) & ~3) >>> 0;
      const last = a + size - 1;
      return a === 0 || last > 0xffff ? BAR_UNMAPPED : a;
    }
    if (!(cmd & PCI_COMMAND.MEMORY)) return BAR_UNMAPPED;
    const lo = c.get32(o) & ~0xf;
    const hi = bar.is64 ? c.get32(o + 4) : 0;
    const a = hi * 2 ** 32 + (lo >>> 0) - ((hi * 2 ** 32 + (lo >>> 0)) % size);
    const last = a + size - 1;
    // Address 0 and anything past 4 GiB for a 32-bit BAR (or past 2^53) are not decoded: the
    // all-ones value left by sizing must not map the BAR over the top of memory.
    if (a === 0 || (!bar.is64 && last >= 0xffffffff) || last >= 2 ** 53) return BAR_UNMAPPED;
    return a;
  }

  private place(bar: PciBar, addr: number): void {
    if (bar.mappedAt === addr) return;
    const parent = bar.spec.kind === 'io' ? this.host.io : this.host.memory;
    if (bar.mappedAt !== BAR_UNMAPPED) parent.removeSubregion(bar.region);
    bar.mappedAt = addr;
    if (addr !== BAR_UNMAPPED) parent.addSubregion(bar.region, addr, { priority: 1 });
  }
}

function le32(v: number): Uint8Array {
  return Uint8Array.of(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24);
}
