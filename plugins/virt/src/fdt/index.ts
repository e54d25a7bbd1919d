/**
 * The flattened device tree library of the virt machine: the machine builds its tree from the
 * devices it has, a user may replace it with `-dtb FILE`, and either way `/chosen` is added
 * before the blob goes into guest memory. Plain TypeScript with no dependencies, so it bundles
 * into the plugin and runs in its compartment.
 *
 * - `values.ts`: property values as bytes: `u32`, `u64`, `str`, `strList`, `phandle`,
 *   `bytes`, `empty`, `concat`, and the readers back (`readU32`, `readU64`, `readStringList`).
 * - `tree.ts`: the model (`Fdt`, `FdtNode`, `FdtProp`), the `node(...)` builder, path lookup
 *   (`findNode`, `ensureNode`) and property edits.
 * - `chosen.ts`: `setChosen`, `/chosen` as QEMU's RISC-V boot code fills it.
 * - `format.ts`: the DTB layout (header fields, tokens, alignment).
 * - `write.ts`: `toDtb`, a version-17 blob laid out as dtc lays it out.
 * - `parse.ts`: `readDtb` / `parseDtb`, for untrusted blobs, with stable error kinds.
 * - `dts.ts`: `toDts`, text as `dtc -O dts` prints it.
 */

export { type ChosenInit, setChosen } from './chosen.js';
export { formatValue, toDts } from './dts.js';
export { type DtbError, type DtbErrorKind, type DtbResult, parseDtb, readDtb } from './parse.js';
export {
  addChild,
  addProp,
  ensureNode,
  type Fdt,
  type FdtNode,
  type FdtProp,
  type FdtReservation,
  fdt,
  findNode,
  getProp,
  node,
  type PropInit,
  type PropsInit,
  propValue,
  removeProp,
  setProp,
} from './tree.js';
export {
  bytes,
  concat,
  empty,
  type PropValue,
  phandle,
  readCells,
  readString,
  readStringList,
  readU32,
  readU64,
  str,
  strList,
  u32,
  u64,
} from './values.js';
export { type DtbOptions, toDtb } from './write.js';
