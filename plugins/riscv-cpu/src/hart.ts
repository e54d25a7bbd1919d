/**
 * A hart: one RISC-V hardware thread's architectural state, and the CpuModel the kernel
 * schedules. The per-instruction work is elsewhere (exec/: blocks, the interpreter, the
 * compiler; mmu/: translation; priv/ and csr/: traps and CSRs); the hart holds the state they
 * share and runs blocks in `run`.
 *
 * Registers are int32 halves (`x[2*i]` low, `x[2*i+1]` high): measured faster than BigInt
 * and exact, unlike doubles (see the bench's `cpu.regs.*` figures). The pc is a JS number: every
 * address any mode here can reach is below 2^53 in magnitude, and a jump elsewhere faults
 * exactly (`badJump`).
 */
import {
  type CpuClock,
  type CpuContext,
  type CpuMemory,
  type CpuModel,
  type CpuTrace,
  EmuhostError,
  type GuestPhysAddr,
} from '@emuhost/sdk';
import { csrInstruction } from './csr/csrs.js';
import { R64, R64_COUNT } from './csr/regs64.js';
import { HartDebug } from './debug.js';
import { type Block, decodeBlock, decodeOne } from './exec/block.js';
import { CodeCache, type FetchTlb, markCode, type PageCode } from './exec/code-cache.js';
import { DECODE_TABLE, type Interpreter, interpreter, type RegimeTlbs } from './exec/codegen.js';
import { amo, load, lr, sc, store } from './exec/memops.js';
import { div64, mul128, mulhu32 } from './exec/muldiv.js';
import { Tier2 } from './exec/wasm/tier2.js';
import { createFpRegs, type FpRegs } from './fpu/index.js';
import { ACC_FETCH, FAIL_ACCESS, Mmu } from './mmu/mmu.js';
import { PMP_X, Pmp } from './mmu/pmp.js';
import { sfence } from './mmu/sfence.js';
import {
  causeName,
  EXC,
  MIP_MEIP,
  MIP_MSIP,
  MIP_MTIP,
  MIP_SEIP,
  PRV_M,
  PRV_S,
  PRV_U,
} from './priv/causes.js';
import { FS_DIRTY, MPP_SHIFT, MSTATUS } from './priv/mstatus.js';
import {
  badJump,
  ebreak,
  ecall,
  illegal,
  mret,
  raise,
  sret,
  TRAP,
  takeInterrupt,
  wfi,
} from './priv/trap.js';
import { Scratch } from './scratch.js';
import { checkState, type HartState, restoreState, saveState } from './state.js';
import { disassembleBlock, hexPair } from './trace.js';

/** Builtins bound once: a global lookup in a `node:vm` context goes through its interceptors. */
const { floor, imul } = Math;

const TWO32 = 4294967296;

/** The helpers generated code calls (`exec/sem-base.ts` HELPER_NAMES). */
const HELPERS = {
  FLOOR: floor,
  IMUL: imul,
  LOAD: load,
  STORE: store,
  AMO: amo,
  LR: lr,
  SC: sc,
  CSR: csrInstruction,
  ILLEGAL: illegal,
  ECALL: ecall,
  EBREAK: ebreak,
  BADJUMP: badJump,
  MRET: mret,
  SRET: sret,
  WFI: wfi,
  SFENCE: sfence,
  FENCEI: () => {},
  MULHU32: mulhu32,
  MUL128: mul128,
  DIV64: div64,
};
/** Exceptions in a row with no instruction completing before the guest is declared stuck. */
const STORM_LIMIT = 10_000;

/** The interrupt inputs, in `CpuPluginDefinition.irqInputs` order. */
export const IRQ_INPUTS = ['msip', 'mtip', 'meip', 'seip'] as const;
const INPUT_BITS = [MIP_MSIP, MIP_MTIP, MIP_MEIP, MIP_SEIP] as const;

/** misa's extension bits: A C D F I M S U. */
const MISA_EXT = 'ACDFIMSU'.split('').reduce((m, c) => m | (1 << (c.charCodeAt(0) - 65)), 0);

export interface HartOptions {
  readonly resetvec: number;
  /** `time` ticks per second (the machine's timebase). */
  readonly timebase: number;
  /** Whether to compile hot pages to WebAssembly (tier 2). */
  readonly jit: boolean;
  /** Executions of a block in the interpreter before it is compiled. */
  readonly jitThreshold: number;
}

