/**
 * The hart as a debugger sees it (the SDK's CpuDebug): GDB's RISC-V register numbering
 * (x0-x31, pc, f0-f31, then CSRs at 65 + their number, and the virtual `priv`), memory read
 * and written through the hart's current translation, breakpoints and single steps.
 */
import type { CpuDebug, GuestPhysAddr } from '@emuhost/sdk';
import { csrInstruction } from './csr/csrs.js';
import { dataPriv } from './exec/memops.js';
import { CSR_RS, CSR_RW } from './exec/sem-system.js';
import type { Hart } from './hart.js';
import { ACC_FETCH, ACC_READ, ACC_WRITE } from './mmu/mmu.js';
import { TRAP } from './priv/trap.js';

const FIRST_CSR = 65;
/** The CSRs a debugger sees, by name and number. */
const CSRS: readonly [string, number][] = [
  ['fflags', 0x001],
  ['frm', 0x002],
  ['fcsr', 0x003],
  ['sstatus', 0x100],
  ['sie', 0x104],
  ['stvec', 0x105],
  ['sscratch', 0x140],
  ['sepc', 0x141],
  ['scause', 0x142],
  ['stval', 0x143],
  ['sip', 0x144],
  ['satp', 0x180],
  ['mstatus', 0x300],
  ['misa', 0x301],
  ['medeleg', 0x302],
  ['mideleg', 0x303],
  ['mie', 0x304],
  ['mtvec', 0x305],
  ['mscratch', 0x340],
  ['mepc', 0x341],
  ['mcause', 0x342],
  ['mtval', 0x343],
  ['mip', 0x344],
  ['mhartid', 0xf14],
];
const PRIV_REGNUM = FIRST_CSR + 4096;
const X_NAMES = [
  'zero',
  'ra',
  'sp',
  'gp',
  'tp',
  't0',
  't1',
  't2',
  'fp',
  's1',
  'a0',
  'a1',
  'a2',
  'a3',
  'a4',
  'a5',
  'a6',
  'a7',
  's2',
  's3',
  's4',
  's5',
  's6',
  's7',
  's8',
  's9',
  's10',
  's11',
  't3',
  't4',
  't5',
  't6',
];

function targetXml(): Record<string, string> {
  const reg = (name: string, n: number, type = 'int') =>
    `<reg name="${name}" bitsize="64" regnum="${n}" type="${type}"/>`;
  const cpu = `<?xml version="1.0"?><!DOCTYPE feature SYSTEM "gdb-target.dtd"><feature name="org.gnu.gdb.riscv.cpu">${X_NAMES.map((n, i) => reg(n, i, i === 1 ? 'code_ptr' : i === 2 ? 'data_ptr' : 'int')).join('')}${reg('pc', 32, 'code_ptr')}</feature>`;
  const fpu = `<?xml version="1.0"?><!DOCTYPE feature SYSTEM "gdb-target.dtd"><feature name="org.gnu.gdb.riscv.fpu">${Array.from({ length: 32 }, (_, i) => reg(`f${i}`, 33 + i, 'ieee_double')).join('')}${CSRS.slice(
    0,
    3,
  )
    .map(([n, c]) => `<reg name="${n}" bitsize="32" regnum="${FIRST_CSR + c}" group="float"/>`)
    .join('')}</feature>`;
  const csr = `<?xml version="1.0"?><!DOCTYPE feature SYSTEM "gdb-target.dtd"><feature name="org.gnu.gdb.riscv.csr">${CSRS.slice(
    3,
  )
    .map(([n, c]) => `<reg name="${n}" bitsize="64" regnum="${FIRST_CSR + c}" group="csr"/>`)
    .join('')}</feature>`;
  const virt = `<?xml version="1.0"?><!DOCTYPE feature SYSTEM "gdb-target.dtd"><feature name="org.gnu.gdb.riscv.virtual"><reg name="priv" bitsize="64" regnum="${PRIV_REGNUM}"/></feature>`;
  return {
    'target.xml': `<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd"><target><architecture>riscv:rv64</architecture><xi:include href="riscv-64bit-cpu.xml"/><xi:include href="riscv-64bit-fpu.xml"/><xi:include href="riscv-64bit-csr.xml"/><xi:include href="riscv-64bit-virtual.xml"/></target>`,
    'riscv-64bit-cpu.xml': cpu,
    'riscv-64bit-fpu.xml': fpu,
    'riscv-64bit-csr.xml': csr,
    'riscv-64bit-virtual.xml': virt,
  };
}

const XML = targetXml();
const FP_CSR_SIZE = new Set([0x001, 0x002, 0x003]);
const CSR_NUMBERS = new Set(CSRS.map(([, c]) => c));

function bytes64(lo: number, hi: number, size = 8): Uint8Array {
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  v.setInt32(0, lo, true);
  if (size === 8) v.setInt32(4, hi, true);
  return b;
}

export class HartDebug implements CpuDebug {
  readonly targetXml = XML;
  readonly gdbArch = 'riscv:rv64';
  readonly gRegisters = 33;
  singleStep = false;
  stopReason: 'breakpoint' | 'step' | undefined = undefined;
  onStop: (() => void) | undefined = undefined;
  readonly breakpoints = new Set<number>();

  constructor(private readonly h: Hart) {}

  /** Whether `run` must go instruction by instruction. */
  get active(): boolean {
    return this.singleStep || this.breakpoints.size > 0;
  }

  get pc(): bigint {
    return BigInt.asUintN(64, BigInt(this.h.pc));
  }

