/**
 * The device directory (specification 2.1 and 2.3 steps 1-3): from `ddtp` and a device_id
 * to the device's context. Base format (capabilities.MSI_FLAT is 0): device_id splits into
 * DDI[0] = bits 6:0, DDI[1] = 15:7, DDI[2] = 23:16; a 3-level table is indexed by DDI[2],
 * DDI[1] then DDI[0], a 2-level one by DDI[1] then DDI[0], a 1-level one by DDI[0] alone.
 * Non-leaf entries are V (bit 0) and a PPN (53:10); leaves are 32-byte device contexts.
 * Every refusal is a fault cause, checked in the spec's order, and then the context's
 * configuration checks (2.1.4) against what `capabilities` advertises.
 */
import { FAULT } from './faults.js';
import { MODE } from './registers.js';
import { type DeviceContext, type RiscvIommu, readWord } from './riscv-iommu.js';

/** A device context, or the fault cause that stopped the walk. */
export type ContextResult = DeviceContext | number;

const word: [number, number] = [0, 0];

/** DDI widths of the base format, lowest level first. */
const DDI_BITS = [7, 9, 8] as const;

/** The PPN field (53:10) of a [low, high] word as a guest-physical address. */
function ppnOf(lo: number, hi: number): number {
  return ((hi & 0x3fffff) * 2 ** 22 + (lo >>> 10)) * 4096;
}

/** Walks the directory for `did`. `mode` is ddtp's mode (1LVL..3LVL), `root` its table. */
export function readDeviceContext(
  m: RiscvIommu,
  mode: number,
  root: number,
  did: number,
): ContextResult {
  const levels = mode - MODE.LVL1 + 1;
  // A device_id wider than the directory's levels cover is refused (2.3 step 2).
  const width = DDI_BITS.slice(0, levels).reduce((a, b) => a + b, 0);
  if (did >= 2 ** width) return FAULT.TTYP_DISALLOWED;
  let table = root;
  for (let level = levels - 1; level > 0; level--) {
    const shift = DDI_BITS.slice(0, level).reduce((a, b) => a + b, 0);
    const index = Math.floor(did / 2 ** shift) % 2 ** DDI_BITS[level]!;
    if (!readWord(m, table + index * 8, word)) return FAULT.DDT_LOAD;
    const [lo, hi] = word;
    if ((lo & 1) === 0) return FAULT.DDT_INVALID;
    // Bits 9:1 and 63:54 are reserved.
    if ((lo & 0x3fe) !== 0 || (hi & 0xffc00000) !== 0) return FAULT.DDT_MISCONFIGURED;
    table = ppnOf(lo, hi);
  }
  const at = table + (did % 2 ** DDI_BITS[0]) * 32;
  const dc: number[] = [];
  for (let i = 0; i < 4; i++) {
    if (!readWord(m, at + i * 8, word)) return FAULT.DDT_LOAD;
    dc.push(word[0], word[1]);
  }
  const [tcLo, tcHi, gatpLo, gatpHi, taLo, taHi, fscLo, fscHi] = dc as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if ((tcLo & 1) === 0) return FAULT.DDT_INVALID;
  return checkContext(m.sv48, tcLo, tcHi, gatpLo, gatpHi, taLo, taHi, fscLo, fscHi);
}

/**
 * The configuration checks (2.1.4), for what this model implements: no ATS/PRI/T2GPA, no
 * process directory (PDTV), no hardware A/D updates (SADE/GADE), little-endian only (SBE),
 * no Sv32 (SXL); second stage Bare (GSCID and PPN zero), Sv39x4 or (with `sv48`) Sv48x4
 * (root 16 KiB aligned); first stage Bare, Sv39 or (with `sv48`) Sv48; reserved bits clear. Anything else is
 * `DDT entry misconfigured`.
 */
function checkContext(
  sv48: boolean,
  tcLo: number,
  tcHi: number,
  gatpLo: number,
  gatpHi: number,
  taLo: number,
  taHi: number,
  fscLo: number,
  fscHi: number,
): ContextResult {
  // tc: V (0) and DTF (4) are all this model accepts; bits 63:12 are reserved.
  if ((tcLo & ~0x11) !== 0 || tcHi !== 0) return FAULT.DDT_MISCONFIGURED;
  // iohgatp: MODE (63:60), GSCID (59:44), PPN (43:0). Bare needs GSCID and PPN zero.
  const gMode = gatpHi >>> 28;
  let gRoot = 0;
  if (gMode === 0) {
    if (gatpLo !== 0 || gatpHi !== 0) return FAULT.DDT_MISCONFIGURED;
  } else if (gMode === 8 || (gMode === 9 && sv48)) {
    if ((gatpLo & 3) !== 0) return FAULT.DDT_MISCONFIGURED; // the root is 16 KiB
    gRoot = ((gatpHi & 0xfff) * 2 ** 32 + gatpLo) * 4096;
  } else return FAULT.DDT_MISCONFIGURED;
  // ta: PSCID (31:12); the rest is reserved.
  if ((taLo & 0xfff) !== 0 || taHi !== 0) return FAULT.DDT_MISCONFIGURED;
  const fscMode = fscHi >>> 28;
  let root = 0;
  if (fscMode === 0) {
    if (fscLo !== 0 || fscHi !== 0) return FAULT.DDT_MISCONFIGURED;
  } else if (fscMode === 8 || (fscMode === 9 && sv48)) {
    // iosatp: MODE (63:60), reserved (59:44), PPN (43:0).
    if ((fscHi & 0x0ffff000) !== 0) return FAULT.DDT_MISCONFIGURED;
    root = ((fscHi & 0xfff) * 2 ** 32 + fscLo) * 4096;
  } else return FAULT.DDT_MISCONFIGURED;
  return {
    dtf: (tcLo & 0x10) !== 0,
    fscMode,
    root,
    pscid: taLo >>> 12,
    gscid: (gatpHi >>> 12) & 0xffff,
    gMode,
    gRoot,
  };
}
