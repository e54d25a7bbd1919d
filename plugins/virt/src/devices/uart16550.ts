/**
 * The ns16550a UART of QEMU's virt machine (0x10000000, reg-shift 0, IRQ 10 on the PLIC), as
 * hw/char/serial.c models a 16550A behind serial_mm: one byte register per offset, accesses
 * of 1 to 8 bytes each reaching the one register at their offset.
 *
 *   0  RBR (read), THR (write); DLL while LCR.DLAB
 *   1  IER (bits 0-3); DLM while LCR.DLAB
 *   2  IIR (read), FCR (write)
 *   3  LCR            4  MCR (bits 0-4)     5  LSR (read-only)
 *   6  MSR (read-only)                      7  SCR
 *   8.. nothing: decode error (QEMU maps 8 bytes of the 256-byte window)
 *
 * Transmission is immediate: a THR write goes to the backend at once (or, in loopback, to the
 * receiver), so THRE and TEMT are set again before the write returns; the THRE interrupt
 * rises when IER.THRI allows it and is cleared by reading IIR while it is the one shown, or
 * by writing THR. Reception fills a 16-byte FIFO (FCR.FE) or the single RBR; the received
 * data interrupt waits for the FIFO's trigger level, and the character timeout interrupt
 * comes 4 character times (from LCR and the divisor) after the last byte in or out of a FIFO
 * that still holds data. Interrupt priorities are the 16550's: line status, then received data
 * or timeout, then THR empty, then modem status.
 */
import type {
  CharBackend,
  CharFrontend,
  ClockHandle,
  Logger,
  MmioAccessRules,
  MmioOps,
  TimerHandle,
} from '@emuhost/sdk';
import type { VirtDevice } from './device.js';
import { IrqLine, type IrqSetter } from './irq-line.js';
import { restoreDeadline, StateReader } from './saved-state.js';

export const UART_SIZE = 0x100;
/** What QEMU's virt passes serial_mm_init as the baud base (the clock is 3.6864 MHz). */
export const VIRT_UART_BAUDBASE = 399193;
const FIFO_SIZE = 16;

const IER_RDI = 0x01;
const IER_THRI = 0x02;
const IER_RLSI = 0x04;
const IER_MSI = 0x08;

const IIR_NO_INT = 0x01;
const IIR_ID = 0x06;
const IIR_MSI = 0x00;
const IIR_THRI = 0x02;
const IIR_RDI = 0x04;
const IIR_RLSI = 0x06;
const IIR_CTI = 0x0c;
const IIR_FIFO = 0xc0;

const LCR_DLAB = 0x80;
const MCR_OUT2 = 0x08;
const MCR_LOOP = 0x10;

const LSR_DR = 0x01;
const LSR_OE = 0x02;
const LSR_BI = 0x10;
const LSR_THRE = 0x20;
const LSR_TEMT = 0x40;
/** Overrun, parity, framing, break: the line-status interrupt's causes. */
const LSR_INT_ANY = 0x1e;

const MSR_CTS = 0x10;
const MSR_DSR = 0x20;
const MSR_RI = 0x40;
const MSR_DCD = 0x80;
const MSR_TERI = 0x04;
const MSR_ANY_DELTA = 0x0f;

const FCR_FE = 0x01;
const FCR_RFR = 0x02;
const FCR_XFR = 0x04;
/** FCR bits that stick: FIFO enable, DMA mode, trigger level. */
const FCR_KEPT = 0xc9;
const TRIGGER_LEVELS = [1, 4, 8, 14] as const;

/** QEMU's reset value of the character time: 10 bits at 9600 baud, in ns. */
const RESET_CHAR_NS = Math.floor(1e9 / 9600) * 10;

export interface Uart16550Options {
  readonly clock: ClockHandle;
  /** Its interrupt output (the machine wires `Plic.sourceSetter(10)`). */
  readonly irq: IrqSetter;
  /** Where output goes and input comes from; without one output is dropped, input never comes. */
  readonly backend?: CharBackend;
  /** The baud base the divisor divides. Default 399193, as on QEMU's virt. */
  readonly baudbase?: number;
  /** Prefix of the timer names (unique on the machine's clock). Default `'uart0'`. */
  readonly name?: string;
  readonly log?: Logger;
}

export class Uart16550 implements VirtDevice, CharFrontend {
  readonly size = UART_SIZE;
  readonly rules: MmioAccessRules = {
    valid: { min: 1, max: 8 },
    impl: { min: 1, max: 8 },
    endianness: 'little',
  };
  readonly ops: MmioOps = {
    read: (offset) => (offset < 8 ? this.read(offset) : 'decode-error'),
    write: (offset, _size, value) => {
      if (offset >= 8) return 'decode-error';
      this.write(offset, typeof value === 'bigint' ? Number(value & 0xffn) : value & 0xff);
      return undefined;
    },
  };

