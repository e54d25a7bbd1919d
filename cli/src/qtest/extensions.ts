/**
 * emuhost's own qtest commands, on the same channel as QEMU's and always prefixed `emuhost.`
 * so no QEMU command can ever collide with one. Each answers one line: `OK ...` or
 * `FAIL <reason>`; a multi-line answer (an `info` view) is one JSON string after `OK`.
 *
 *   emuhost.version                  OK emuhost <version> sdk <sdk version>
 *   emuhost.devices                  OK [{"id","plugin","version","level","quarantined","state"
 *                                    [,"reason"]}...] (JSON): state is running or quarantined,
 *                                    reason says which callback faulted, the error and where
 *   emuhost.info mtree|pci|iommu     OK "<the view's text>" (a JSON string)
 *   emuhost.iommu.bind BUS ID|none   binds BUS's requesters to IOMMU ID (or to none): the
 *                                    short form of iommu.swap bus=BUS (same protocol, no report)
 *   emuhost.iommu.swap TARGET PLUGIN|ID|none [key=value...]
 *                                    swaps what translates TARGET under running devices
 *                                    (quiesce, flush IOTLBs, re-translate live mappings and
 *                                    revoke the refused ones, rebind): TARGET is `bus=NAME`,
 *                                    `bus=NAME,rid=FIRST-LAST` or `device=ID`; then a plugin
 *                                    id (a new instance; `id=NAME` names it, other key=value
 *                                    pairs are its options), an existing IOMMU's ID, or none.
 *                                    OK {"from","to","contexts","flushedEntries",
 *                                    "retranslated","revoked","removed","micros"} (JSON)
 *   emuhost.device.restart ID        a fresh instance of device ID (e.g. after quarantine)
 *   emuhost.device.reload ID         hot-reloads device ID onto a fresh instance of the code it
 *                                    runs now (its bundle loaded again into a new realm), its
 *                                    state saved and restored through the state contract
 *                                    (`reloadDevice`): OK {"device","plugin","from","to",
 *                                    "outcome","stateVersion","state","ms","warnings"[,"error"]}
 *   emuhost.device.inject-fault ID [SITE]
 *                                    a debug hook: arms a one-shot fault, so device ID's next
 *                                    guarded callback (of SITE: mmio-read, mmio-write, dma,
 *                                    timer, deferred, reset, ...; default any) throws inside
 *                                    the guard as a plugin exception would (quarantine, its
 *                                    DMA writes in that callback rolled back, a fault event)
 *   emuhost.savevm [TAG]             a whole-machine snapshot under TAG (default a dated tag) in
 *                                    the snapshot directory: OK TAG
 *   emuhost.loadvm TAG               loads it (the whole file checked first; a refused one
 *                                    leaves the machine as it was): OK {"ramPages",
 *                                    "driveChunks","notes"}
 *   emuhost.delvm TAG                OK
 *   emuhost.snapshots                OK [{"tag","bytes","savedAt","virtualNs"}...]
 *   emuhost.snapshot.save FILE       a snapshot to a file: OK {"bytes"}
 *   emuhost.snapshot.load FILE       a snapshot from a file, as loadvm
 *   Snapshots fail as `FAIL E_SNAPSHOT: snapshot <reason>: ...` (reason truncated, corrupt,
 *   format, mismatch, version, refused, busy, io).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GuardSite, IommuBindingTarget } from '@emuhost/core';
import {
  captureSnapshot,
  deviceStatus,
  didYouMean,
  type Emulator,
  type IommuSwapNext,
  type LoadedPlugin,
  PluginHost,
  type ReloadReport,
  type RestoreReport,
  readSnapshotFile,
  reloadDevice,
  restoreSnapshot,
  SnapshotStore,
  writeSnapshotFile,
} from '@emuhost/host';
import { EmuhostError, SDK_VERSION } from '@emuhost/sdk';
import { VERSION } from '../version.js';
import { INFO_VIEWS, infoView } from './info.js';
import type { Extension } from './session.js';

export interface ExtensionOptions {
  /**
   * Finds an IOMMU plugin by id for `emuhost.iommu.swap`. Default: the plugins of the IOMMU
   * instances the emulator has (or had, since this session started).
   */
  readonly plugin?: (id: string) => LoadedPlugin | undefined;
  /** Where `emuhost.savevm TAG` keeps snapshots. Default: a directory of the session's own, made at the first use. */
  readonly snapshotDir?: string;
}

