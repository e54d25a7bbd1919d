/**
 * Tier 2 for one hart: which blocks become WebAssembly and when, and the JavaScript side of a
 * region's calls (`RegionHelpers`): the slow memory paths and the instructions that keep
 * their tier-1 semantics, each with the hart's counters put where the interpreter would have
 * them (so traps, `cycle`/`instret` and device timing are the same in both tiers).
 */
import type { CpuWasm } from '@emuhost/sdk';
import type { Hart } from '../../hart.js';
import { badJump } from '../../priv/trap.js';
import type { Block } from '../block.js';
import type { PageCode } from '../code-cache.js';
import { codeName, type Interpreter, semanticsOf } from '../codegen.js';
import { load, store } from '../memops.js';
import { compileRegion, type NativeTable, nativeTable, type RegionHelpers } from './region.js';

/** Region compilations per page before its new hot blocks stay interpreted. */
const MAX_COMPILES = 16;
/** Instructions in one region at most (a module's size and compile time grow with it). */
const MAX_REGION_INSNS = 2000;
const TWO32 = 4294967296;

let native: NativeTable | undefined;

function nativeCodes(): NativeTable {
  if (native === undefined) {
    const names: string[] = [];
    for (let c = 0; semanticsOf(c) !== undefined; c++) names.push(codeName(c));
    native = nativeTable(names);
  }
  return native;
}

export class Tier2 {
  readonly helpers: RegionHelpers;
  /** Regions compiled so far. */
  compiled = 0;
  readonly stats = { calls: 0, insns: 0, slow: 0, ld: 0, st: 0, compileMs: 0, runMs: 0 };

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
   * Block `b` (on `page`) got hot: compile the warm blocks of its virtual page and regime into
   * a region, hottest first. A page whose hot set keeps growing is recompiled at most
   * `MAX_COMPILES` times; after that its new blocks stay interpreted.
   */
  compile(b: Block, page: PageCode, threshold: number): void {
    if (page.compiles >= MAX_COMPILES) return;
    page.compiles++;
    const vbase = b.pc - (((b.pc % 4096) + 4096) % 4096);
    const warm: Block[] = [];
    for (const head of page.slots)
      for (let x = head; x !== undefined; x = x.next)
        if (
          x.regime === b.regime &&
          x.pc - vbase >= 0 &&
          x.pc - vbase < 4096 &&
          (x === b || x.count >= threshold >> 2)
        )
          warm.push(x);
    warm.sort((p, q) => q.count - p.count);
    const blocks: Block[] = [];
    let insns = 0;
    for (const x of warm) {
      if (insns + x.n > MAX_REGION_INSNS && blocks.length > 0) break;
      blocks.push(x);
      insns += x.n;
    }
    const t0 = performance.now();
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
    this.stats.compileMs += performance.now() - t0;
  }
}
