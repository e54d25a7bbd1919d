/**
 * The decoder: finds the `OPCODES` row of a 32-bit instruction word, or reports it illegal.
 *
 * Built from the table at load, no hand-written switch: the 17 bits opcode[6:0], funct3[14:12]
 * and funct7[31:25] index a 128 Ki-entry array of candidate lists (every row is filed under all
 * keys its mask allows), and the few candidates left (at most a handful: the fcvt variants
 * that differ in rs2, the SYSTEM rows that differ in imm) are checked by mask/match. The
 * candidate lists are shared between keys, so the index is one Uint16Array (256 KiB) plus a
 * few hundred small arrays. A word is legal iff some row matches it; rows never overlap (a
 * test checks), so the first match is the only one.
 */

import { OPCODES, type OpcodeSpec } from './opcodes.js';

/** The 17-bit bucket key of a word (or of a mask/match): funct7, funct3, opcode. */
function keyOf(w: number): number {
  return (w & 0x7f) | (((w >>> 12) & 7) << 7) | (((w >>> 25) & 0x7f) << 10);
}

interface Index {
  /** keyOf(word) -> index into `lists`. */
  readonly slot: Uint16Array;
  /** Candidate rows; `lists[0]` is the empty list (no row for that key: illegal). */
  readonly lists: readonly (readonly OpcodeSpec[])[];
}

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
  const lists: (readonly OpcodeSpec[])[] = [[]];
  const shared = new Map<string, number>();
  for (const [key, list] of perKey) {
    const sig = list.map((s) => s.id).join(',');
    let at = shared.get(sig);
    if (at === undefined) {
      at = lists.length;
      shared.set(sig, at);
      lists.push(Object.freeze(list));
    }
    slot[key] = at;
  }
  return { slot, lists };
}

const INDEX = buildIndex(OPCODES);

/**
 * The row `insn` (a 32-bit word, signed or unsigned) encodes, or `undefined` if it is not an
 * RV64GC instruction (illegal instruction). Compressed halfwords go through
 * `expandCompressed` first.
 */
export function decode(insn: number): OpcodeSpec | undefined {
  const list = INDEX.lists[INDEX.slot[keyOf(insn)] as number] as readonly OpcodeSpec[];
  for (let i = 0; i < list.length; i++) {
    const spec = list[i] as OpcodeSpec;
    if ((insn & spec.mask) >>> 0 === spec.match) return spec;
  }
  return undefined;
}

/** How many candidate lists the index holds and the longest one (for tests and tuning). */
export function decodeIndexStats(): { lists: number; longest: number } {
  return { lists: INDEX.lists.length, longest: Math.max(...INDEX.lists.map((l) => l.length)) };
}
