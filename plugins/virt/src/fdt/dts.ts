/**
 * `toDts`: a tree as DTS text, for debugging and tests, printed as `dtc -I dtb -O dts`
 * (1.6) prints a blob: the same guess of each value's type (strings, `<cells>`, `[bytes]`),
 * the same escapes, tabs and blank lines. The reference DTS files in shared/ were made that
 * way, so a tree can be compared with them as text.
 */
import type { Fdt, FdtNode } from './tree.js';
import type { PropValue } from './values.js';

/** DTS text for a tree (or a bare root node), ending in a newline. */
export function toDts(tree: Fdt | FdtNode): string {
  const whole = 'root' in tree ? tree : undefined;
  const root = whole ? whole.root : (tree as FdtNode);
  const lines: string[] = ['/dts-v1/;', ''];
  for (const r of whole?.reservations ?? []) {
    lines.push(`/memreserve/\t${hex64(r.address)} ${hex64(r.size)};`);
  }
  writeNode(lines, root, 0);
  return `${lines.join('\n')}\n`;
}

/** One value as DTS after `name`: ` = <...>`, ` = "..."`, ` = [...]`, or nothing if empty. */
export function formatValue(v: PropValue): string {
  if (v.length === 0) return '';
  switch (guessType(v)) {
    case 'string':
      return ` = "${escapeString(v)}"`;
    case 'cells': {
      const view = new DataView(v.buffer, v.byteOffset, v.byteLength);
      const cells: string[] = [];
      for (let i = 0; i < v.length; i += 4) cells.push(`0x${pad2(view.getUint32(i).toString(16))}`);
      return ` = <${cells.join(' ')}>`;
    }
    case 'bytes':
      return ` = [${Array.from(v, (b) => pad2(b.toString(16))).join(' ')}]`;
  }
}

function writeNode(lines: string[], n: FdtNode, level: number): void {
  const tabs = '\t'.repeat(level);
  lines.push(`${tabs}${n.name === '' ? '/' : n.name} {`);
  for (const p of n.props) lines.push(`${tabs}\t${p.name}${formatValue(p.value)};`);
  for (const c of n.children) {
    lines.push('');
    writeNode(lines, c, level + 1);
  }
  lines.push(`${tabs}};`);
}

/**
 * dtc's guess: text if it ends in NUL, every byte is printable or one of NUL and
 * \a\b\t\n\v\f\r, and NULs are at most half the bytes; else cells if the length is a multiple
 * of 4; else bytes.
 */
function guessType(v: PropValue): 'string' | 'cells' | 'bytes' {
  let nul = 0;
  let notString = 0;
  for (const b of v) {
    if (b === 0) nul++;
    else if (!isPrint(b) && !CONTROL_ESCAPES.has(b)) notString++;
  }
  if (v[v.length - 1] === 0 && notString === 0 && nul <= v.length - nul) return 'string';
  return v.length % 4 === 0 ? 'cells' : 'bytes';
}

const CONTROL_ESCAPES = new Map<number, string>([
  [0x07, '\\a'],
  [0x08, '\\b'],
  [0x09, '\\t'],
  [0x0a, '\\n'],
  [0x0b, '\\v'],
  [0x0c, '\\f'],
  [0x0d, '\\r'],
]);

function escapeString(v: PropValue): string {
  let s = '';
  for (let i = 0; i < v.length - 1; i++) {
    const b = v[i]!;
    if (b === 0) s += '\\0';
    else if (b === 0x5c) s += '\\\\';
    else if (b === 0x22) s += '\\"';
    else if (isPrint(b)) s += String.fromCharCode(b);
    else s += CONTROL_ESCAPES.get(b) ?? `\\x${pad2(b.toString(16))}`;
  }
  return s;
}

function isPrint(b: number): boolean {
  return b >= 0x20 && b < 0x7f;
}

function pad2(h: string): string {
  return h.length < 2 ? `0${h}` : h;
}

function hex64(v: bigint): string {
  return `0x${v.toString(16).padStart(16, '0')}`;
}
