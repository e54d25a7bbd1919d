/**
 * Loading a snapshot into a running (or freshly built) machine, in two steps:
 *
 * 1. `planRestore` checks the WHOLE file against the machine before touching anything: the
 *    file's structure and checksums, that it was taken on this machine (machine plugin, the
 *    same CPUs, devices and IOMMUs by id and plugin, RAM regions and drives of the same sizes,
 *    the same PCI functions, timers the clock knows), that every state decodes, and that each
 *    plugin whose state version differs migrates it (run now, on a copy). Any problem throws a
 *    `SnapshotError` and the machine has not changed.
 * 2. `applyRestore` puts the plugins' states in (the machine's own, IOMMUs, devices with their
 *    PCI config spaces and IRQ levels, CPUs). If a plugin refuses its state, everything
 *    restored so far is put back from the states saved just before (rollback) and
 *    `SnapshotError` (`refused`) names the plugin. Then what cannot refuse: RAM, drives, the
 *    clock with its pending timers, the scheduler's turn; every CPU drops its caches.
 */
import { deserialize } from 'node:v8';
import type { ClockState, PciFunctionState, SchedulerState } from '@emuhost/core';
import type { SavedState } from '@emuhost/sdk';
import type { RunningDevice } from '../device-host.js';
import type { Emulator } from '../emulator.js';
import type { LoadedPlugin } from '../loaded-plugin.js';
import {
  CHUNK_SIZE,
  isZero,
  PAGE_SIZE,
  type PluginSection,
  pciFunctions,
  ramRegions,
  type SnapshotMeta,
} from './capture.js';
import { SnapshotError } from './errors.js';
import { decodeSnapshot, type Section } from './file-format.js';

interface RamPlan {
  readonly bytes: Uint8Array;
  readonly indexes: Uint32Array;
  readonly pages: Uint8Array;
}

interface DrivePlan {
  readonly id: string;
  readonly size: number;
  readonly indexes: Uint32Array;
  readonly data: Uint8Array;
}

/** A checked snapshot, ready to apply to the machine it was checked against. */
export interface RestorePlan {
  readonly meta: SnapshotMeta;
  readonly cpus: ReadonlyMap<string, unknown>;
  readonly devices: ReadonlyMap<string, PluginSection>;
  readonly iommus: ReadonlyMap<string, PluginSection>;
  readonly machine: unknown;
  readonly pci: ReadonlyMap<string, PciFunctionState>;
  readonly clock: ClockState;
  readonly scheduler: SchedulerState;
  readonly ram: readonly RamPlan[];
  readonly drives: readonly DrivePlan[];
  /** Seeded entropy streams' positions, by source. */
  readonly entropy: Readonly<Record<string, number>>;
  /** What a migration changed (a plugin whose state version differs). */
  readonly notes: readonly string[];
}

/** Reads a snapshot's table of contents (checking the whole file's structure first). */
export function readSnapshotMeta(bytes: Uint8Array): SnapshotMeta {
  return metaOf(decodeSnapshot(bytes));
}

function metaOf(sections: readonly Section[]): SnapshotMeta {
  const s = sections[0];
  if (s?.kind !== 'META') throw new SnapshotError('corrupt', 'the first section is not META');
  try {
    return JSON.parse(new TextDecoder().decode(s.payload)) as SnapshotMeta;
  } catch {
    throw new SnapshotError('corrupt', 'META is not JSON');
  }
}

function v8<T>(s: Section): T {
  try {
    return deserialize(s.payload) as T;
  } catch (e) {
    throw new SnapshotError(
      'corrupt',
      `section ${s.kind.trim()} ${s.name}: ${(e as Error).message}`,
    );
  }
}

const mismatch = (what: string) => new SnapshotError('mismatch', what);

