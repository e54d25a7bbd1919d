/**
 * A memory region: one node of the region tree that address spaces render into flat views.
 *
 * The kinds follow QEMU's memory API (docs/devel/memory.rst): RAM and ROM are backed by
 * bytes, MMIO calls a device, an alias is a window onto part of another region, and a
 * container only places subregions. Any non-alias region may hold subregions; they are
 * drawn over the region's own content, higher `priority` first, so a hole in a
 * higher-priority subregion shows what lies below it.
 *
 * Every mutation tells the owning memory system, which re-renders the flat views at the end
 * of the current transaction (or at once, outside one).
 */
import {
  type AccessSize,
  EmuhostError,
  type Endianness,
  formatRange,
  MAX_ADDR,
  type MmioAccessRules,
  type MmioOps,
} from '@emuhost/sdk';
import type { DeviceGuard } from '../guard.js';
import { PageWatch } from './page-watch.js';

export type RegionKind = 'container' | 'ram' | 'rom' | 'mmio' | 'alias';

/**
 * Which accesses a region decodes. A region that decodes only reads is a hole for writes:
 * writes fall through to whatever lies below it (and vice versa). This is how a chipset
 * routes reads and writes of one window to different places (the i440FX PAM registers)
 * with plain priorities, without special cases.
 */
export type DecodeDirection = 'read-write' | 'read' | 'write';

/** The access rules with QEMU's defaults filled in. */
export interface ResolvedRules {
  /** 0 means "any size is valid" (QEMU's compatibility default when `valid.max` is unset). */
  readonly validMin: number;
  readonly validMax: number;
  readonly validUnaligned: boolean;
  readonly accepts: ((offset: number, size: AccessSize, isWrite: boolean) => boolean) | undefined;
  readonly implMin: number;
  readonly implMax: number;
  readonly implUnaligned: boolean;
  readonly endianness: Endianness;
}

/** What the memory system must be told when the tree changes. */
export interface TopologyListener {
  regionChanged(): void;
}

const SIZES = new Set([1, 2, 4, 8]);

export function resolveRules(
  name: string,
  r: MmioAccessRules,
  targetEndianness: Endianness,
): ResolvedRules {
  const check = (what: string, v: number | undefined) => {
    if (v !== undefined && !SIZES.has(v)) {
      throw new EmuhostError('E_ACCESS_RULES', `${what} must be 1, 2, 4 or 8, not ${v}`, {
        region: name,
      });
    }
  };
  check('valid.min', r.valid?.min);
  check('valid.max', r.valid?.max);
  check('impl.min', r.impl?.min);
  check('impl.max', r.impl?.max);
  const rules: ResolvedRules = {
    validMin: r.valid?.min ?? 0,
    validMax: r.valid?.max ?? 0,
    validUnaligned: r.valid?.unaligned ?? false,
    accepts: r.valid?.accepts,
    implMin: r.impl?.min ?? 1,
    implMax: r.impl?.max ?? 4,
    implUnaligned: r.impl?.unaligned ?? false,
    endianness:
      r.endianness === undefined || r.endianness === 'native' ? targetEndianness : r.endianness,
  };
  if (rules.validMax !== 0 && rules.validMin > rules.validMax) {
    throw new EmuhostError('E_ACCESS_RULES', 'valid.min is larger than valid.max', {
      region: name,
    });
  }
  if (rules.implMin > rules.implMax) {
    throw new EmuhostError('E_ACCESS_RULES', 'impl.min is larger than impl.max', { region: name });
  }
  return rules;
}

export function checkSize(name: string, size: number): void {
  if (!Number.isInteger(size) || size <= 0 || size > MAX_ADDR + 1) {
    throw new EmuhostError('E_REGION_SIZE', `size must be an integer in [1, 2^53], not ${size}`, {
      region: name,
    });
  }
}

export class MemoryRegion {
  parent: MemoryRegion | null = null;
  /** Offset of this region inside its parent. */
  offset = 0;
  priority = 0;
  enabled = true;
  decodes: DecodeDirection = 'read-write';
  /** Sorted by priority, highest first; among equals the most recently added first. */
  readonly subregions: MemoryRegion[] = [];

  constructor(
    private readonly listener: TopologyListener,
    readonly name: string,
    readonly kind: RegionKind,
    readonly size: number,
    /** RAM and ROM backing (the whole region); null otherwise. */
    readonly bytes: Uint8Array | null = null,
    readonly ops: MmioOps | null = null,
    readonly rules: ResolvedRules | null = null,
    /** The device behind an MMIO region: re-entrancy and fault guard. */
    readonly guard: DeviceGuard | null = null,
    /** Opt-out of the re-entrancy guard, for devices that legitimately re-enter. */
    readonly reentrant = false,
    readonly aliasTarget: MemoryRegion | null = null,
    /** For an alias: the offset inside `aliasTarget` that the alias starts at. */
    public aliasOffset = 0,
  ) {
    this.watch = bytes !== null ? new PageWatch(this, size) : null;
  }

