/**
 * SFENCE.VMA (privileged spec 4.2.1): orders page-table writes before later translations.
 * Translations are cached only in the TLBs, so this flushes them: one page when rs1 names an
 * address, everything translated otherwise. ASIDs are not implemented (ASIDLEN = 0), so rs2
 * changes nothing. Illegal in U-mode, and in S-mode with mstatus.TVM.
 */
import type { Hart } from '../hart.js';
import { PRV_S, PRV_U } from '../priv/causes.js';
import { MSTATUS } from '../priv/mstatus.js';
import { illegal } from '../priv/trap.js';

export function sfence(h: Hart, rs1: number, _rs2: number, pc: number, raw: number): void {
  if (h.priv === PRV_U || (h.priv === PRV_S && h.mstatus & MSTATUS.TVM)) illegal(h, pc, raw);
  if (rs1 === 0) {
    h.mmu.flushTranslated();
    h.code.flushTranslatedFetch();
  } else {
    const lo = h.x[rs1 * 2]!;
    const hi = h.x[rs1 * 2 + 1]!;
    h.mmu.flushTranslatedPage(lo, hi);
    h.code.flushTranslatedFetchPage(lo, hi);
  }
}