/** Step 1: everything checked, nothing changed. */
export function planRestore(emu: Emulator, bytes: Uint8Array): RestorePlan {
  const sections = decodeSnapshot(bytes);
  const meta = metaOf(sections);
  const of = (kind: string) => sections.filter((s) => s.kind === kind);
  const notes: string[] = [];
  const mp = emu.machinePlugin.manifest;
  if (meta.machine?.plugin !== mp.id)
    throw mismatch(`taken on machine '${meta.machine?.plugin}', this one is '${mp.id}'`);
  if (meta.mode !== emu.machine.cpus.mode)
    throw mismatch(
      `taken in ${meta.mode} mode, this machine runs in ${emu.machine.cpus.mode} mode`,
    );
  if (meta.machine.version !== mp.version)
    notes.push(`machine '${mp.id}' ${meta.machine.version} -> ${mp.version}`);

  const cpus = new Map<string, unknown>();
  const cpuSections = of('CPU ');
  if (cpuSections.length !== emu.cpus.length)
    throw mismatch(`${cpuSections.length} CPUs in the snapshot, ${emu.cpus.length} here`);
  for (const s of cpuSections) {
    const c = emu.cpus.find((x) => x.id === s.name);
    if (c === undefined) throw mismatch(`no CPU '${s.name}' here`);
    if (c.model.loadState === undefined)
      throw mismatch(`CPU ${c.id} ('${c.plugin.manifest.id}') cannot load a state in place`);
    const e = meta.cpus.find((x) => x.id === s.name);
    if (e?.plugin !== c.plugin.manifest.id)
      throw mismatch(`CPU ${c.id} ran '${e?.plugin}', here it runs '${c.plugin.manifest.id}'`);
    const sec = v8<PluginSection>(s);
    cpus.set(c.id, migrated(c.id, c.plugin, sec, e.version, notes).data);
  }

  const instances = (
    kind: 'DEV ' | 'IOMU',
    here: ReadonlyMap<string, { readonly plugin: LoadedPlugin }>,
    listed: SnapshotMeta['devices'],
    what: string,
  ) => {
    const out = new Map<string, PluginSection>();
    const secs = of(kind);
    const names = secs.map((s) => s.name).sort();
    const ids = [...here.keys()].sort();
    if (names.join() !== ids.join())
      throw mismatch(`${what}s [${names.join(', ')}] in the snapshot, [${ids.join(', ')}] here`);
    for (const s of secs) {
      const d = here.get(s.name)!;
      const e = listed.find((x) => x.id === s.name);
      if (e?.plugin !== d.plugin.manifest.id)
        throw mismatch(
          `${what} ${s.name} ran '${e?.plugin}', here it runs '${d.plugin.manifest.id}'`,
        );
      const sec = v8<PluginSection>(s);
      out.set(s.name, {
        ...migrated(s.name, d.plugin, sec, e.version, notes),
        lines: sec.lines ?? {},
      });
    }
    return out;
  };
  const devices = instances('DEV ', emu.devices, meta.devices, 'device');
  const iommus = instances('IOMU', emu.iommus, meta.iommus, 'IOMMU');

  const mach = of('MACH')[0];
  if (mach === undefined) throw new SnapshotError('corrupt', 'no MACH section');
  const machine = v8<unknown>(mach);
  if (machine !== undefined && emu.model.loadState === undefined)
    throw mismatch(`machine '${mp.id}' cannot load its state`);

  const fns = pciFunctions(emu);
  const pci = new Map<string, PciFunctionState>();
  for (const s of of('PCI ')) {
    if (!fns.has(s.name)) throw mismatch(`no PCI function ${s.name} here`);
    const st = v8<PciFunctionState>(s);
    if (!(st?.config instanceof Uint8Array) || st.config.length !== 256)
      throw new SnapshotError('corrupt', `PCI ${s.name}: config space is not 256 bytes`);
    pci.set(s.name, st);
  }
  for (const key of fns.keys())
    if (!pci.has(key)) throw mismatch(`PCI function ${key} is not in the snapshot`);

  const time = of('TIME')[0];
  if (time === undefined) throw new SnapshotError('corrupt', 'no TIME section');
  const { clock, scheduler } = v8<{ clock: ClockState; scheduler: SchedulerState }>(time);
  const bad = emu.machine.clock.check(clock);
  if (bad !== undefined) throw mismatch(`clock: ${bad}`);
  if (!(scheduler.cursor >= 0 && scheduler.cursor < Math.max(1, emu.cpus.length)))
    throw new SnapshotError('corrupt', `scheduler cursor ${scheduler.cursor}`);

  const regions = new Map(ramRegions(emu).map((r) => [r.name, r]));
  const ram: RamPlan[] = [];
  for (const s of of('RAM ')) {
    const r = regions.get(s.name);
    if (r === undefined) throw mismatch(`no RAM region '${s.name}' here`);
    const dv = new DataView(s.payload.buffer, s.payload.byteOffset, s.payload.byteLength);
    const count = s.payload.length >= 8 ? dv.getUint32(4, true) : -1;
    if (
      count < 0 ||
      dv.getUint32(0, true) !== PAGE_SIZE ||
      s.payload.length !== 8 + count * (4 + PAGE_SIZE)
    )
      throw new SnapshotError('corrupt', `RAM ${s.name}: bad page table`);
    const indexes = new Uint32Array(count);
    for (let i = 0; i < count; i++) {
      indexes[i] = dv.getUint32(8 + i * 4, true);
      if ((indexes[i]! + 1) * PAGE_SIZE > r.size)
        throw mismatch(`RAM ${s.name}: page ${indexes[i]} lies past its ${r.size} bytes`);
    }
    ram.push({ bytes: r.bytes!, indexes, pages: s.payload.subarray(8 + count * 4) });
  }

  const drives: DrivePlan[] = [];
  for (const s of of('DISK')) {
    const d = emu.backends.drives.get(s.name);
    if (d === undefined) throw mismatch(`no drive '${s.name}' here`);
    const dv = new DataView(s.payload.buffer, s.payload.byteOffset, s.payload.byteLength);
    if (s.payload.length < 16) throw new SnapshotError('corrupt', `DISK ${s.name}: too short`);
    const size = Number(dv.getBigUint64(0, true));
    const count = dv.getUint32(12, true);
    if (size !== d.size)
      throw mismatch(`drive ${s.name} is ${d.size} bytes, the snapshot's ${size}`);
    if (d.readOnly) throw mismatch(`drive ${s.name} is read-only here`);
    if (dv.getUint32(8, true) !== CHUNK_SIZE || s.payload.length < 16 + count * 4)
      throw new SnapshotError('corrupt', `DISK ${s.name}: bad chunk table`);
    const indexes = new Uint32Array(count);
    let total = 0;
    for (let i = 0; i < count; i++) {
      const c = dv.getUint32(16 + i * 4, true);
      if (c * CHUNK_SIZE >= size) throw new SnapshotError('corrupt', `DISK ${s.name}: chunk ${c}`);
      indexes[i] = c;
      total += Math.min(CHUNK_SIZE, size - c * CHUNK_SIZE);
    }
    if (s.payload.length !== 16 + count * 4 + total)
      throw new SnapshotError(
        'corrupt',
        `DISK ${s.name}: ${s.payload.length} bytes, not ${16 + count * 4 + total}`,
      );
    drives.push({ id: s.name, size, indexes, data: s.payload.subarray(16 + count * 4) });
  }

  const rng = of('RNG ')[0];
  const entropy = rng === undefined ? {} : v8<Record<string, number>>(rng);
  if (typeof entropy !== 'object' || entropy === null)
    throw new SnapshotError('corrupt', 'RNG is not a table of positions');

  return {
    meta,
    cpus,
    devices,
    iommus,
    machine,
    pci,
    clock,
    scheduler,
    ram,
    drives,
    entropy,
    notes,
  };
}