export class Hart implements CpuModel {
  // ---- architectural state ----
  /** Registers, f registers and TLBs, shared with compiled code (`scratch.ts`). */
  readonly scratch: Scratch;
  readonly x: Int32Array;
  readonly fr: FpRegs;
  readonly fw: Int32Array;
  pc = 0;
  priv = PRV_M;
  mstatus = 0;
  medeleg = 0;
  mideleg = 0;
  mie = 0;
  /** Pending bits software wrote (SSIP, STIP, the software SEIP). */
  swMip = 0;
  /** Pending bits the inputs drive (MSIP, MTIP, MEIP, and the external SEIP). */
  hwMip = 0;
  mcounteren = 0;
  scounteren = 0;
  mcountinhibit = 0;
  /** The 64-bit CSRs as halves (`csr/regs64.ts`). */
  readonly r64 = new Int32Array(2 * R64_COUNT);
  readonly pmp = new Pmp();
  readonly misa = MISA_EXT;
  /** LR reservation: the guest-physical address, or -1; its size and the value read. */
  reservation = -1;
  resSize = 0;
  resLo = 0;
  resHi = 0;
  /** Counter bases: counter = total + offset. */
  executedTotal = 0;
  retiredTotal = 0;
  cycleOffset = 0n;
  instretOffset = 0n;
  /** Counter values frozen by mcountinhibit, or undefined. */
  private frozenCycle: bigint | undefined;
  private frozenInstret: bigint | undefined;

  /** The dynamic rounding mode, kept in the scratch area for compiled code. */
  get frm(): number {
    return this.scratch.fs[1]!;
  }

  set frm(v: number) {
    this.scratch.fs[1] = v;
  }

  // ---- derived and run state ----
  /** mstatus.FS is Off: FP instructions are illegal. */
  fsOff = true;
  /** Regimes (0 U, 1 S, 2 M) of fetches and of data accesses (MPRV applied). */
  fetchRegime = 2;
  dataRegime = 2;
  waiting = false;
  /** Something changed that may make an interrupt takeable: check at the next boundary. */
  irqDirty = true;
  /** A helper asks the block to end after the current instruction. */
  exit = false;
  /** A block ended because a helper asked (tier 2 reads it: `exec/wasm/tier2.ts`). */
  left = false;
  private stopping = false;
  /** Instructions of the current block retired before the one executing (for traps). */
  k = 0;
  /** Instructions (and traps) executed in this `run` before the current block. */
  runBase = 0;
  /** Instructions retired in this `run` before the current block. */
  runRetired = 0;
  /** Scratch: the high word of 64-bit helper results; CSR read results; two words. */
  ldHi = 0;
  csrLo = 0;
  csrHi = 0;
  readonly tmp = new Int32Array(2);
  traps = 0;
  /** Consecutive exceptions with no instruction retired between them, and the first one. */
  private storm = 0;
  private stormFirst = '';

  readonly hartId: number;
  private readonly halt: (reason: string) => void;
  readonly memory: CpuMemory;
  readonly clock: CpuClock;
  readonly trace: CpuTrace | undefined;
  readonly mmu: Mmu;
  readonly code: CodeCache;
  /** Per data regime, the TLB arrays the interpreter's inline accesses use. */
  readonly dt: readonly RegimeTlbs[];
  private readonly interp: Interpreter;
  /** Tier 2, when enabled and the machine's RAM is a WebAssembly memory. */
  readonly tier2: Tier2 | undefined;
  /** The page of the block `lookup` returned last (null for an uncached one). */
  private lastPage: PageCode | null = null;
  readonly info: Readonly<Record<string, string | number | boolean>>;
  readonly debug: HartDebug;