  private readonly clock: ClockHandle;
  private readonly irq: IrqLine;
  private readonly backend: CharBackend | undefined;
  private readonly baudbase: number;
  private readonly rxTimer: TimerHandle;
  private readonly log: Logger | undefined;

  private rbr = 0;
  private ier = 0;
  /** The interrupt IIR shows (its low nibble); the FIFO bits come from FCR. */
  private iirId = IIR_NO_INT;
  private lcr = 0;
  private mcr = MCR_OUT2;
  private lsr = LSR_TEMT | LSR_THRE;
  /** MSR's delta bits; its input bits follow MCR in loopback and are fixed otherwise. */
  private msrDelta = 0;
  private scr = 0;
  private fcr = 0;
  private divider = 0x0c;
  private rx: number[] = [];
  private thrIpending = false;
  private timeoutIpending = false;
  /** One character's time on the line, in ns (what the receive timeout counts in). */
  private charNs = RESET_CHAR_NS;

  constructor(opts: Uart16550Options) {
    this.clock = opts.clock;
    this.irq = new IrqLine(opts.irq);
    this.backend = opts.backend;
    this.baudbase = opts.baudbase ?? VIRT_UART_BAUDBASE;
    this.log = opts.log;
    this.rxTimer = opts.clock.timer(`${opts.name ?? 'uart0'}.rx-timeout`, () => this.rxTimeout());
    this.backend?.connect(this);
    this.reset();
  }

  /** Room for input: the free FIFO entries, or 1 while RBR is empty; none in loopback. */
  canReceive(): number {
    if (this.mcr & MCR_LOOP) return 0;
    if (this.fcr & FCR_FE) return FIFO_SIZE - this.rx.length;
    return this.lsr & LSR_DR ? 0 : 1;
  }

  /** Input from the backend (at most what `canReceive` said; more overruns, as on a UART). */
  receive(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (this.fcr & FCR_FE) {
      for (const b of bytes) {
        // An overrun does not overwrite what the FIFO holds.
        if (this.rx.length < FIFO_SIZE) this.rx.push(b);
        else this.lsr |= LSR_OE;
      }
      this.lsr |= LSR_DR;
      this.rxTimer.armAt(this.clock.now() + 4 * this.charNs);
    } else {
      for (const b of bytes) {
        if (this.lsr & LSR_DR) this.lsr |= LSR_OE;
        this.rbr = b;
        this.lsr |= LSR_DR;
      }
    }
    this.updateIrq();
  }

  /**
   * QEMU's reset values (9600 baud divisor, OUT2 set, THR empty, DCD/DSR/CTS asserted), and
   * FCR cleared as on the 16550 (QEMU keeps FCR over a reset).
   */
  reset(): void {
    this.rbr = 0;
    this.ier = 0;
    this.lcr = 0;
    this.mcr = MCR_OUT2;
    this.lsr = LSR_TEMT | LSR_THRE;
    this.msrDelta = 0;
    this.scr = 0;
    this.fcr = 0;
    this.divider = 0x0c;
    this.rx = [];
    this.thrIpending = false;
    this.timeoutIpending = false;
    this.charNs = RESET_CHAR_NS;
    this.rxTimer.cancel();
    this.iirId = IIR_NO_INT;
    this.irq.force(0);
    this.backend?.ready();
  }

  saveState(): UartState {
    return {
      rbr: this.rbr,
      ier: this.ier,
      lcr: this.lcr,
      mcr: this.mcr,
      lsr: this.lsr,
      msrDelta: this.msrDelta,
      scr: this.scr,
      fcr: this.fcr,
      divider: this.divider,
      rx: [...this.rx],
      thrIpending: this.thrIpending ? 1 : 0,
      timeoutIpending: this.timeoutIpending ? 1 : 0,
      charNs: this.charNs,
      rxTimeout: this.rxTimer.pending ? this.rxTimer.deadline : -1,
    };
  }

