/**
 * Taking a snapshot: the whole machine, between two events, as the sections of a snapshot
 * file. Plugin states (CPUs, devices, IOMMUs, the machine's own) go through the plugins' save
 * functions, versioned by plugin id, plugin version and state version; the kernel's part
 * (PCI config spaces, IRQ line levels, the clock with its pending timers, the scheduler's
 * turn) is saved beside them; guest RAM as its non-zero pages; drives as their non-zero
 * 64 KiB chunks.
 *
 * Why chunks of the image and not a copy-on-write overlay: the snapshot is one self-contained
 * file that `loadvm` can apply to the image as it is now (whatever the guest wrote since), with
 * no second file to keep beside the image and no change to how drives do I/O (a reloaded
 * virtio-blk keeps talking to the same backend). The cost is reading the image at each save,
 * proportional to its size: fine for the guest images emuhost boots (tens of MiB), and the
 * place to add an overlay if large disks need it.
 */
import { serialize } from 'node:v8';
import type { MemoryRegion } from '@emuhost/core';
import type { Emulator } from '../emulator.js';
import { SnapshotError } from './errors.js';
import { encodeSnapshot, type Section } from './file-format.js';

export const PAGE_SIZE = 4096;
export const CHUNK_SIZE = 64 * 1024;

/** One plugin instance in the snapshot's table of contents. */
export interface SnapshotPluginEntry {
  readonly id: string;
  readonly plugin: string;
  /** The plugin's manifest version. */
  readonly version: string;
  readonly stateVersion: number;
}

/** The snapshot's table of contents (its META section, JSON): what `snapshot info` prints. */
export interface SnapshotMeta {
  readonly format: 1;
  readonly tag?: string;
  /** ISO date of the save (host time; the only field that differs between identical saves). */
  readonly savedAt: string;
  readonly machine: { readonly plugin: string; readonly version: string };
  readonly mode: 'deterministic' | 'realtime';
  readonly virtualNs: number;
  readonly instructions: number;
  readonly cpus: readonly SnapshotPluginEntry[];
  readonly devices: readonly SnapshotPluginEntry[];
  readonly iommus: readonly SnapshotPluginEntry[];
  readonly ram: readonly { readonly name: string; readonly size: number; readonly pages: number }[];
  readonly drives: readonly {
    readonly id: string;
    readonly size: number;
    readonly chunks: number;
  }[];
}

export interface CaptureOptions {
  readonly tag?: string;
}

/** What a plugin instance's section holds. */
export interface PluginSection {
  readonly version: number;
  readonly data: unknown;
  /** Platform IRQ output levels by name (devices and IOMMUs). */
  readonly lines?: Readonly<Record<string, 0 | 1>>;
}

/** Every RAM and ROM region under the machine's memory, once each, by name. */
export function ramRegions(emu: Emulator): MemoryRegion[] {
  const seen = new Set<MemoryRegion>();
  const out: MemoryRegion[] = [];
  const walk = (r: MemoryRegion) => {
    const target = r.aliasTarget ?? r;
    if (target.bytes !== null && !seen.has(target)) {
      seen.add(target);
      out.push(target);
    }
    for (const c of r.subregions) walk(c);
  };
  walk(emu.machine.systemMemory);
  return out;
}

/** PCI functions by `bus:devfn`, for their config spaces. */
export function pciFunctions(emu: Emulator) {
  const out = new Map<string, import('@emuhost/core').PciFunction>();
  for (const [name, bus] of emu.machine.pciBuses)
    for (const fn of bus.list()) out.set(`${name}:${fn.devfn}`, fn);
  return out;
}

/**
 * The machine's state as a snapshot file. Call between events (no device callback running,
 * CPUs between runs). Throws `SnapshotError` (`busy`) when it cannot be taken.
 */
export function captureSnapshot(emu: Emulator, opts: CaptureOptions = {}): Uint8Array {
  const busy = emu.machine.busyDevice;
  if (busy !== undefined)
    throw new SnapshotError(
      'busy',
      `a callback of ${busy} is running: snapshots are taken between events`,
    );
  const sections: Section[] = [];
  const v8 = (kind: string, name: string, value: unknown) =>
    sections.push({ kind, name, payload: new Uint8Array(serialize(value)) });

  const cpus: SnapshotPluginEntry[] = [];
  for (const c of emu.cpus) {
    if (c.model.saveState === undefined || c.model.loadState === undefined)
      throw new SnapshotError(
        'busy',
        `CPU ${c.id} ('${c.plugin.manifest.id}') cannot save or load its state`,
      );
    const s = c.saveState();
    cpus.push(entry(c.id, c.plugin, s.version));
    v8('CPU ', c.id, { version: s.version, data: s.data } satisfies PluginSection);
  }
  const devices: SnapshotPluginEntry[] = [];
  for (const [id, d] of emu.devices) {
    const s = stateOf(id, () => d.saveState());
    devices.push(entry(id, d.plugin, s.version));
    v8('DEV ', id, { ...s, lines: levels(d.slot.irqLines) } satisfies PluginSection);
  }
  const iommus: SnapshotPluginEntry[] = [];
  for (const [id, m] of emu.iommus) {
    const s = stateOf(id, () => m.saveState());
    iommus.push(entry(id, m.plugin, s.version));
    v8('IOMU', id, { ...s, lines: levels(m.slot.irqLines) } satisfies PluginSection);
  }
  v8('MACH', emu.machinePlugin.manifest.id, emu.model.saveState?.());
  for (const [key, fn] of pciFunctions(emu)) v8('PCI ', key, fn.saveState());
  let clock: unknown;
  try {
    clock = emu.machine.clock.save();
  } catch (e) {
    throw new SnapshotError('busy', (e as Error).message);
  }
  v8('TIME', 'clock', { clock, scheduler: emu.machine.cpus.save() });
  v8('RNG ', 'seeded', emu.backends.entropyPositions());

  const ram: { name: string; size: number; pages: number }[] = [];
  for (const r of ramRegions(emu)) {
    const payload = sparsePages(r.bytes!);
    ram.push({
      name: r.name,
      size: r.size,
      pages: new DataView(payload.buffer).getUint32(4, true),
    });
    sections.push({ kind: 'RAM ', name: r.name, payload });
  }
  const drives: { id: string; size: number; chunks: number }[] = [];
  for (const [id, d] of emu.backends.drives) {
    if (d.readOnly) continue;
    const payload = driveChunks(id, d);
    drives.push({ id, size: d.size, chunks: new DataView(payload.buffer).getUint32(12, true) });
    sections.push({ kind: 'DISK', name: id, payload });
  }

  const sched = emu.machine.cpus;
  const meta: SnapshotMeta = {
    format: 1,
    ...(opts.tag !== undefined && { tag: opts.tag }),
    savedAt: new Date().toISOString(),
    machine: { plugin: emu.machinePlugin.manifest.id, version: emu.machinePlugin.manifest.version },
    mode: sched.mode,
    virtualNs: emu.machine.clock.now,
    instructions: sched.instructions,
    cpus,
    devices,
    iommus,
    ram,
    drives,
  };
  sections.unshift({
    kind: 'META',
    name: '',
    payload: new TextEncoder().encode(JSON.stringify(meta)),
  });
  return encodeSnapshot(sections);
}