  constructor(
    ctx: CpuContext,
    readonly opts: HartOptions,
  ) {
    this.hartId = ctx.index;
    this.halt = (reason) => ctx.halt(reason);
    this.memory = ctx.memory;
    this.clock = ctx.clock;
    this.trace = ctx.trace;
    this.scratch = new Scratch(ctx.memory.wasm?.());
    this.x = this.scratch.x;
    this.fr = createFpRegs(this.x, this.scratch.f);
    this.fw = this.fr.fw;
    this.mmu = new Mmu(ctx.memory, this.pmp, new DataView(new ArrayBuffer(8)), this.scratch);
    this.code = new CodeCache(ctx.memory);
    this.dt = [0, 1, 2].map((r) => {
      const rt = this.mmu.tlbs[r * 2]!;
      const wt = this.mmu.tlbs[r * 2 + 1]!;
      return { RT: rt.tag, ROFF: rt.off, RV: rt.view, WT: wt.tag, WOFF: wt.off, WV: wt.view };
    });
    this.interp = interpreter(HELPERS);
    const wasm = this.scratch.wasm;
    this.tier2 = opts.jit && wasm !== undefined ? new Tier2(this, wasm, this.interp) : undefined;
    this.debug = new HartDebug(this);
    this.info = Object.freeze({
      'riscv,isa': 'rv64imafdc_zicntr_zicsr_zifencei',
      'riscv,isa-base': 'rv64i',
      'riscv,isa-extensions': 'i,m,a,f,d,c,zicntr,zicsr,zifencei',
      'mmu-type': 'riscv,sv39',
    });
    this.reset();
  }

  // ---- CpuModel ----------------------------------------------------------------------

  run(budget: number): number {
    this.stopping = false;
    this.debug.stopReason = undefined;
    let executed = 0;
    this.runRetired = 0;
    const traceExec = this.trace?.kinds.has('exec') === true;
    while (executed < budget && !this.stopping) {
      if (this.irqDirty) {
        this.irqDirty = false;
        if (takeInterrupt(this)) {
          this.waiting = false;
          executed++;
          continue;
        }
      }
      if (this.waiting) break;
      this.runBase = executed;
      this.k = 0;
      if (this.debug.active) {
        // One instruction at a time, uncached, so that any address can stop the run.
        if (this.debug.breakpoints.has(this.pc)) {
          this.debug.stopped('breakpoint');
          break;
        }
        executed += this.step();
        if (this.debug.singleStep) {
          this.debug.stopped('step');
          break;
        }
        continue;
      }
      try {
        const b = this.lookup();
        if (traceExec) this.traceExec(b);
        let n: number;
        if (b.region !== null) {
          n = b.region(this.pc & 4095, budget - executed);
          const pw = this.scratch.pc;
          this.pc = pw[1]! * TWO32 + (pw[0]! >>> 0);
        } else {
          n = this.interp(this, b);
          if (
            ++b.count >= this.opts.jitThreshold &&
            this.tier2 !== undefined &&
            this.lastPage !== null
          )
            this.tier2.compile(b, this.lastPage);
        }
        executed += n;
        this.runRetired += n;
        if (n > 0) this.storm = 0;
      } catch (e) {
        if (e !== TRAP) throw e;
        executed += this.k + 1;
        this.runRetired += this.k;
        this.irqDirty = true;
        if (this.storm >= STORM_LIMIT) {
          this.stuck();
          break;
        }
      }
    }
    this.executedTotal += executed;
    this.retiredTotal += this.runRetired;
    this.runBase = 0;
    this.k = 0;
    this.runRetired = 0;
    // The reservation survives the end of the turn: where its turns end must not be visible
    // to the guest (the host slices runs by wall time, snapshots resume mid-stream), and SC
    // compares the value LR read, so another hart's or a device's write in between fails it.
    return executed;
  }

  /**
   * An exception was taken. Exceptions with no instruction retired between them are a storm:
   * the handler itself faults (no handler at all, as at reset). The first one is kept to name
   * the cause in the message.
   */
  noteException(
    cause: number,
    epcLo: number,
    epcHi: number,
    tvalLo: number,
    tvalHi: number,
    from: number,
  ): void {
    if (this.k > 0) this.storm = 0;
    if (this.storm++ === 0)
      this.stormFirst = `exception ${causeName(cause, false)} at pc 0x${hexPair(epcLo, epcHi)} (tval 0x${hexPair(tvalLo, tvalHi)}, ${'USHM'[from]}-mode)`;
  }