  loadState(state: unknown): void {
    const r = new StateReader('uart16550', state);
    const byte = (k: string) => r.int(k, 0, 0xff);
    const rbr = byte('rbr');
    const ier = r.int('ier', 0, 0x0f);
    const lcr = byte('lcr');
    const mcr = r.int('mcr', 0, 0x1f);
    const lsr = byte('lsr');
    const msrDelta = r.int('msrDelta', 0, 0x0f);
    const scr = byte('scr');
    const fcr = r.int('fcr', 0, 0xff);
    const divider = r.int('divider', 0, 0xffff);
    const rx = r.intList('rx', FIFO_SIZE, 0, 0xff);
    const thrIpending = r.bit('thrIpending');
    const timeoutIpending = r.bit('timeoutIpending');
    const charNs = r.int('charNs', 1, Number.MAX_SAFE_INTEGER);
    const rxTimeout = r.deadline('rxTimeout');
    this.rbr = rbr;
    this.ier = ier;
    this.lcr = lcr;
    this.mcr = mcr;
    this.lsr = lsr;
    this.msrDelta = msrDelta;
    this.scr = scr;
    this.fcr = fcr & FCR_KEPT;
    this.divider = divider;
    this.rx = [...rx];
    this.thrIpending = thrIpending === 1;
    this.timeoutIpending = timeoutIpending === 1;
    this.charNs = charNs;
    restoreDeadline(this.rxTimer, rxTimeout);
    this.updateIrq(true);
  }

  private read(offset: number): number {
    switch (offset) {
      case 0:
        return this.lcr & LCR_DLAB ? this.divider & 0xff : this.readRbr();
      case 1:
        return this.lcr & LCR_DLAB ? this.divider >> 8 : this.ier;
      case 2: {
        const v = this.iir();
        // Reading IIR while it shows THR empty acknowledges that interrupt.
        if ((v & IIR_ID) === IIR_THRI) {
          this.thrIpending = false;
          this.updateIrq();
        }
        return v;
      }
      case 3:
        return this.lcr;
      case 4:
        return this.mcr;
      case 5: {
        const v = this.lsr;
        if (this.lsr & (LSR_BI | LSR_OE)) {
          this.lsr &= ~(LSR_BI | LSR_OE);
          this.updateIrq();
        }
        return v;
      }
      case 6: {
        const v = this.msrInputs() | this.msrDelta;
        if (this.msrDelta) {
          this.msrDelta = 0;
          this.updateIrq();
        }
        return v;
      }
      default:
        return this.scr;
    }
  }

  private write(offset: number, v: number): void {
    switch (offset) {
      case 0:
        if (this.lcr & LCR_DLAB) {
          this.divider = (this.divider & 0xff00) | v;
          this.updateCharTime();
        } else {
          this.transmit(v);
        }
        break;
      case 1:
        if (this.lcr & LCR_DLAB) {
          this.divider = (this.divider & 0x00ff) | (v << 8);
          this.updateCharTime();
        } else {
          this.writeIer(v);
        }
        break;
      case 2:
        this.writeFcr(v);
        break;
      case 3:
        this.lcr = v;
        this.updateCharTime();
        break;
      case 4:
        this.writeMcr(v);
        break;
      case 7:
        this.scr = v;
        break;
      default:
        this.log?.debug(`uart16550: write of read-only register ${offset}`);
    }
  }

  private readRbr(): number {
    let v: number;
    let consumed: boolean;
    if (this.fcr & FCR_FE) {
      consumed = this.rx.length > 0;
      v = this.rx.shift() ?? 0;
      if (this.rx.length === 0) {
        this.lsr &= ~(LSR_DR | LSR_BI);
        this.rxTimer.cancel();
      } else {
        this.rxTimer.armAt(this.clock.now() + 4 * this.charNs);
      }
      this.timeoutIpending = false;
    } else {
      consumed = (this.lsr & LSR_DR) !== 0;
      v = this.rbr;
      this.lsr &= ~(LSR_DR | LSR_BI);
    }
    this.updateIrq();
    if (consumed && !(this.mcr & MCR_LOOP)) this.backend?.ready();
    return v;
  }

  /** A THR write: the byte leaves at once, so the holding register is empty again. */
  private transmit(v: number): void {
    this.thrIpending = false;
    this.lsr &= ~(LSR_THRE | LSR_TEMT);
    this.updateIrq();
    this.lsr |= LSR_THRE;
    this.thrIpending = true;
    this.updateIrq();
    if (this.mcr & MCR_LOOP) this.receive(Uint8Array.of(v));
    else this.backend?.write(Uint8Array.of(v));
    this.lsr |= LSR_TEMT;
  }

  private writeIer(v: number): void {
    const changed = (this.ier ^ v) & 0x0f;
    this.ier = v & 0x0f;
    // Turning THRI on while THR is empty raises the interrupt even if an IIR read had
    // acknowledged it (QEMU: Windows relies on it).
    if (changed & IER_THRI) {
      this.thrIpending = (this.ier & IER_THRI) !== 0 && (this.lsr & LSR_THRE) !== 0;
    }
    if (changed) this.updateIrq();
  }