function entry(
  id: string,
  plugin: { readonly manifest: { readonly id: string; readonly version: string } },
  stateVersion: number,
): SnapshotPluginEntry {
  return { id, plugin: plugin.manifest.id, version: plugin.manifest.version, stateVersion };
}

function stateOf<T>(id: string, save: () => T): T {
  try {
    return save();
  } catch (e) {
    throw new SnapshotError('busy', `${id} could not save its state: ${(e as Error).message}`, {
      device: id,
    });
  }
}

function levels(lines: ReadonlyMap<string, { readonly level: 0 | 1 }>): Record<string, 0 | 1> {
  return Object.fromEntries([...lines].map(([name, l]) => [name, l.level]));
}

const ZERO_PAGE = Buffer.alloc(PAGE_SIZE);

/** Whether `b` is all zero: a native compare per page, 20 times a JavaScript loop. */
export function isZero(b: Uint8Array): boolean {
  for (let o = 0; o < b.length; o += PAGE_SIZE) {
    const n = Math.min(PAGE_SIZE, b.length - o);
    const view = Buffer.from(b.buffer, b.byteOffset + o, n);
    if (!view.equals(n === PAGE_SIZE ? ZERO_PAGE : ZERO_PAGE.subarray(0, n))) return false;
  }
  return true;
}

/**
 * RAM as its non-zero pages: u32 page size, u32 count, the page indexes (u32 each), then the
 * pages. A page the guest never touched reads as zeroes and one it zeroed restores the same,
 * so both are left out.
 */
function sparsePages(bytes: Uint8Array): Uint8Array {
  const pages = Math.ceil(bytes.length / PAGE_SIZE);
  const used: number[] = [];
  for (let p = 0; p < pages; p++)
    if (!isZero(bytes.subarray(p * PAGE_SIZE, (p + 1) * PAGE_SIZE))) used.push(p);
  const out = new Uint8Array(8 + used.length * 4 + used.length * PAGE_SIZE);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, PAGE_SIZE, true);
  dv.setUint32(4, used.length, true);
  let at = 8 + used.length * 4;
  for (const [i, p] of used.entries()) {
    dv.setUint32(8 + i * 4, p, true);
    const page = bytes.subarray(p * PAGE_SIZE, (p + 1) * PAGE_SIZE);
    out.set(page, at);
    at += PAGE_SIZE;
  }
  return out;
}

/**
 * A drive as its non-zero chunks: u64 image size, u32 chunk size, u32 count, the chunk
 * indexes (u32 each), then the chunks (the last one of the image may be short).
 */
function driveChunks(
  id: string,
  d: { readonly size: number; read(offset: number, into: Uint8Array): string },
): Uint8Array {
  const parts: { index: number; bytes: Uint8Array }[] = [];
  const n = Math.ceil(d.size / CHUNK_SIZE);
  let total = 0;
  for (let c = 0; c < n; c++) {
    const len = Math.min(CHUNK_SIZE, d.size - c * CHUNK_SIZE);
    const buf = new Uint8Array(len);
    const r = d.read(c * CHUNK_SIZE, buf);
    if (r !== 'ok')
      throw new SnapshotError('io', `drive ${id}: reading ${len} bytes at ${c * CHUNK_SIZE}: ${r}`);
    if (isZero(buf)) continue;
    parts.push({ index: c, bytes: buf });
    total += len;
  }
  const out = new Uint8Array(16 + parts.length * 4 + total);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(d.size), true);
  dv.setUint32(8, CHUNK_SIZE, true);
  dv.setUint32(12, parts.length, true);
  let at = 16 + parts.length * 4;
  for (const [i, p] of parts.entries()) {
    dv.setUint32(16 + i * 4, p.index, true);
    out.set(p.bytes, at);
    at += p.bytes.length;
  }
  return out;
}