  /** The guest is stuck in a storm of traps no guest code handles: stop and say why. */
  private stuck(): void {
    const t = this.priv === PRV_M ? R64.MTVEC : R64.STVEC;
    const tvec = hexPair(this.r64[2 * t]!, this.r64[2 * t + 1]!);
    this.waiting = true;
    this.halt(
      `the guest is stuck: ${this.stormFirst}, then ${STORM_LIMIT} more exceptions with no instruction completing ` +
        `(the trap vector ${this.priv === PRV_M ? 'mtvec' : 'stvec'} = 0x${tvec} has no working handler); now at pc 0x${hex(this.pc)}`,
    );
  }

  /** One instruction (or one trap), for the debugger; returns instructions plus traps. */
  private step(): number {
    try {
      const pc = this.pc;
      const n = this.interp(this, this.uncached(pc | 0, floor(pc / TWO32)));
      this.runRetired += n;
      return n;
    } catch (e) {
      if (e !== TRAP) throw e;
      this.runRetired += this.k;
      this.irqDirty = true;
      return this.k + 1;
    }
  }

  setIrq(input: number, level: 0 | 1): void {
    const bit = INPUT_BITS[input];
    if (bit === undefined) return;
    this.hwMip = level ? this.hwMip | bit : this.hwMip & ~bit;
    this.irqDirty = true;
    if (this.waiting && (this.mipValue() & this.mie) !== 0) this.waiting = false;
  }

  stop(): void {
    this.stopping = true;
  }

  reset(): void {
    this.x.fill(0);
    this.fw.fill(0);
    this.fr.fflags = 0;
    this.frm = 0;
    this.pc = this.opts.resetvec;
    this.r64.fill(0);
    this.medeleg = 0;
    this.mideleg = 0;
    this.mie = 0;
    this.swMip = 0;
    this.mcounteren = 0;
    this.scounteren = 0;
    this.mcountinhibit = 0;
    this.pmp.reset();
    this.reservation = -1;
    this.waiting = false;
    this.mmu.mode = 0;
    this.mmu.root = 0;
    this.setPriv(PRV_M);
    this.setMstatus(0);
    this.mmu.flushAll();
    this.code.clear();
  }

  saveState(): HartState {
    return saveState(this);
  }

  loadState(s: unknown): void {
    const bad = checkState(s);
    if (bad !== undefined)
      throw new EmuhostError('E_BAD_ARGUMENT', `hart ${this.hartId} state: ${bad}`);
    restoreState(this, s as HartState);
    // Guest memory may have changed under every cache (a snapshot's RAM came back with it).
    this.mmu.flushAll();
    this.code.clear();
  }

  pageWritten(addr: GuestPhysAddr): void {
    this.code.invalidate(addr);
  }

  pageWatched(addr: GuestPhysAddr): void {
    this.mmu.flushWritesTo(addr);
  }

  memoryChanged(): void {
    this.mmu.flushAll();
    this.code.clear();
  }

  // ---- state helpers (CSRs, traps) ---------------------------------------------------

  mipValue(): number {
    return this.hwMip | this.swMip;
  }

  setSoftwarePending(bits: number): void {
    this.swMip = bits;
    this.irqDirty = true;
    if (this.waiting && (this.mipValue() & this.mie) !== 0) this.waiting = false;
  }

  setPriv(p: number): void {
    this.priv = p;
    this.fetchRegime = p === PRV_M ? 2 : p;
    this.updateDataRegime();
    this.irqDirty = true;
  }

  setMstatus(v: number): void {
    const old = this.mstatus;
    this.mstatus = v | 0;
    this.fsOff = (v & MSTATUS.FS) === 0;
    this.scratch.fs[0] = this.fsOff ? 0 : (v & MSTATUS.FS) === FS_DIRTY ? 2 : 1;
    if ((old ^ v) & (MSTATUS.SUM | MSTATUS.MXR)) {
      this.mmu.sum = (v & MSTATUS.SUM) !== 0;
      this.mmu.mxr = (v & MSTATUS.MXR) !== 0;
      this.mmu.flushTranslated();
    }
    this.updateDataRegime();
    this.irqDirty = true;
  }

  private updateDataRegime(): void {
    const m = this.mstatus;
    const p = this.priv === PRV_M && m & MSTATUS.MPRV ? (m >>> MPP_SHIFT) & 3 : this.priv;
    this.dataRegime = p === PRV_M ? 2 : p;
  }

  markFsDirty(): void {
    this.setMstatus(this.mstatus | FS_DIRTY);
  }