  /**
   * True for a region where nothing answers (QEMU's unassigned memory: a bus's master-abort
   * background). It is MMIO that ends every access with `decode-error`; validity checks
   * (`AddressSpace.covers`, DMA `canAccess`) count it as not there.
   */
  unassigned = false;

  /** Which pages of a RAM or ROM region CPUs watch (see `PageWatch`); null for other kinds. */
  readonly watch: PageWatch | null;

  /** Whether the region's own content (not its subregions) terminates a lookup. */
  get terminates(): boolean {
    return this.kind === 'ram' || this.kind === 'rom' || this.kind === 'mmio';
  }

  /**
   * Places `child` at `offset` inside this region. A child may lie partly outside its parent;
   * it is clipped when rendered. Throws if `child` is already placed somewhere, or if placing
   * it would make the tree reach itself (through aliases).
   */
  addSubregion(child: MemoryRegion, offset: number, opts: { priority?: number } = {}): void {
    if (this.kind === 'alias') {
      throw new EmuhostError('E_REGION_KIND', 'an alias cannot hold subregions', {
        region: this.name,
      });
    }
    if (child.parent !== null) {
      throw new EmuhostError('E_REGION_IN_USE', `already placed in '${child.parent.name}'`, {
        region: child.name,
      });
    }
    checkOffset(child.name, offset);
    for (let p: MemoryRegion | null = this; p !== null; p = p.parent) {
      if (reaches(child, p)) {
        throw new EmuhostError('E_REGION_IN_USE', `placing it in '${this.name}' makes a cycle`, {
          region: child.name,
        });
      }
    }
    child.parent = this;
    child.offset = offset;
    child.priority = opts.priority ?? 0;
    this.insertSorted(child);
    this.listener.regionChanged();
  }

  /** Removes a direct child. */
  removeSubregion(child: MemoryRegion): void {
    const i = this.subregions.indexOf(child);
    if (i < 0) {
      throw new EmuhostError('E_REGION_NOT_CHILD', `not a subregion of '${this.name}'`, {
        region: child.name,
      });
    }
    this.subregions.splice(i, 1);
    child.parent = null;
    this.listener.regionChanged();
  }

  setEnabled(enabled: boolean): void {
    if (this.enabled === enabled) return;
    this.enabled = enabled;
    this.listener.regionChanged();
  }

  /**
   * Moves the region inside its parent (QEMU's memory_region_set_address). Like QEMU, this
   * re-adds it: it becomes the most recent among subregions of equal priority.
   */
  setOffset(offset: number): void {
    checkOffset(this.name, offset);
    if (this.offset === offset) return;
    this.offset = offset;
    this.reinsert();
    this.listener.regionChanged();
  }

  /** Changes the priority; the region is re-added, first among its new equals. */
  setPriority(priority: number): void {
    if (this.priority === priority) return;
    this.priority = priority;
    this.reinsert();
    this.listener.regionChanged();
  }

  setDecodes(decodes: DecodeDirection): void {
    if (this.decodes === decodes) return;
    this.decodes = decodes;
    this.listener.regionChanged();
  }

  /** Moves an alias's window inside its target (QEMU's memory_region_set_alias_offset). */
  setAliasOffset(offset: number): void {
    if (this.kind !== 'alias') {
      throw new EmuhostError('E_REGION_KIND', 'not an alias', { region: this.name });
    }
    checkOffset(this.name, offset);
    if (this.aliasOffset === offset) return;
    this.aliasOffset = offset;
    this.listener.regionChanged();
  }

  toString(): string {
    return `${this.kind} '${this.name}' ${formatRange(this.offset, this.size)}`;
  }

  private reinsert(): void {
    const p = this.parent;
    if (p === null) return;
    p.subregions.splice(p.subregions.indexOf(this), 1);
    p.insertSorted(this);
  }

  private insertSorted(child: MemoryRegion): void {
    const subs = this.subregions;
    let i = 0;
    while (i < subs.length && subs[i]!.priority > child.priority) i++;
    subs.splice(i, 0, child);
  }
}

function checkOffset(name: string, offset: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new EmuhostError(
      'E_REGION_OFFSET',
      `offset must be an integer in [0, 2^53), not ${offset}`,
      {
        region: name,
      },
    );
  }
}

/** Whether rendering `from` would visit `target` (through subregions or alias targets). */
function reaches(from: MemoryRegion, target: MemoryRegion): boolean {
  if (from === target) return true;
  if (from.aliasTarget !== null && reaches(from.aliasTarget, target)) return true;
  for (const s of from.subregions) if (reaches(s, target)) return true;
  return false;
}
