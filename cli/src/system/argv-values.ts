/**
 * The values of QEMU's system options that have a syntax of their own: where a character
 * device goes (`-serial`, `-monitor`, `-gdb`), `-smp`'s topology, `-icount`, `-accel`. Each
 * parser throws an `ArgvError` naming the option and its value.
 */
import { ArgvError, type Chardev, parseChardev, parseKeyValues } from '../qtest/qemu-argv.js';

/**
 * Where a serial port or a monitor goes (QEMU's `-serial`/`-monitor` spellings): a socket or
 * the terminal (`stdio`; `mon:stdio` shares it with the monitor), `file:PATH` (output only),
 * `null` (output dropped), `none` (no backend at all).
 */
export type CharSpec =
  | Chardev
  | { readonly kind: 'mon-stdio' }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'null' }
  | { readonly kind: 'none' };

/** Where the GDB stub listens. */
export type GdbSocket = Extract<Chardev, { kind: 'unix' | 'tcp' }>;

/** How the CPUs keep time (`-icount`): QEMU's `shift=N[,sleep=on|off]` or `shift=auto`. */
export type Icount =
  | { readonly mode: 'deterministic'; readonly shift: number; readonly sleep: boolean }
  | { readonly mode: 'realtime' };

/** `-serial`/`-monitor`: the chardev spellings QEMU accepts there. */
export function parseCharSpec(spec: string, what: string): CharSpec {
  if (spec === 'mon:stdio') return { kind: 'mon-stdio' };
  if (spec === 'null') return { kind: 'null' };
  if (spec === 'none') return { kind: 'none' };
  // QEMU's graphical console; without a display its output goes nowhere.
  if (spec === 'vc' || spec.startsWith('vc:')) return { kind: 'null' };
  if (spec.startsWith('file:')) {
    const path = spec.slice(5);
    if (path === '') throw new ArgvError(`${what} ${spec}: file: needs a path`);
    return { kind: 'file', path };
  }
  if (spec.startsWith('mon:'))
    throw new ArgvError(`${what} ${spec}: only mon:stdio shares a backend with the monitor`);
  if (spec === 'stdio' || spec.startsWith('unix:') || spec.startsWith('tcp:'))
    return parseChardev(spec, `${what} ${spec}`);
  throw new ArgvError(
    `${what} ${spec}: not a backend emuhost has (stdio, mon:stdio, unix:PATH[,server][,nowait], tcp:[HOST]:PORT[,server][,nowait], file:PATH, null, none)`,
  );
}

/**
 * `-chardev BACKEND,id=ID,...` (what `-device virtconsole,chardev=ID` and its kind name): the
 * backends QEMU's -chardev has that emuhost opens: `socket` (path=, or host= and port=;
 * server, wait), `stdio`, `file` (path=, output only), `null`.
 */
export function parseChardevOption(spec: string, what: string): { id: string; spec: CharSpec } {
  const kv = parseKeyValues(spec, 'backend');
  const id = kv.id;
  if (!id) throw new ArgvError(`${what} ${spec}: a chardev needs an id`);
  const flags = ['server', 'wait', 'nowait']
    .filter((k) => kv[k] !== undefined)
    .map((k) => `,${k}=${kv[k]}`)
    .join('');
  switch (kv.backend) {
    case 'socket':
      if (kv.path) return { id, spec: parseChardev(`unix:${kv.path}${flags}`, `${what} ${spec}`) };
      if (kv.port)
        return {
          id,
          spec: parseChardev(`tcp:${kv.host ?? ''}:${kv.port}${flags}`, `${what} ${spec}`),
        };
      throw new ArgvError(`${what} ${spec}: a socket chardev needs path= or host= and port=`);
    case 'stdio':
      return { id, spec: { kind: 'stdio' } };
    case 'file':
      if (!kv.path) throw new ArgvError(`${what} ${spec}: a file chardev needs path=`);
      return { id, spec: { kind: 'file', path: kv.path } };
    case 'null':
      return { id, spec: { kind: 'null' } };
    default:
      throw new ArgvError(
        `${what} ${spec}: chardev backend '${kv.backend}' is not one emuhost has (socket, stdio, file, null)`,
      );
  }
}

/** `-gdb`: a socket QEMU always listens on (a bare number is a TCP port). */
export function parseGdb(spec: string, what: string): GdbSocket {
  const s = /^\d+$/.test(spec) ? `tcp::${spec}` : spec;
  if (!s.startsWith('tcp:') && !s.startsWith('unix:'))
    throw new ArgvError(`${what} ${spec}: the GDB stub listens on tcp:[HOST]:PORT or unix:PATH`);
  const c = parseChardev(s, `${what} ${spec}`) as GdbSocket;
  return { ...c, server: true, wait: false };
}

/** `-smp N` or `-smp cpus=N,sockets=S,cores=C,threads=T` (the topology's product when cpus is absent). */
export function parseSmp(spec: string, what: string): number {
  const kv = parseKeyValues(spec, 'cpus');
  const num = (k: string) => {
    const s = kv[k];
    if (s === undefined) return undefined;
    if (!/^\d+$/.test(s)) throw new ArgvError(`${what} ${spec}: ${k} must be a number`);
    return Number(s);
  };
  const topology = ['sockets', 'dies', 'clusters', 'cores', 'threads']
    .map(num)
    .reduce<number | undefined>((p, n) => (n === undefined ? p : (p ?? 1) * n), undefined);
  const n = num('cpus') ?? topology ?? 1;
  if (n < 1 || n > 512) throw new ArgvError(`${what} ${spec}: 1 to 512 CPUs`);
  return n;
}

export function parseIcount(spec: string, what: string): Icount {
  const kv = parseKeyValues(spec, 'shift');
  for (const k of Object.keys(kv))
    if (!['shift', 'sleep', 'align'].includes(k))
      throw new ArgvError(`${what} ${spec}: '${k}' is not supported (shift, sleep)`);
  const onOff = (k: string, d: boolean) => {
    const s = kv[k];
    if (s === undefined) return d;
    if (['on', 'yes', 'true'].includes(s)) return true;
    if (['off', 'no', 'false'].includes(s)) return false;
    throw new ArgvError(`${what} ${spec}: ${k} must be on or off`);
  };
  if (onOff('align', false)) throw new ArgvError(`${what} ${spec}: align=on is not supported`);
  const sleep = onOff('sleep', true);
  const shift = kv.shift ?? '0';
  if (shift === 'auto') {
    if (!sleep) throw new ArgvError(`${what} ${spec}: shift=auto and sleep=off are incompatible`);
    return { mode: 'realtime' };
  }
  if (!/^\d+$/.test(shift) || Number(shift) > 10)
    throw new ArgvError(`${what} ${spec}: shift must be 0 to 10, or auto`);
  return { mode: 'deterministic', shift: Number(shift), sleep };
}

export function checkAccel(accel: string, what: string): void {
  if (accel !== 'tcg')
    throw new ArgvError(`${what}: invalid accelerator ${accel} (emuhost emulates: use tcg)`);
}