  setSatp(lo: number, hi: number): void {
    this.r64[2 * R64.SATP] = lo;
    this.r64[2 * R64.SATP + 1] = hi;
    this.mmu.mode = hi >>> 28;
    this.mmu.root = ((hi & 0xfff) * TWO32 + (lo >>> 0)) * 4096;
    this.mmu.flushTranslated();
    this.code.flushTranslatedFetch();
  }

  /** Brings the machine's clock to this instruction's instant (before a device access). */
  syncClock(): void {
    this.clock.sync(this.runBase + this.k);
  }

  /** An access that may reach a device: exact time, and no reservation survives it. */
  deviceAccess(): void {
    this.syncClock();
    this.reservation = -1;
  }

  // ---- counters ----------------------------------------------------------------------

  cycleCount(): bigint {
    return (
      this.frozenCycle ?? BigInt(this.executedTotal + this.runBase + this.k) + this.cycleOffset
    );
  }

  instretCount(): bigint {
    return (
      this.frozenInstret ??
      BigInt(this.retiredTotal + this.runRetired + this.k) + this.instretOffset
    );
  }

  setCycleCount(v: bigint): void {
    this.cycleOffset = v - BigInt(this.executedTotal + this.runBase + this.k);
    if (this.frozenCycle !== undefined) this.frozenCycle = BigInt.asUintN(64, v);
  }

  setInstretCount(v: bigint): void {
    // The write happens instead of the increment for this instruction (it does not count).
    this.instretOffset = v - BigInt(this.retiredTotal + this.runRetired + this.k + 1);
    if (this.frozenInstret !== undefined) this.frozenInstret = BigInt.asUintN(64, v);
  }

  setCountInhibit(bits: number): void {
    const cy = (bits & 1) !== 0;
    const ir = (bits & 4) !== 0;
    if (cy && this.frozenCycle === undefined) this.frozenCycle = this.cycleCount();
    if (!cy && this.frozenCycle !== undefined) {
      const v = this.frozenCycle;
      this.frozenCycle = undefined;
      this.setCycleCount(v);
    }
    if (ir && this.frozenInstret === undefined) this.frozenInstret = this.instretCount();
    if (!ir && this.frozenInstret !== undefined) {
      const v = this.frozenInstret;
      this.frozenInstret = undefined;
      this.instretOffset = v - BigInt(this.retiredTotal + this.runRetired + this.k);
    }
    this.mcountinhibit = bits;
  }

  /** `time`: the clock at this instruction, in timebase ticks. */
  timeCount(): bigint {
    this.syncClock();
    const ns = this.clock.now();
    const per = 1e9 / this.opts.timebase;
    if (Number.isInteger(per)) return BigInt(floor(ns / per));
    return (BigInt(ns) * BigInt(this.opts.timebase)) / 1_000_000_000n;
  }

  // ---- fetching blocks ---------------------------------------------------------------

  private lookup(): Block {
    const pc = this.pc;
    const lo = pc | 0;
    const hi = floor(pc / TWO32);
    const ft = this.code.fetch[this.fetchRegime]!;
    const e = (lo >>> 12) & 255;
    const page =
      ft.tagLo[e] === (lo & -4096) && ft.tagHi[e] === hi
        ? ft.page[e]!
        : this.fetchPage(lo, hi, ft, e);
    this.lastPage = page;
    if (page === null) return this.uncached(lo, hi);
    const slot = (lo & 4095) >>> 1;
    const regime = this.dataRegime;
    let b = page.slots[slot];
    while (b !== undefined && (b.pc !== pc || b.regime !== regime)) b = b.next;
    return b ?? this.decodeAt(page, lo, hi, regime);
  }

  /** Translates the pc's page for fetching; null when PMP splits the page (no caching). */
  private fetchPage(lo: number, hi: number, ft: FetchTlb, e: number): PageCode | null {
    const page = this.mmu.translate(lo, hi, ACC_FETCH, this.priv);
    if (page < 0)
      raise(this, page === FAIL_ACCESS ? EXC.INSN_ACCESS : EXC.INSN_PAGE_FAULT, lo, hi, this.pc);
    const sp = this.mmu.lastSuperpage;
    const perm = this.pmp.pagePerm(page, this.priv);
    if (perm < 0) {
      if (!this.pmp.check(page + (lo & 4095), 2, this.priv, PMP_X))
        raise(this, EXC.INSN_ACCESS, lo, hi, this.pc);
      return null;
    }
    if (!(perm & PMP_X)) raise(this, EXC.INSN_ACCESS, lo, hi, this.pc);
    const w = this.mmu.window(page, ACC_FETCH);
    if (w === undefined) raise(this, EXC.INSN_ACCESS, lo, hi, this.pc);
    const code = this.code.page(page, w.view, w.off);
    ft.tagLo[e] = lo & -4096;
    ft.tagHi[e] = hi;
    ft.page[e] = code;
    ft.sp[e] = sp ? 1 : 0;
    if (sp) ft.superpages = true;
    return code;
  }