/**
 * A plugin's state at the version the running plugin reads: as saved, or through the plugin's
 * `migrateState` (run now, on a copy). Refused (`version`) when the plugin has none or its
 * migration gives nothing back.
 */
function migrated(
  id: string,
  plugin: LoadedPlugin,
  sec: PluginSection,
  savedBy: string,
  notes: string[],
): SavedState {
  const want = plugin.definition.stateVersion ?? 1;
  if (sec.version === want) return { version: want, data: sec.data };
  const who = `'${plugin.manifest.id}' (${id})`;
  if (!plugin.definition.migrates)
    throw new SnapshotError(
      'version',
      `${who} saved state version ${sec.version} (plugin ${savedBy}); plugin ${plugin.manifest.version} reads version ${want} and has no state migration`,
      { plugin: plugin.manifest.id, device: id },
    );
  let data: unknown;
  try {
    data = plugin.realm.migrateState(sec.version, structuredClone(sec.data));
  } catch (e) {
    throw new SnapshotError(
      'version',
      `${who}: its migration from version ${sec.version} threw: ${(e as Error).message}`,
      {
        plugin: plugin.manifest.id,
        device: id,
      },
    );
  }
  if (data === undefined)
    throw new SnapshotError(
      'version',
      `${who}: its migration refuses state version ${sec.version}`,
      {
        plugin: plugin.manifest.id,
        device: id,
      },
    );
  notes.push(`${who}: state version ${sec.version} migrated to ${want}`);
  return { version: want, data: structuredClone(data) };
}

