/**
 * The device-tree model: nodes with ordered properties and ordered children, plus the two
 * header facts a blob carries besides the tree (memory reservations and the boot CPU).
 *
 * Plain mutable objects, so a machine can build a tree with `node(...)` and a user's parsed
 * `-dtb` can be amended in place (`ensureNode(tree.root, '/chosen')`). Order is kept exactly:
 * it is what makes a blob round-trip byte for byte.
 */
import { EmuhostError } from '@emuhost/sdk';
import { empty, type PropValue, str, strList, u32 } from './values.js';

export interface FdtProp {
  name: string;
  value: PropValue;
}

export interface FdtNode {
  /** The node name with its unit address (`serial@10000000`); `''` for the root. */
  name: string;
  props: FdtProp[];
  children: FdtNode[];
}

/** A `/memreserve/` entry: physical address and size in bytes. */
export interface FdtReservation {
  address: bigint;
  size: bigint;
}

/** A whole device tree: what `parseDtb` returns and `toDtb` writes. */
export interface Fdt {
  root: FdtNode;
  reservations: FdtReservation[];
  /** The header's `boot_cpuid_phys`: the `reg` of the CPU that boots. */
  bootCpuId: number;
}

/**
 * What a builder accepts for a value, DTS-style: bytes from the encoders (`u64(...)`,
 * `bytes(...)`), a string (`"x"`), a string list (`"a", "b"`), a number (`<n>`, one cell),
 * or `true` (an empty property such as `dma-coherent;`).
 */
export type PropInit = PropValue | string | readonly string[] | number | true;

/** Properties in order: an object (insertion order) or pairs (for names that look numeric). */
export type PropsInit =
  | Readonly<Record<string, PropInit>>
  | readonly (readonly [name: string, value: PropInit])[];

/** Encodes a builder value as bytes. */
export function propValue(v: PropInit): PropValue {
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') return str(v);
  if (typeof v === 'number') return u32(v);
  if (v === true) return empty();
  return strList(...v);
}

/**
 * A node, written like its DTS:
 * `node('cpus', { '#address-cells': 1, '#size-cells': 0 }, [node('cpu@0', {...})])`.
 */
export function node(
  name: string,
  props: PropsInit = {},
  children: readonly FdtNode[] = [],
): FdtNode {
  checkNodeName(name);
  const pairs = Array.isArray(props)
    ? (props as readonly (readonly [string, PropInit])[])
    : Object.entries(props as Record<string, PropInit>);
  const out: FdtNode = { name, props: [], children: [] };
  for (const [n, v] of pairs) addProp(out, n, v);
  for (const c of children) addChild(out, c);
  return out;
}

/** A whole tree from its root; reservations and boot CPU default to none and 0. */
export function fdt(
  root: FdtNode,
  opts: { reservations?: readonly FdtReservation[]; bootCpuId?: number } = {},
): Fdt {
  return { root, reservations: [...(opts.reservations ?? [])], bootCpuId: opts.bootCpuId ?? 0 };
}

/** Appends a property; throws E_BAD_ARGUMENT if the node already has one of that name. */
export function addProp(n: FdtNode, name: string, value: PropInit): void {
  checkPropName(name);
  if (n.props.some((p) => p.name === name)) {
    throw new EmuhostError('E_BAD_ARGUMENT', `node "${n.name}" already has property "${name}"`);
  }
  n.props.push({ name, value: propValue(value) });
}

/** Sets a property: replaced in place if present (its position kept), else appended. */
export function setProp(n: FdtNode, name: string, value: PropInit): void {
  const existing = n.props.find((p) => p.name === name);
  if (existing) existing.value = propValue(value);
  else addProp(n, name, value);
}

/** The property's value, or undefined. */
export function getProp(n: FdtNode, name: string): PropValue | undefined {
  return n.props.find((p) => p.name === name)?.value;
}

/** Removes a property; returns whether it was there. */
export function removeProp(n: FdtNode, name: string): boolean {
  const i = n.props.findIndex((p) => p.name === name);
  if (i >= 0) n.props.splice(i, 1);
  return i >= 0;
}

/** Appends a child; throws E_BAD_ARGUMENT if a sibling has the same name. */
export function addChild(parent: FdtNode, child: FdtNode): FdtNode {
  checkNodeName(child.name);
  if (parent.children.some((c) => c.name === child.name)) {
    throw new EmuhostError('E_BAD_ARGUMENT', `node "${parent.name}" already has "${child.name}"`);
  }
  parent.children.push(child);
  return child;
}

/**
 * The node at an absolute path (`/soc/serial@10000000`), or undefined. As in libfdt, a
 * component without a unit address also matches a name that has one (`/soc/serial` finds
 * `serial@10000000`); an exact name wins, then the first such sibling.
 */
export function findNode(root: FdtNode, path: string): FdtNode | undefined {
  let at: FdtNode | undefined = root;
  for (const part of pathParts(path)) {
    at = childNamed(at, part);
    if (!at) return undefined;
  }
  return at;
}

/** The node at `path`, creating missing nodes (as `/chosen` is added to a user's blob). */
export function ensureNode(root: FdtNode, path: string): FdtNode {
  let at = root;
  for (const part of pathParts(path)) {
    at = childNamed(at, part) ?? addChild(at, { name: part, props: [], children: [] });
  }
  return at;
}

function childNamed(parent: FdtNode, part: string): FdtNode | undefined {
  const exact = parent.children.find((c) => c.name === part);
  if (exact || part.includes('@')) return exact;
  return parent.children.find((c) => c.name.startsWith(`${part}@`));
}

function pathParts(path: string): string[] {
  if (!path.startsWith('/')) {
    throw new EmuhostError('E_BAD_ARGUMENT', `device-tree path "${path}" is not absolute`);
  }
  return path.split('/').filter((p) => p !== '');
}

/** Node names: 1..31 characters is the spec's advice, not a rule; no '/' and no NUL is. */
function checkNodeName(name: string): void {
  if (/[/\0]/.test(name)) {
    throw new EmuhostError('E_BAD_ARGUMENT', `device-tree node name "${name}" has '/' or NUL`);
  }
}

function checkPropName(name: string): void {
  if (name === '' || name.includes('\0')) {
    throw new EmuhostError(
      'E_BAD_ARGUMENT',
      `device-tree property name "${name}" is empty or has NUL`,
    );
  }
}
