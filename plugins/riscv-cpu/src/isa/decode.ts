/**
 * The decoder: finds the `OPCODES` row of a 32-bit instruction word, or reports it illegal.
 *
 * Built from the table at load, no hand-written switch: the 17 bits opcode[6:0], funct3[14:12]
 * and funct7[31:25] index a 128 Ki-entry array of candidate lists (every row is filed under all
 * keys its mask allows), and the few candidates left (at most a handful: the fcvt variants
 * that differ in rs2, the SYSTEM rows that differ in imm) are checked by mask/match. The
 * candidate lists are shared between keys and flattened into one Int32Array, so the index is
 * a Uint16Array (256 KiB) plus a couple of thousand integers. A word is legal iff some row matches it; rows never overlap (a
 * test checks), so the first match is the only one.
 */

import { OPCODES, type OpcodeSpec } from './opcodes.js';

/** The 17-bit bucket key of a word (or of a mask/match): funct7, funct3, opcode. */
function keyOf(w: number): number {
  return (w & 0x7f) | (((w >>> 12) & 7) << 7) | (((w >>> 25) & 0x7f) << 10);
}

interface Index {
  /** keyOf(word) -> offset in `cands` of that key's candidate list (0: the empty list). */
  readonly slot: Uint16Array;
  /**
   * Candidate lists, flattened: a count, then (mask, match, row id) per candidate, as int32 so
   * the compare in `decode` stays on small integers.
   */
  readonly cands: Int32Array;
  /** How many distinct lists and the longest one (for tests and tuning). */
  readonly lists: number;
  readonly longest: number;
}
// `slot` holds 16-bit offsets: `cands` must stay under 64 Ki entries (about 2,000 today; the
// test checks through decodeIndexStats).

function buildIndex(rows: readonly OpcodeSpec[]): Index {
  const perKey = new Map<number, OpcodeSpec[]>();
  for (const spec of rows) {
    // Enumerate every key consistent with the row: the key bits its mask leaves free.
    const fixedKey = keyOf(spec.match);
    const keyMask = keyOf(spec.mask);
    const free: number[] = [];
    for (let b = 0; b < 17; b++) if (!(keyMask & (1 << b))) free.push(b);
    for (let n = 0; n < 1 << free.length; n++) {
      let key = fixedKey;
      for (let i = 0; i < free.length; i++) if (n & (1 << i)) key |= 1 << (free[i] as number);
      const list = perKey.get(key);
      if (list) list.push(spec);
      else perKey.set(key, [spec]);
    }
  }
  const slot = new Uint16Array(1 << 17);
  const flat: number[] = [0]; // offset 0: the empty list
  const shared = new Map<string, number>();
  let longest = 0;
  for (const [key, list] of perKey) {
    const sig = list.map((s) => s.id).join(',');
    let at = shared.get(sig);
    if (at === undefined) {
      at = flat.length;
      shared.set(sig, at);
      flat.push(list.length);
      for (const s of list) flat.push(s.mask | 0, s.match | 0, s.id);
      longest = Math.max(longest, list.length);
    }
    slot[key] = at;
  }
  return { slot, cands: Int32Array.from(flat), lists: shared.size, longest };
}

const INDEX = buildIndex(OPCODES);
const SLOT = INDEX.slot;
const CANDS = INDEX.cands;

/**
 * The row `insn` (a 32-bit word, signed or unsigned) encodes, or `undefined` if it is not an
 * RV64GC instruction (illegal instruction). Compressed halfwords go through
 * `expandCompressed` first.
 */
export function decode(insn: number): OpcodeSpec | undefined {
  const w = insn | 0;
  let at = SLOT[keyOf(w)] as number;
  const n = CANDS[at++] as number;
  for (let i = 0; i < n; i++, at += 3) {
    if ((w & (CANDS[at] as number)) === CANDS[at + 1]) return OPCODES[CANDS[at + 2] as number];
  }
  return undefined;
}

/** Size of the decode index: distinct candidate lists, the longest, flattened entries. */
export function decodeIndexStats(): { lists: number; longest: number; entries: number } {
  return { lists: INDEX.lists, longest: INDEX.longest, entries: CANDS.length };
}