export function emuhostExtensions(
  emu: Emulator,
  opts: ExtensionOptions = {},
): ReadonlyMap<string, Extension> {
  const m = emu.machine;
  /** A bus the machine lacks: the nearest name and the machine's buses. */
  const noBus = (bus: string) => {
    const buses = [...m.pciBuses.keys(), ...m.platformBuses.keys()];
    return `no bus '${bus}'${didYouMean(bus, buses)} (buses: ${buses.join(', ')})`;
  };
  const seen = new Map<string, LoadedPlugin>();
  const findPlugin = (id: string): LoadedPlugin | undefined => {
    for (const r of emu.iommus.values()) seen.set(r.plugin.manifest.id, r.plugin);
    return opts.plugin?.(id) ?? seen.get(id);
  };
  let store: SnapshotStore | undefined;
  const snapshots = () => {
    store ??= new SnapshotStore(
      opts.snapshotDir ?? mkdtempSync(join(tmpdir(), 'emuhost-qtest-snapshots-')),
    );
    return store;
  };
  const snap = (f: () => string): string => {
    try {
      return `OK ${f()}`;
    } catch (e) {
      if (e instanceof EmuhostError) return `FAIL ${e.message.split('\n')[0]}`;
      throw e;
    }
  };
  const loaded = (r: RestoreReport) =>
    JSON.stringify({ ramPages: r.ramPages, driveChunks: r.driveChunks, notes: r.notes });
  return new Map<string, Extension>([
    ['version', () => `OK emuhost ${VERSION} sdk ${SDK_VERSION}`],
    ['savevm', ([tag]) => snap(() => snapshots().save(emu, tag))],
    [
      'loadvm',
      ([tag]) =>
        tag === undefined
          ? 'FAIL usage: emuhost.loadvm TAG'
          : snap(() => loaded(snapshots().load(emu, tag))),
    ],
    [
      'delvm',
      ([tag]) =>
        tag === undefined
          ? 'FAIL usage: emuhost.delvm TAG'
          : snap(() => {
              snapshots().delete(tag);
              return '';
            }).trimEnd(),
    ],
    ['snapshots', () => snap(() => JSON.stringify(snapshots().list()))],
    [
      'snapshot.save',
      ([file]) =>
        file === undefined
          ? 'FAIL usage: emuhost.snapshot.save FILE'
          : snap(() => {
              const bytes = captureSnapshot(emu);
              writeSnapshotFile(file, bytes);
              return JSON.stringify({ bytes: bytes.length });
            }),
    ],
    [
      'snapshot.load',
      ([file]) =>
        file === undefined
          ? 'FAIL usage: emuhost.snapshot.load FILE'
          : snap(() => loaded(restoreSnapshot(emu, readSnapshotFile(file)))),
    ],
    [
      'devices',
      () =>
        `OK ${JSON.stringify(
          [...emu.devices.values()].map((d) => {
            const s = deviceStatus(d);
            return {
              id: d.id,
              plugin: d.plugin.manifest.id,
              version: d.plugin.manifest.version,
              level: d.plugin.level,
              quarantined: s.state === 'quarantined',
              state: s.state,
              ...(s.reason !== undefined && { reason: s.reason }),
            };
          }),
        )}`,
    ],
    [
      'info',
      (args) => {
        const view = infoView(emu, args.join(' '));
        return view === undefined
          ? `FAIL no view '${args.join(' ')}' (${INFO_VIEWS.join(', ')})`
          : `OK ${JSON.stringify(view)}`;
      },
    ],
    [
      'iommu.bind',
      ([bus, id]) => {
        if (bus === undefined || id === undefined)
          return 'FAIL usage: emuhost.iommu.bind BUS ID|none';
        if (!m.pciBuses.has(bus) && !m.platformBuses.has(bus)) return `FAIL ${noBus(bus)}`;
        if (id !== 'none' && !emu.iommus.has(id)) return `FAIL no IOMMU '${id}'`;
        // The short form of iommu.swap (same protocol, no report).
        try {
          emu.swapIommu({ bus }, id === 'none' ? null : id, { keepOld: true });
        } catch (e) {
          return `FAIL ${(e as Error).message}`;
        }
        return 'OK';
      },
    ],
    [
      'iommu.swap',
      ([where, what, ...pairs]) => {
        if (where === undefined || what === undefined)
          return 'FAIL usage: emuhost.iommu.swap bus=NAME[,rid=FIRST-LAST]|device=ID PLUGIN|ID|none [key=value...]';
        const target = parseTarget(where);
        if (typeof target === 'string') return `FAIL ${target}`;
        if ('bus' in target && !m.pciBuses.has(target.bus) && !m.platformBuses.has(target.bus))
          return `FAIL ${noBus(target.bus)}`;
        const options: Record<string, string> = {};
        for (const p of pairs) {
          const eq = p.indexOf('=');
          if (eq <= 0) return `FAIL '${p}' is not key=value`;
          options[p.slice(0, eq)] = p.slice(eq + 1);
        }
        let next: IommuSwapNext;
        if (what === 'none' || emu.iommus.has(what)) {
          if (pairs.length !== 0) return `FAIL options are for a new instance, not '${what}'`;
          next = what === 'none' ? null : what;
        } else {
          const plugin = findPlugin(what);
          if (plugin === undefined) return `FAIL no IOMMU or IOMMU plugin '${what}'`;
          const { id, ...rest } = options;
          next = { plugin, ...(id !== undefined && { id }), options: rest };
        }
        try {
          const r = emu.swapIommu(target, next);
          return `OK ${JSON.stringify({ ...r, micros: Math.round(r.micros * 10) / 10 })}`;
        } catch (e) {
          if (e instanceof EmuhostError) return `FAIL ${e.message}`;
          throw e;
        }
      },
    ],
    [
      'device.restart',
      ([id]) => {
        const d = id === undefined ? undefined : emu.devices.get(id);
        if (d === undefined) return `FAIL no device '${id ?? ''}'`;
        // A plugin whose realm ended (the isolated watchdog stopped its worker) is loaded
        // again, by the host that loaded it, for the fresh instance.
        let plugin = d.plugin;
        if (plugin.realm.ended !== undefined) {
          const host = PluginHost.of(plugin);
          if (host === undefined)
            return `FAIL device ${d.id}'s plugin can no longer run (${plugin.realm.ended}) and was not loaded by a plugin host`;
          try {
            plugin = host.loadAgain(plugin);
          } catch (e) {
            if (e instanceof EmuhostError) return `FAIL ${e.message.split('\n')[0]}`;
            throw e;
          }
        }
        let warnings: string[];
        try {
          warnings = d.restart(plugin);
        } catch (e) {
          if (e instanceof EmuhostError) return `FAIL ${e.message.split('\n')[0]}`;
          throw e;
        }
        return warnings.length === 0 ? 'OK' : `OK ${JSON.stringify(warnings)}`;
      },
    ],
    ['device.reload', ([id]) => reloadSame(emu, id)],
    [
      'device.inject-fault',
      ([id, site, ...rest]) => {
        if (id === undefined || rest.length !== 0)
          return 'FAIL usage: emuhost.device.inject-fault ID [SITE]';
        const d = emu.devices.get(id);
        if (d === undefined) return `FAIL no device '${id}'`;
        if (site !== undefined && !GUARD_SITES.includes(site as GuardSite))
          return `FAIL no guard site '${site}' (${GUARD_SITES.join(', ')})`;
        d.slot.scope.guard.injectFault(site as GuardSite | undefined);
        return 'OK';
      },
    ],
  ]);
}