/** The plugin states running now, to put back if a restore is refused half-way. */
interface Backup {
  readonly cpus: Map<string, unknown>;
  readonly devices: Map<string, PluginSection>;
  readonly iommus: Map<string, PluginSection>;
  readonly machine: unknown;
  readonly pci: Map<string, PciFunctionState>;
}

function backup(emu: Emulator): Backup {
  const lines = (m: ReadonlyMap<string, { readonly level: 0 | 1 }>) =>
    Object.fromEntries([...m].map(([n, l]) => [n, l.level]));
  return {
    cpus: new Map(emu.cpus.map((c) => [c.id, c.model.saveState?.()])),
    devices: new Map(
      [...emu.devices].map(([id, d]) => [id, { ...d.saveState(), lines: lines(d.slot.irqLines) }]),
    ),
    iommus: new Map(
      [...emu.iommus].map(([id, m]) => [id, { ...m.saveState(), lines: lines(m.slot.irqLines) }]),
    ),
    machine: emu.model.saveState?.(),
    pci: new Map([...pciFunctions(emu)].map(([k, fn]) => [k, fn.saveState()])),
  };
}

/** The plugin part of a restore, in order; throws (naming who) at the first refusal. */
function putStates(emu: Emulator, s: Backup | RestorePlan): void {
  const step = (who: string, plugin: string, f: () => void) => {
    try {
      f();
    } catch (e) {
      throw new SnapshotError('refused', `${who} refused its state: ${(e as Error).message}`, {
        plugin,
        device: who,
      });
    }
  };
  if (s.machine !== undefined) {
    const mp = emu.machinePlugin.manifest.id;
    step(`machine ${mp}`, mp, () => emu.model.loadState?.(s.machine));
  }
  for (const [id, st] of s.iommus) {
    const r = emu.iommus.get(id)!;
    step(id, r.plugin.manifest.id, () => {
      emu.reloadIommu(id, r.plugin, { version: st.version, data: st.data });
      setLines(r.slot.irqLines, st.lines);
    });
  }
  for (const [key, st] of s.pci) pciFunctions(emu).get(key)?.loadState(st);
  for (const [id, st] of s.devices) {
    const d = emu.devices.get(id)!;
    step(id, d.plugin.manifest.id, () => {
      replaceInstance(d, { version: st.version, data: st.data });
      setLines(d.slot.irqLines, st.lines);
    });
  }
  for (const [id, data] of s.cpus) {
    const c = emu.cpus.find((x) => x.id === id)!;
    step(id, c.plugin.manifest.id, () => c.model.loadState?.(data));
  }
}

function setLines(
  lines: ReadonlyMap<string, { readonly level: 0 | 1; set(l: number): void }>,
  levels: Readonly<Record<string, 0 | 1>> | undefined,
): void {
  for (const [name, line] of lines) line.set(levels?.[name] ?? 0);
}

/**
 * A device's instance replaced by one of the same plugin created from `state`, as a hot
 * reload does (the old one disposed under its guard, its handles revoked); throws what
 * `create` throws, the old instance already gone (the caller rolls back).
 */
function replaceInstance(d: RunningDevice, state: SavedState): void {
  const guard = d.slot.scope.guard;
  if (!guard.quarantined && d.model.dispose !== undefined)
    guard.run('deferred', () => d.model.dispose?.());
  d.life.revoke();
  if (guard.quarantined) d.slot.scope.restart();
  const made = d.createInstance(d.plugin, state);
  d.adopt(d.plugin, made.model, made.life);
}

