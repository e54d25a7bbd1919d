/**
 * `-netdev` and `-object filter-dump` as QEMU spells them, turned into the host's network
 * backends (`@emuhost/host`'s `openNetdev`, `PcapWriter`), opened before the machine is built:
 *
 *   -netdev hub,id=n0,path=/tmp/lan.sock          emuhost's: the first process serves the path
 *   -netdev stream,id=n0,server=on|off,addr.type=unix,addr.path=/tmp/x.sock   QEMU's
 *   -object filter-dump,id=f0,netdev=n0,file=cap.pcap[,maxlen=N]
 *
 * Kinds QEMU has and emuhost does not (user, tap, socket, dgram, ...) are refused naming the
 * ones it has; `-nic` stays `none` only. Errors are `ArgvError`s worded as QEMU's.
 */
import { type NetdevSpec, type OpenNetdev, openNetdev, PcapWriter } from '@emuhost/host';
import { ArgvError } from '../qtest/qemu-argv.js';

export const NETDEV_KINDS = ['hub', 'stream'] as const;

const on = (v: string | undefined, what: string): boolean => {
  if (v === undefined || ['on', 'true', 'yes'].includes(v)) return true;
  if (['off', 'false', 'no'].includes(v)) return false;
  throw new ArgvError(`${what}: Parameter expects 'on' or 'off', not '${v}'`);
};

/** One `-netdev` value (its `key=value` list) as a spec. */
export function netdevSpec(kv: Readonly<Record<string, string>>): NetdevSpec {
  const kind = kv.type;
  const what = `-netdev ${kind ?? ''}`;
  if (kind === undefined || kind === '')
    throw new ArgvError("-netdev: Parameter 'type' is missing");
  if (!(NETDEV_KINDS as readonly string[]).includes(kind))
    throw new ArgvError(
      `${what}: network backend '${kind}' is not available in emuhost (it has ${NETDEV_KINDS.join(', ')}; no host network is used)`,
    );
  const id = kv.id;
  if (id === undefined || id === '') throw new ArgvError(`${what}: Parameter 'id' is missing`);
  if (kind === 'hub') {
    if (!kv.path)
      throw new ArgvError(`${what},id=${id}: Parameter 'path' is missing (a Unix socket)`);
    return { kind: 'hub', id, path: kv.path };
  }
  const type = kv['addr.type'];
  if (type !== 'unix')
    throw new ArgvError(
      `${what},id=${id}: addr.type=${type ?? '(missing)'}: emuhost's stream netdev takes addr.type=unix only`,
    );
  const path = kv['addr.path'];
  if (!path) throw new ArgvError(`${what},id=${id}: Parameter 'addr.path' is missing`);
  return { kind: 'stream', id, path, server: on(kv.server ?? 'off', `${what},id=${id},server`) };
}

/** A `-object filter-dump`'s settings. */
export interface FilterDumpSpec {
  readonly id: string;
  readonly netdev: string;
  readonly file: string;
  readonly maxlen: number | undefined;
}

/** The `-object filter-dump,...` among `objects`. */
export function filterDumps(
  objects: readonly Readonly<Record<string, string>>[],
): FilterDumpSpec[] {
  const out: FilterDumpSpec[] = [];
  for (const o of objects) {
    if (o['qom-type'] !== 'filter-dump') continue;
    const what = '-object filter-dump';
    if (!o.id) throw new ArgvError(`${what}: Parameter 'id' is missing`);
    if (!o.netdev) throw new ArgvError(`${what},id=${o.id}: Parameter 'netdev' is missing`);
    if (!o.file) throw new ArgvError(`${what},id=${o.id}: Parameter 'file' is missing`);
    if (o.queue !== undefined && o.queue !== 'all')
      throw new ArgvError(`${what},id=${o.id}: queue=${o.queue}: only queue=all is supported`);
    const maxlen = o.maxlen === undefined ? undefined : Number(o.maxlen);
    if (maxlen !== undefined && (!Number.isSafeInteger(maxlen) || maxlen <= 0))
      throw new ArgvError(`${what},id=${o.id}: maxlen must be a positive integer`);
    out.push({ id: o.id, netdev: o.netdev, file: o.file, maxlen });
  }
  return out;
}

/** The open netdevs of a run, by id, and what to close when it ends. */
export interface OpenNetwork {
  readonly netdevs: ReadonlyMap<string, OpenNetdev>;
  close(): void;
}

/** Opens every `-netdev` (sockets connected or listening) and attaches the captures. */
export async function openNetwork(
  specs: readonly NetdevSpec[],
  dumps: readonly FilterDumpSpec[],
  warn: (text: string) => void,
): Promise<OpenNetwork> {
  const netdevs = new Map<string, OpenNetdev>();
  const closers: (() => void)[] = [];
  const close = () => {
    for (const c of closers.splice(0).reverse()) c();
  };
  try {
    for (const s of specs) {
      if (netdevs.has(s.id))
        throw new ArgvError(`-netdev id=${s.id}: Duplicate ID '${s.id}' for netdev`);
      const n = await openNetdev(s, { warn });
      netdevs.set(s.id, n);
      closers.push(() => n.close());
    }
    for (const d of dumps) {
      const n = netdevs.get(d.netdev);
      if (n === undefined)
        throw new ArgvError(`-object filter-dump,id=${d.id}: netdev '${d.netdev}' not found`);
      const w = new PcapWriter(d.file, d.maxlen, warn);
      n.port.taps.push(w);
      closers.push(() => w.close());
    }
  } catch (e) {
    close();
    throw e;
  }
  return { netdevs, close };
}