  readRegister(n: number): Uint8Array | undefined {
    const h = this.h;
    if (n >= 0 && n < 32) return bytes64(h.x[n * 2]!, h.x[n * 2 + 1]!);
    if (n === 32) return bytes64(h.pc | 0, Math.floor(h.pc / 4294967296));
    if (n >= 33 && n < 65) return bytes64(h.fw[(n - 33) * 2]!, h.fw[(n - 33) * 2 + 1]!);
    if (n === PRIV_REGNUM) return bytes64(h.priv, 0);
    const csr = n - FIRST_CSR;
    if (!CSR_NUMBERS.has(csr)) return undefined;
    const v = this.csr(csr, undefined);
    return v === undefined ? undefined : bytes64(v[0], v[1], FP_CSR_SIZE.has(csr) ? 4 : 8);
  }

  writeRegister(n: number, value: Uint8Array): boolean {
    const h = this.h;
    const d = new DataView(value.buffer, value.byteOffset, value.byteLength);
    const lo = value.length >= 4 ? d.getInt32(0, true) : 0;
    const hi = value.length >= 8 ? d.getInt32(4, true) : 0;
    if (n > 0 && n < 32 && value.length === 8) {
      h.x[n * 2] = lo;
      h.x[n * 2 + 1] = hi;
      return true;
    }
    if (n === 0) return value.length === 8;
    if (n === 32 && value.length === 8) {
      h.pc = hi * 4294967296 + (lo >>> 0);
      return true;
    }
    if (n >= 33 && n < 65 && value.length === 8) {
      h.fw[(n - 33) * 2] = lo;
      h.fw[(n - 33) * 2 + 1] = hi;
      return true;
    }
    if (n === PRIV_REGNUM) {
      if (![0, 1, 3].includes(lo)) return false;
      h.setPriv(lo);
      return true;
    }
    const csr = n - FIRST_CSR;
    return CSR_NUMBERS.has(csr) && this.csr(csr, [lo, hi]) !== undefined;
  }

  /**
   * Reads (and, with `write`, writes) a CSR as M-mode would, undefined if that traps. A trap
   * taken here is undone (pc, status, cause and epc registers): the guest never sees the
   * debugger's accesses. The FP CSRs are reachable whatever mstatus.FS says, as under QEMU.
   */
  private csr(num: number, write: [number, number] | undefined): [number, number] | undefined {
    const h = this.h;
    const saved = {
      priv: h.priv,
      x: [h.x[64]!, h.x[65]!],
      exit: h.exit,
      pc: h.pc,
      mstatus: h.mstatus,
      r64: h.r64.slice(),
      traps: h.traps,
      reservation: h.reservation,
    };
    let trapped = false;
    try {
      h.priv = 3;
      if (FP_CSR_SIZE.has(num)) h.fsOff = false;
      if (write === undefined) {
        csrInstruction(h, CSR_RS, num, 32, 0, 0, false, h.pc, 0);
        return [h.x[64]!, h.x[65]!];
      }
      csrInstruction(h, CSR_RW, num, 32, write[0], write[1], true, h.pc, 0);
      return write;
    } catch (e) {
      if (e !== TRAP) throw e;
      trapped = true;
      return undefined;
    } finally {
      if (trapped) {
        h.pc = saved.pc;
        h.r64.set(saved.r64);
        h.traps = saved.traps;
        h.reservation = saved.reservation;
      }
      // A read leaves mstatus as it was (an FP CSR read must not mark FS dirty).
      if (trapped || write === undefined) h.setMstatus(saved.mstatus);
      else h.setMstatus(h.mstatus);
      h.setPriv(saved.priv);
      h.exit = saved.exit;
      h.x[64] = saved.x[0]!;
      h.x[65] = saved.x[1]!;
    }
  }

  readMemory(addr: bigint, len: number): Uint8Array {
    const out = new Uint8Array(len);
    for (let i = 0; i < len; i++) {
      const phys = this.physical(addr + BigInt(i), false);
      if (phys === undefined) return out.subarray(0, i);
      const w = this.h.mmu.window(phys - (phys % 4096), ACC_READ);
      if (w === undefined) return out.subarray(0, i);
      out[i] = w.view.getUint8(w.off + (phys % 4096));
    }
    return out;
  }

  writeMemory(addr: bigint, data: Uint8Array): number {
    for (let i = 0; i < data.length; i++) {
      const phys = this.physical(addr + BigInt(i), true);
      if (phys === undefined || this.h.mmu.window(phys - (phys % 4096), ACC_READ) === undefined)
        return i;
      // Through the memory system, so that cached code of the page is dropped.
      this.h.memory.store(phys as GuestPhysAddr, 1, data[i]!);
    }
    return data.length;
  }

  /** The guest-physical address of virtual `addr` for the debugger (read, else fetch rights). */
  private physical(addr: bigint, write: boolean): number | undefined {
    const u = BigInt.asUintN(64, addr);
    const lo = Number(u & 0xffffffffn) | 0;
    const hi = Number(u >> 32n) | 0;
    const priv = dataPriv(this.h);
    for (const acc of write ? [ACC_WRITE, ACC_READ] : [ACC_READ, ACC_FETCH]) {
      const page = this.h.mmu.translate(lo, hi, acc as 0 | 1 | 2, priv);
      if (page >= 0) return page + (lo & 4095);
    }
    return undefined;
  }

  setBreakpoints(addrs: readonly bigint[]): void {
    this.breakpoints.clear();
    for (const a of addrs) this.breakpoints.add(Number(BigInt.asIntN(64, a)));
  }

  stopped(reason: 'breakpoint' | 'step'): void {
    this.stopReason = reason;
    this.onStop?.();
  }
}