/** What a restore did. */
export interface RestoreReport {
  readonly meta: SnapshotMeta;
  readonly notes: readonly string[];
  readonly ramPages: number;
  readonly driveChunks: number;
}

/** Step 2: applies a plan made for this machine (see the file comment). */
export function applyRestore(emu: Emulator, plan: RestorePlan): RestoreReport {
  const busy = emu.machine.busyDevice;
  if (busy !== undefined)
    throw new SnapshotError(
      'busy',
      `a callback of ${busy} is running: snapshots load between events`,
    );
  const before = backup(emu);
  // Instances created again re-arm their timers: a rollback puts the clock's order back too.
  let clockBefore: ClockState | undefined;
  try {
    clockBefore = emu.machine.clock.save();
  } catch {
    clockBefore = undefined;
  }
  const why = (e: unknown) =>
    e instanceof SnapshotError ? e.detail : String((e as Error)?.message ?? e);
  try {
    putStates(emu, plan);
  } catch (e) {
    const context = e instanceof SnapshotError ? e.context : {};
    try {
      putStates(emu, before);
      if (clockBefore !== undefined) emu.machine.clock.load(clockBefore);
    } catch (e2) {
      throw new SnapshotError(
        'refused',
        `${why(e)}; and the rollback failed too: ${why(e2)}`,
        context,
      );
    }
    throw new SnapshotError('refused', `${why(e)}; the machine was rolled back`, context);
  }
  let ramPages = 0;
  for (const r of plan.ram) {
    const keep = new Uint8Array(Math.ceil(r.bytes.length / PAGE_SIZE));
    for (const p of r.indexes) keep[p] = 1;
    for (let p = 0; p < keep.length; p++) {
      if (keep[p] === 1) continue;
      const page = r.bytes.subarray(p * PAGE_SIZE, (p + 1) * PAGE_SIZE);
      if (!isZero(page)) page.fill(0);
    }
    for (const [i, p] of r.indexes.entries())
      r.bytes.set(r.pages.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE), p * PAGE_SIZE);
    ramPages += r.indexes.length;
  }
  let driveChunks = 0;
  for (const d of plan.drives) {
    const drive = emu.backends.drives.get(d.id)!;
    const saved = new Map<number, Uint8Array>();
    let at = 0;
    for (const c of d.indexes) {
      const len = Math.min(CHUNK_SIZE, d.size - c * CHUNK_SIZE);
      saved.set(c, d.data.subarray(at, at + len));
      at += len;
    }
    const n = Math.ceil(d.size / CHUNK_SIZE);
    for (let c = 0; c < n; c++) {
      const len = Math.min(CHUNK_SIZE, d.size - c * CHUNK_SIZE);
      const now = new Uint8Array(len);
      const want = saved.get(c);
      if (drive.read(c * CHUNK_SIZE, now) !== 'ok' || !equal(now, want)) {
        const r = drive.write(c * CHUNK_SIZE, want ?? new Uint8Array(len));
        if (r !== 'ok') throw new SnapshotError('io', `drive ${d.id}: writing chunk ${c}: ${r}`);
        driveChunks++;
      }
    }
    drive.flush();
  }
  emu.backends.seekEntropy(plan.entropy);
  emu.machine.clock.load(plan.clock);
  emu.machine.cpus.load(plan.scheduler);
  // Guest memory changed under every CPU's translations and decoded code.
  for (const c of emu.cpus) c.model.memoryChanged();
  emu.shutdownRequest = undefined;
  return { meta: plan.meta, notes: plan.notes, ramPages, driveChunks };
}

/** Checks and loads a snapshot file's bytes into `emu` (see the file comment). */
export function restoreSnapshot(emu: Emulator, bytes: Uint8Array): RestoreReport {
  return applyRestore(emu, planRestore(emu, bytes));
}

function equal(a: Uint8Array, b: Uint8Array | undefined): boolean {
  if (b === undefined) {
    for (let o = 0; o < a.length; o += PAGE_SIZE)
      if (!isZero(a.subarray(o, o + PAGE_SIZE))) return false;
    return true;
  }
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}
