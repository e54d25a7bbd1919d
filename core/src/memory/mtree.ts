/**
 * `info mtree`: the region tree and the flattened result of an address space as text, in
 * the shape QEMU prints, because that is what its users already read.
 */
import type { AddressSpace } from './address-space.js';
import type { MemoryRegion } from './region.js';

const pad = (n: number) => n.toString(16).padStart(16, '0');

function kindLabel(r: MemoryRegion): string {
  switch (r.kind) {
    case 'ram':
      return 'ram';
    case 'rom':
      return 'rom';
    case 'mmio':
      return 'i/o';
    case 'alias':
      return 'alias';
    default:
      return 'container';
  }
}

function line(r: MemoryRegion, base: number, depth: number): string {
  const flags = [
    `prio ${r.priority}`,
    kindLabel(r),
    ...(r.decodes !== 'read-write' ? [`${r.decodes} only`] : []),
    ...(r.enabled ? [] : ['disabled']),
  ];
  let s = `${'  '.repeat(depth)}${pad(base)}-${pad(base + r.size - 1)} (${flags.join(', ')}): ${r.name}`;
  if (r.aliasTarget !== null) {
    const t = r.aliasTarget;
    s += ` @${t.name} ${pad(r.aliasOffset)}-${pad(r.aliasOffset + r.size - 1)}`;
  }
  return s;
}

function tree(r: MemoryRegion, base: number, depth: number, out: string[]): void {
  out.push(line(r, base, depth));
  for (const s of r.subregions) tree(s, base + s.offset, depth + 1, out);
}

/**
 * The region tree of `as` (like `info mtree`), or with `flat` its flattened view
 * (like `info mtree -f`): the ranges that accesses actually reach.
 */
export function formatMtree(as: AddressSpace<number>, opts: { flat?: boolean } = {}): string {
  const out = [`address-space: ${as.name}`];
  if (!opts.flat) {
    tree(as.root, 0, 1, out);
    return out.join('\n');
  }
  const dirs =
    as.flatView('read') === as.flatView('write')
      ? (['read'] as const)
      : (['read', 'write'] as const);
  for (const dir of dirs) {
    if (dirs.length > 1) out.push(`  (${dir}s)`);
    for (const f of as.flatView(dir).ranges) {
      const off = f.regionOffset === 0 ? '' : ` @${pad(f.regionOffset)}`;
      out.push(
        `  ${pad(f.start)}-${pad(f.end - 1)} (${kindLabel(f.region)}): ${f.region.name}${off}`,
      );
    }
    if (as.flatView(dir).ranges.length === 0) out.push('  (empty)');
  }
  return out.join('\n');
}
