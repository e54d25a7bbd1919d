/**
 * Address translation for one hart: the data TLBs of each translation regime (U, S, M), the
 * page walk, PMP, and how a translated page becomes a TLB entry. QEMU's `get_physical_address`
 * and `riscv_cpu_tlb_fill` in one place.
 *
 * A regime is the effective privilege of an access: 0 U, 1 S, 2 M (M-mode data accesses
 * with MPRV use MPP's). Translation applies in U and S when `satp` selects Sv39; M is always
 * bare. Each regime has a read and a write TLB, so that changing privilege flushes nothing.
 */
import type { CpuAccess, CpuMemory, GuestPhysAddr } from '@emuhost/sdk';
import { PRV_M } from '../priv/causes.js';
import type { Scratch } from '../scratch.js';
import { PMP_R, PMP_W, PMP_X, type Pmp } from './pmp.js';
import { Tlb } from './tlb.js';
import {
  ACC_FETCH,
  ACC_READ,
  ACC_WRITE,
  type Access,
  WALK_ACCESS_FAULT,
  WALK_OK,
  type WalkOut,
  walkSv39,
} from './walk.js';

export const REGIME_U = 0;
export const REGIME_S = 1;
export const REGIME_M = 2;

/** satp.MODE values. */
export const SATP_BARE = 0;
export const SATP_SV39 = 8;

/** Why a translation failed; `translate` returns these negated page values. */
export const FAIL_PAGE = -1;
export const FAIL_ACCESS = -2;

const PMP_BIT = [PMP_R, PMP_W, PMP_X] as const;
const CPU_ACCESS: readonly CpuAccess[] = ['read', 'write', 'fetch'];

/** The window a page of RAM lives in, as a TLB entry wants it. */
export interface PageWindow {
  view: DataView;
  /** Byte offset of the page in `view`. */
  off: number;
}

export class Mmu {
  /** Data TLBs: `tlbs[regime * 2 + (write ? 1 : 0)]`. */
  readonly tlbs: readonly Tlb[];
  /** satp's MODE and root table address (guest-physical). */
  mode = SATP_BARE;
  root = 0;
  /** The sum and mxr bits as of the last flush. */
  sum = false;
  mxr = false;
  private readonly views = new WeakMap<ArrayBufferLike, DataView>();
  private readonly walkOut: WalkOut = { physPage: 0, superpage: false, perm: 0 };
  private readonly pte = new Int32Array(2);
  /** The last page found by `window`, for callers that need its bytes. */
  readonly found: PageWindow;

  constructor(
    private readonly memory: CpuMemory,
    private readonly pmp: Pmp,
    readonly empty: DataView,
    scratch: Scratch,
  ) {
    this.tlbs = Array.from(
      { length: 6 },
      (_, i) => new Tlb(empty, scratch.buffer, scratch.tlbBase(i), scratch.wasm?.buffer),
    );
    this.found = { view: empty, off: 0 };
  }

  flushAll(): void {
    for (const t of this.tlbs) t.flush();
  }

  /** satp changed, or sfence.vma without an address: the translated regimes forget. */
  flushTranslated(): void {
    for (let i = 0; i < 4; i++) this.tlbs[i]!.flush();
  }

  /** sfence.vma with an address: its page, and the superpage entries that may cover it. */
  flushTranslatedPage(lo: number, hi: number): void {
    for (let i = 0; i < 4; i++) this.tlbs[i]!.flushPage(lo, hi);
  }

  /** A page is watched now: no write TLB may keep writing it directly. */
  flushWritesTo(phys: number): void {
    for (let i = 1; i < 6; i += 2) this.tlbs[i]!.flushPhys(phys);
  }

  /**
   * The guest-physical page holding the virtual address (lo, hi) for `access` by effective
   * privilege `priv` (0 U, 1 S, 3 M), or FAIL_PAGE / FAIL_ACCESS. `perm` (out) gets the
   * permissions that hold for the whole page after translation (PMP not applied).
   */
  translate(lo: number, hi: number, access: Access, priv: number): number {
    if (priv === PRV_M || this.mode === SATP_BARE) {
      // Bare: the address is physical; past 2^53 nothing is mapped.
      if (hi < 0 || hi >= 0x200000) return FAIL_ACCESS;
      this.walkOut.perm = 7;
      this.walkOut.superpage = false;
      return hi * 4294967296 + ((lo & -4096) >>> 0);
    }
    const r = walkSv39(
      this.root,
      lo,
      hi,
      access,
      priv,
      this.sum,
      this.mxr,
      this.readPte,
      this.pte,
      this.walkOut,
    );
    if (r === WALK_OK) return this.walkOut.physPage;
    return r === WALK_ACCESS_FAULT ? FAIL_ACCESS : FAIL_PAGE;
  }

  /** Whether the last `translate` came from a superpage. */
  get lastSuperpage(): boolean {
    return this.walkOut.superpage;
  }

  /** The permissions of the last `translate` (R 1, W 2, X 4). */
  get lastPerm(): number {
    return this.walkOut.perm;
  }

  /** PTEs are read as S-mode implicit accesses: PMP applies with S's permissions. */
  private readonly readPte = (addr: number, out: Int32Array): boolean => {
    if (!this.pmp.check(addr, 8, 1, PMP_R)) return false;
    const w = this.window(addr - (addr % 4096), ACC_READ);
    if (w !== undefined) {
      const off = w.off + (addr % 4096);
      out[0] = w.view.getInt32(off, true);
      out[1] = w.view.getInt32(off + 4, true);
      return true;
    }
    const v = this.memory.load(addr as GuestPhysAddr, 8);
    if (typeof v !== 'bigint') return false;
    out[0] = Number(v & 0xffffffffn) | 0;
    out[1] = Number(v >> 32n) | 0;
    return true;
  };

  /**
   * The RAM window of the guest-physical page `page` for `access`, as a DataView and the
   * page's offset in it, or undefined (MMIO, a hole, ROM for writes, an offset past 2^31).
   * The returned object is reused: copy what you keep.
   */
  window(page: number, access: Access): PageWindow | undefined {
    const w = this.memory.window(page as GuestPhysAddr, CPU_ACCESS[access]!);
    if (w === undefined || w.end < page + 4096) return undefined;
    const off = w.bytes.byteOffset + w.offset + (page - w.start);
    if (off + 4096 > 0x7fffffff) return undefined;
    let view = this.views.get(w.bytes.buffer);
    if (view === undefined) {
      view = new DataView(w.bytes.buffer);
      this.views.set(w.bytes.buffer, view);
    }
    this.found.view = view;
    this.found.off = off;
    return this.found;
  }

  /**
   * Enters a translated data page into the regime's TLB when it may be accessed directly:
   * RAM, PMP uniform over the page and permitting the access, not watched (for writes).
   */
  fill(
    regime: number,
    lo: number,
    hi: number,
    phys: number,
    access: Access,
    priv: number,
    superpage: boolean,
  ): void {
    const pmp = this.pmp.pagePerm(phys, priv);
    if (pmp < 0 || !(pmp & PMP_BIT[access]!)) return;
    if (access === ACC_WRITE && this.memory.watched(phys as GuestPhysAddr)) return;
    const w = this.window(phys, access);
    if (w === undefined) return;
    this.tlbs[regime * 2 + (access === ACC_WRITE ? 1 : 0)]!.set(
      lo,
      hi,
      w.view,
      w.off,
      phys,
      superpage,
    );
  }
}

export { ACC_FETCH, ACC_READ, ACC_WRITE };
