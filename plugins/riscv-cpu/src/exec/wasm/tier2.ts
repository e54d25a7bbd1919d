/**
 * Tier 2 for one hart: which blocks become WebAssembly and when, and the JavaScript side of a
 * region's calls (`RegionHelpers`): the slow memory paths and the instructions that keep
 * their tier-1 semantics, each with the hart's counters put where the interpreter would have
 * them (so traps, `cycle`/`instret` and device timing are the same in both tiers).
 */
import type { CpuWasm } from '@emuhost/sdk';
import { FP_OPS } from '../../fpu/index.js';
import type { Hart } from '../../hart.js';
import { badJump } from '../../priv/trap.js';
import type { Block } from '../block.js';
import type { PageCode } from '../code-cache.js';
import { codeName, fpCallOf, type Interpreter, semanticsOf } from '../codegen.js';
import { load, store } from '../memops.js';
import { F_CODE, F_IMM, F_LEN, F_PCOFF, F_RD, FIELDS } from '../operands.js';
import { compileRegion, type NativeTable, nativeTable, type RegionHelpers } from './region.js';
import type { FpShape } from './wsem-fp.js';

/** Region compilations per page before its new hot blocks stay interpreted. */
const MAX_COMPILES = 16;
/** Instructions in one region at most (a module's size and compile time grow with it). */
const MAX_REGION_INSNS = 2000;
const TWO32 = 4294967296;

let native: NativeTable | undefined;

function nativeCodes(): NativeTable {
  if (native === undefined) {
    const insns: { name: string; fp?: { name: string; shape: FpShape } }[] = [];
    for (let c = 0; semanticsOf(c) !== undefined; c++) {
      const fp = fpCallOf(c);
      insns.push({
        name: codeName(c),
        ...(fp !== undefined && { fp: { name: fp.name, shape: fp.format as FpShape } }),
      });
    }
    native = nativeTable(insns);
  }
  return native;
}

export class Tier2 {
  readonly helpers: RegionHelpers;
  /** Regions compiled so far. */
  compiled = 0;
  /** Calls into JavaScript from regions: slow-path loads and stores, tier-1 instructions. */
  readonly stats = { ld: 0, st: 0, slow: 0 };

  constructor(
    private readonly h: Hart,
    private readonly wasm: CpuWasm,
    interp: Interpreter,
  ) {
    const tmp = h.scratch.tmp;
    const pcw = h.scratch.pc;
    this.helpers = {
      ld: (lo, hi, size, signed, pc, k) => {
        this.stats.ld++;
        h.k = k;
        const v = load(h, lo, hi, size as 1 | 2 | 4 | 8, signed, pc);
        tmp[0] = v;
        tmp[1] = size === 8 ? h.ldHi : signed ? v >> 31 : 0;
      },
      st: (lo, hi, size, vlo, vhi, pc, k) => {
        this.stats.st++;
        h.k = k;
        store(h, lo, hi, size as 1 | 2 | 4 | 8, vlo, vhi, pc);
        if (!h.exit) return 0;
        h.exit = false;
        return 1;
      },
      badJump: (lo, hi, k) => {
        h.k = k;
        badJump(h, lo, hi);
      },
      fp: (name, shape) => {
        const fn = FP_OPS[name] as unknown as (...a: unknown[]) => void;
        const fr = h.fr;
        switch (shape) {
          case 'R4-rm':
            return (rd, a, b, c, m) => fn(fr, rd, a, b, c, m);
          case 'R-rm':
            return (rd, a, b, _c, m) => fn(fr, rd, a, b, m);
          case 'R':
            return (rd, a, b) => fn(fr, rd, a, b);
          case 'R1-rm':
            return (rd, a, _b, _c, m) => fn(fr, rd, a, m);
          default:
            return (rd, a) => fn(fr, rd, a);
        }
      },
      slow: (insns, leaves, idx, k) => {
        this.stats.slow++;
        const b = insns[idx]!;
        const rb = h.runBase;
        const rr = h.runRetired;
        h.runBase = rb + k;
        h.runRetired = rr + k;
        h.left = false;
        try {
          interp(h, b);
        } catch (e) {
          h.k += k;
          throw e;
        } finally {
          h.runBase = rb;
          h.runRetired = rr;
        }
        const pc = h.pc;
        pcw[0] = pc | 0;
        pcw[1] = Math.floor(pc / TWO32);
        if (leaves[idx] === 1 || h.left) return 2;
        return pc === b.pc + b.endOff ? 0 : 1;
      },
    };
  }

  /**
   * Block `b` (on `page`) got hot: compile its virtual page's code into a region. The region
   * holds the page's blocks of the same data regime that ran, and what they lead to on the page
   * (branch and jump targets, the return address after a call, the fall-through), decoded now,
   * the hot ones first, so that one compilation usually covers the page. A page whose code
   * keeps growing is recompiled at most `MAX_COMPILES` times; after that its new blocks stay
   * interpreted.
   */
  compile(b: Block, page: PageCode): void {
    if (page.compiles >= MAX_COMPILES) return;
    page.compiles++;
    const vbase = b.pc - (((b.pc % 4096) + 4096) % 4096);
    const ran: Block[] = [];
    for (const head of page.slots)
      for (let x = head; x !== undefined; x = x.next)
        if (x.regime === b.regime && x.pc - vbase >= 0 && x.pc - vbase < 4096 && x.count > 0)
          ran.push(x);
    ran.sort((p, q) => q.count - p.count);
    const chosen = new Map<number, Block>();
    const queue: number[] = [b.pc, ...ran.map((x) => x.pc)];
    let insns = 0;
    for (let qi = 0; qi < queue.length; qi++) {
      const pc = queue[qi]!;
      if (chosen.has(pc) || pc - vbase < 0 || pc - vbase >= 4096) continue;
      const x = this.h.blockAt(page, pc, b.regime);
      if (x === undefined || (insns + x.n > MAX_REGION_INSNS && chosen.size > 0)) continue;
      chosen.set(pc, x);
      insns += x.n;
      for (const t of successors(x)) queue.push(t);
    }
    const blocks = [...chosen.values()];
    const s = this.h.scratch;
    const fn = compileRegion(
      this.wasm,
      this.helpers,
      nativeCodes(),
      blocks,
      vbase,
      s.tlbBase(b.regime * 2),
      s.tlbBase(b.regime * 2 + 1),
      (code) => semanticsOf(code)?.ends === true,
    );
    for (const x of blocks) x.region = fn;
    this.compiled++;
  }
}

const BRANCHES = new Set(['beq', 'bne', 'blt', 'bge', 'bltu', 'bgeu', 'jal']);
const CALLS = new Set(['jal', 'jalr']);

/** Where control may go from block `b`: static targets, return addresses, the fall-through. */
function successors(b: Block): number[] {
  const out: number[] = [];
  for (let j = 0; j < b.n; j++) {
    const i = j * FIELDS;
    const name = codeName(b.ops[i + F_CODE]!);
    const pc = b.pc + b.ops[i + F_PCOFF]!;
    if (BRANCHES.has(name)) out.push(pc + b.ops[i + F_IMM]!);
    if (CALLS.has(name) && b.ops[i + F_RD]! !== 32) out.push(pc + b.ops[i + F_LEN]!);
  }
  if (semanticsOf(b.ops[(b.n - 1) * FIELDS + F_CODE]!)?.ends !== true) out.push(b.pc + b.endOff);
  return out;
}