  private writeFcr(value: number): void {
    let v = value;
    // Enabling or disabling the FIFOs clears them.
    if ((v ^ this.fcr) & FCR_FE) v |= FCR_RFR | FCR_XFR;
    if (v & FCR_RFR) {
      this.lsr &= ~(LSR_DR | LSR_BI);
      this.rxTimer.cancel();
      this.timeoutIpending = false;
      this.rx = [];
    }
    if (v & FCR_XFR) {
      this.lsr |= LSR_THRE;
      this.thrIpending = true;
    }
    this.fcr = v & FCR_KEPT;
    this.updateIrq();
    if (v & FCR_RFR && !(this.mcr & MCR_LOOP)) this.backend?.ready();
  }

  private writeMcr(v: number): void {
    const before = this.msrInputs();
    const wasLoop = (this.mcr & MCR_LOOP) !== 0;
    this.mcr = v & 0x1f;
    const after = this.msrInputs();
    if (before !== after) {
      // Delta bits: CTS, DSR and DCD changed; RI went from 1 to 0 (trailing edge).
      this.msrDelta |= ((before ^ after) >> 4) & 0x0b;
      if (before & MSR_RI && !(after & MSR_RI)) this.msrDelta |= MSR_TERI;
      this.updateIrq();
    }
    if (wasLoop && !(this.mcr & MCR_LOOP)) this.backend?.ready();
  }

  /**
   * MSR's input bits. In loopback the modem outputs feed them (DTR to DSR, RTS to CTS, OUT1
   * to RI, OUT2 to DCD); otherwise the line is a null modem with DCD, DSR and CTS asserted.
   */
  private msrInputs(): number {
    const m = this.mcr;
    if (!(m & MCR_LOOP)) return MSR_DCD | MSR_DSR | MSR_CTS;
    return ((m & 0x0c) << 4) | ((m & 0x02) << 3) | ((m & 0x01) << 5);
  }

  private iir(): number {
    return this.iirId | (this.fcr & FCR_FE ? IIR_FIFO : 0);
  }

  /** Picks the interrupt IIR shows, by the 16550's priorities, and drives the output. */
  private updateIrq(force = false): void {
    const ier = this.ier;
    let id = IIR_NO_INT;
    if (ier & IER_RLSI && this.lsr & LSR_INT_ANY) id = IIR_RLSI;
    // QEMU: IER.RDI masks the timeout too; not in the datasheet, but seen on hardware.
    else if (ier & IER_RDI && this.timeoutIpending) id = IIR_CTI;
    else if (
      ier & IER_RDI &&
      this.lsr & LSR_DR &&
      (!(this.fcr & FCR_FE) || this.rx.length >= TRIGGER_LEVELS[this.fcr >> 6]!)
    ) {
      id = IIR_RDI;
    } else if (ier & IER_THRI && this.thrIpending) id = IIR_THRI;
    else if (ier & IER_MSI && this.msrDelta & MSR_ANY_DELTA) id = IIR_MSI;
    this.iirId = id;
    const level = id === IIR_NO_INT ? 0 : 1;
    if (force) this.irq.force(level);
    else this.irq.set(level);
  }

  /** The character time from LCR's frame and the divisor (divisor 0: about 3500 baud, as QEMU). */
  private updateCharTime(): void {
    const lcr = this.lcr;
    const bits = 1 + (lcr & 0x08 ? 1 : 0) + (lcr & 0x03) + 5 + (lcr & 0x04 ? 2 : 1);
    this.charNs =
      this.divider === 0
        ? Math.floor((1e9 * bits) / 3500)
        : Math.floor((1e9 * bits * this.divider) / this.baudbase);
  }

  /** The receive FIFO held data for 4 character times without being read. */
  private rxTimeout(): void {
    if (this.rx.length === 0) return;
    this.timeoutIpending = true;
    this.updateIrq();
  }
}

/** The UART's saved state (register values as the guest sees them, the FIFO's bytes). */
export interface UartState {
  readonly rbr: number;
  readonly ier: number;
  readonly lcr: number;
  readonly mcr: number;
  readonly lsr: number;
  readonly msrDelta: number;
  readonly scr: number;
  readonly fcr: number;
  readonly divider: number;
  readonly rx: readonly number[];
  readonly thrIpending: 0 | 1;
  readonly timeoutIpending: 0 | 1;
  readonly charNs: number;
  /** When the receive timeout fires (ns), or -1. */
  readonly rxTimeout: number;
}