const GUARD_SITES: readonly GuardSite[] = [
  'mmio-read',
  'mmio-write',
  'config-write',
  'dma',
  'timer',
  'deferred',
  'setup',
  'reset',
  'unrealize',
];

/**
 * `emuhost.device.reload ID`: the device's bundle loaded again by the host that loaded it,
 * then `reloadDevice`. The old realm is disposed once no device or IOMMU of `emu` runs it and
 * the host no longer hands it out (what `reloadPlugin` does for its old realms).
 */
function reloadSame(emu: Emulator, id: string | undefined): string {
  const d = id === undefined ? undefined : emu.devices.get(id);
  if (d === undefined) return `FAIL no device '${id ?? ''}'`;
  const old = d.plugin;
  const host = PluginHost.of(old);
  if (host === undefined)
    return `FAIL device ${d.id}'s plugin '${old.manifest.id}' was not loaded by a plugin host: there is no code to load again`;
  let fresh: LoadedPlugin;
  let r: ReloadReport;
  try {
    fresh = host.loadAgain(old);
    try {
      r = reloadDevice(emu, d.id, fresh);
    } catch (e) {
      if (host.get(old.manifest.id) !== fresh) fresh.realm.dispose();
      throw e;
    }
  } catch (e) {
    if (e instanceof EmuhostError) return `FAIL ${e.message.split('\n')[0]}`;
    throw e;
  }
  const inUse = (p: LoadedPlugin) =>
    host.get(p.manifest.id) === p ||
    [...emu.devices.values()].some((x) => x.plugin === p) ||
    [...emu.iommus.values()].some((x) => x.plugin === p);
  if (!inUse(old)) old.realm.dispose();
  if (fresh !== old && !inUse(fresh)) fresh.realm.dispose();
  const { error, ms, ...rest } = r;
  return `OK ${JSON.stringify({
    ...rest,
    ms: { total: round(ms.total), quiesceToResume: round(ms.quiesceToResume) },
    ...(error !== undefined && { error: error.message.split('\n')[0] }),
  })}`;
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/** `bus=NAME`, `bus=NAME,rid=FIRST-LAST` or `device=ID`; a string says what is wrong. */
function parseTarget(arg: string): IommuBindingTarget | string {
  const kv = new Map<string, string>();
  for (const part of arg.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return `target '${arg}' is not bus=NAME[,rid=FIRST-LAST] or device=ID`;
    kv.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const device = kv.get('device');
  const bus = kv.get('bus');
  const rid = kv.get('rid');
  if (device !== undefined && kv.size === 1) return { device };
  if (bus === undefined || kv.size !== (rid === undefined ? 1 : 2))
    return `target '${arg}' is not bus=NAME[,rid=FIRST-LAST] or device=ID`;
  if (rid === undefined) return { bus };
  const [a, b = a] = rid.split('-').map((x) => Number(x));
  if (!Number.isInteger(a) || !Number.isInteger(b) || a! > b!)
    return `requester-ID range '${rid}' is not FIRST-LAST`;
  return { bus, requesterIds: [a!, b!] };
}