  private decodeAt(page: PageCode, lo: number, hi: number, regime: number): Block {
    return this.blockAt(page, this.pc, regime) ?? this.crossing(page, lo, hi, regime);
  }

  /**
   * The cached block at virtual `pc` on `page` for `regime`, decoded (and cached) if needed;
   * undefined where its first instruction crosses the page. Decoding never faults: tier 2
   * calls this for code it only expects to run.
   */
  blockAt(page: PageCode, pc: number, regime: number): Block | undefined {
    const off = ((pc % 4096) + 4096) % 4096;
    const slot = off >>> 1;
    for (let x = page.slots[slot]; x !== undefined; x = x.next)
      if (x.pc === pc && x.regime === regime) return x;
    const b = decodeBlock(DECODE_TABLE, page.view, page.off + off, 4096 - off, pc, regime);
    if (b === undefined) return undefined;
    b.next = page.slots[slot];
    page.slots[slot] = b;
    markCode(page, off, off + b.endOff);
    this.code.decoded++;
    if (this.trace?.kinds.has('in_asm')) this.trace.line('in_asm', disassembleBlock(b, this.priv));
    return b;
  }

  /** A 32-bit instruction whose halves lie on two pages: fetched whole each time. */
  private crossing(page: PageCode, lo: number, hi: number, regime: number): Block {
    const first = page.view.getUint16(page.off + 4094, true);
    const nl = (lo + 2) | 0;
    const nh = (hi + (nl >>> 0 < lo >>> 0 ? 1 : 0)) | 0;
    const second = this.fetchHalf(nl, nh);
    return decodeOne(DECODE_TABLE, first | (second << 16) | 0, this.pc, regime);
  }

  /** One instruction fetched without the cache (PMP splits its page). */
  private uncached(lo: number, hi: number): Block {
    const first = this.fetchHalf(lo, hi);
    if ((first & 3) !== 3) return decodeOne(DECODE_TABLE, first, this.pc, this.dataRegime);
    const nl = (lo + 2) | 0;
    const nh = (hi + (nl >>> 0 < lo >>> 0 ? 1 : 0)) | 0;
    return decodeOne(
      DECODE_TABLE,
      first | (this.fetchHalf(nl, nh) << 16) | 0,
      this.pc,
      this.dataRegime,
    );
  }

  /** Fetches the halfword at (lo, hi), with the faults an instruction fetch raises there. */
  private fetchHalf(lo: number, hi: number): number {
    const page = this.mmu.translate(lo, hi, ACC_FETCH, this.priv);
    if (page < 0)
      raise(this, page === FAIL_ACCESS ? EXC.INSN_ACCESS : EXC.INSN_PAGE_FAULT, lo, hi, this.pc);
    const phys = page + (lo & 4095);
    if (!this.pmp.check(phys, 2, this.priv, PMP_X)) raise(this, EXC.INSN_ACCESS, lo, hi, this.pc);
    const w = this.mmu.window(page, ACC_FETCH);
    if (w === undefined) raise(this, EXC.INSN_ACCESS, lo, hi, this.pc);
    return w.view.getUint16(w.off + (lo & 4095), true);
  }

  private traceExec(b: Block): void {
    this.trace!.line(
      'exec',
      `Trace ${this.hartId}: pc 0x${hex(b.pc)} [${'USHM'[this.priv]}] ${b.n} insns`,
    );
  }
}

function hex(v: number): string {
  const lo = v | 0;
  const hi = floor(v / TWO32);
  return `${(hi >>> 0).toString(16).padStart(8, '0')}${(lo >>> 0).toString(16).padStart(8, '0')}`;
}

export { PRV_S, PRV_U };
