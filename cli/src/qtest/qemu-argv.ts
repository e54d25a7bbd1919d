/**
 * QEMU's command line, as far as a qtest harness uses it. QEMU's options take one dash or two
 * (`-m` or `--m`), except where emuhost's own long options take the name (`--machine FILE`
 * is a machine file, `-machine` QEMU's); values are QEMU's `key=value,...` lists. Anything else is an
 * error in QEMU's own words (`-foo: invalid option`), never a stack trace.
 */

export class ArgvError extends Error {}

/** A character device: where a qtest or QMP stream goes. */
export type Chardev =
  | {
      readonly kind: 'unix';
      readonly path: string;
      readonly server: boolean;
      readonly wait: boolean;
    }
  | {
      readonly kind: 'tcp';
      readonly host: string;
      readonly port: number;
      readonly server: boolean;
      readonly wait: boolean;
    }
  | { readonly kind: 'stdio' };

export interface DeviceArg {
  readonly driver: string;
  readonly props: Readonly<Record<string, string>>;
}

export interface QemuArgs {
  readonly qtest: Chardev | undefined;
  /**
   * `-qtest-log FILE`; undefined: QEMU logs to stderr. `/dev/fd/2` and `/dev/stderr` (libqtest
   * passes `/dev/fd/2` under `QTEST_LOG=1`) are stderr too: opening them fails with ENXIO when
   * stderr is a socket, as it is under Node's `spawn` or a test runner.
   */
  readonly qtestLog: string | undefined;
  readonly machine: {
    readonly type: string | undefined;
    readonly props: Readonly<Record<string, string>>;
  };
  readonly accel: string | undefined;
  /** Bytes; QEMU's default is 128 MiB. */
  readonly ramSize: number;
  readonly devices: readonly DeviceArg[];
  readonly chardevs: ReadonlyMap<string, Chardev>;
  /** Chardev ids with a QMP monitor. */
  readonly qmp: readonly string[];
  readonly paused: boolean;
  readonly globals: readonly string[];
  readonly bios: string | undefined;
  readonly drives: readonly Readonly<Record<string, string>>[];
  /** `-object TYPE,id=...` in order (`qom-type` holds TYPE). */
  readonly objects: readonly Readonly<Record<string, string>>[];
  /** `-seed N`: the seed of the built-in entropy sources. */
  readonly seed: number | undefined;
  readonly version: boolean;
  readonly help: boolean;
  /** emuhost's own: a JSON machine file, external plugin bundles, tracing. */
  readonly machineFile: string | undefined;
  readonly plugins: readonly string[];
  readonly trace: boolean;
  /** `--watch DIR`: plugin directories to build, run and hot-reload (as `emuhost dev`). */
  readonly watch: readonly string[];
}

/** Options accepted and ignored: they change nothing a test client can see here. */
const IGNORED_WITH_VALUE = [
  'display',
  'audio',
  'name',
  'smp',
  'cpu',
  'serial',
  'monitor',
  'vga',
  'nic',
  'netdev',
  'L',
  'trace',
];
const IGNORED_FLAGS = ['no-shutdown', 'no-reboot', 'nographic', 'nodefaults'];
const IGNORED = new Set([...IGNORED_WITH_VALUE, ...IGNORED_FLAGS]);
/** Options taking a value; the rest are flags. */
const WITH_VALUE = new Set([
  'qtest',
  'qtest-log',
  'machine',
  'M',
  'accel',
  'm',
  'device',
  'chardev',
  'mon',
  'global',
  'bios',
  'drive',
  'object',
  'seed',
  'plugin',
  'emuhost-machine',
  'emuhost-watch',
  ...IGNORED_WITH_VALUE,
]);
const FLAGS = new Set([
  'S',
  'version',
  'help',
  'h',
  'enable-kvm',
  'emuhost-trace',
  ...IGNORED_FLAGS,
]);

/** `a=1,b=2` (a first bare word goes to `first`). Commas doubled escape a comma, as in QEMU. */
export function parseKeyValues(s: string, first?: string): Record<string, string> {
  const out: Record<string, string> = {};
  const parts = s
    .replace(/,,/g, '\0')
    .split(',')
    .map((p) => p.replace(/\0/g, ','));
  parts.forEach((p, i) => {
    const eq = p.indexOf('=');
    if (eq < 0) {
      if (i === 0 && first !== undefined) out[first] = p;
      else if (p !== '') out[p] = 'on';
    } else out[p.slice(0, eq)] = p.slice(eq + 1);
  });
  return out;
}

/** QEMU's size syntax: a number with an optional K/M/G/T suffix; plain numbers are MiB for -m. */
export function parseSize(s: string, defaultUnit: number): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kKmMgGtT])?[bB]?$/.exec(s.trim());
  if (m === null)
    throw new ArgvError(`Parameter 'size' expects a non-negative number below 2^64 (got '${s}')`);
  const unit = m[2] === undefined ? defaultUnit : 1024 ** ('kmgt'.indexOf(m[2].toLowerCase()) + 1);
  return Math.round(Number(m[1]) * unit);
}

export function parseChardev(spec: string, what: string): Chardev {
  if (spec === 'stdio') return { kind: 'stdio' };
  const colon = spec.indexOf(':');
  const backend = colon < 0 ? spec : spec.slice(0, colon);
  const rest = colon < 0 ? '' : spec.slice(colon + 1);
  const bool = (v: string | undefined, d: boolean) =>
    v === undefined ? d : ['on', 'true', 'yes', ''].includes(v);
  if (backend === 'unix') {
    const kv = parseKeyValues(rest, 'path');
    if (!kv.path) throw new ArgvError(`${what}: unix chardev needs a path`);
    return {
      kind: 'unix',
      path: kv.path,
      server: bool(kv.server, false),
      wait: bool(kv.wait, true) && kv.nowait === undefined,
    };
  }
  if (backend === 'tcp') {
    const kv = parseKeyValues(rest, 'addr');
    const [host, port] = (kv.addr ?? '').split(':');
    const p = Number(port);
    if (!Number.isInteger(p) || p <= 0 || p > 65535)
      throw new ArgvError(`${what}: tcp chardev needs host:port`);
    return {
      kind: 'tcp',
      host: host || '127.0.0.1',
      port: p,
      server: bool(kv.server, false),
      wait: bool(kv.wait, true) && kv.nowait === undefined,
    };
  }
  throw new ArgvError(
    `${what}: chardev '${backend}' is not supported (unix:PATH, tcp:HOST:PORT or stdio)`,
  );
}

/** Paths that name this process's stderr: logged to the stream itself, never reopened. */
const STDERR_PATHS = new Set(['/dev/fd/2', '/dev/stderr', '/proc/self/fd/2']);

export function parseQemuArgs(argv: readonly string[]): QemuArgs {
  let qtest: Chardev | undefined;
  let qtestLog: string | undefined;
  let machine: QemuArgs['machine'] = { type: undefined, props: {} };
  let accel: string | undefined;
  let ramSize = 128 << 20;
  const devices: DeviceArg[] = [];
  const chardevs = new Map<string, Chardev>();
  const qmp: string[] = [];
  const globals: string[] = [];
  const drives: Record<string, string>[] = [];
  const objects: Record<string, string>[] = [];
  let seed: number | undefined;
  const plugins: string[] = [];
  let paused = false;
  let bios: string | undefined;
  let version = false;
  let help = false;
  let machineFile: string | undefined;
  let trace = false;
  const watch: string[] = [];

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-'))
      throw new ArgvError(`${arg}: unexpected argument (a disk image is not supported)`);
    let name = arg.replace(/^--?/, '');
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (arg.startsWith('--') && eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    // emuhost's own long options.
    if (arg === '--machine') name = 'emuhost-machine';
    if (arg === '--plugin') name = 'plugin';
    if (arg === '--trace') name = 'emuhost-trace';
    if (arg === '--watch' || arg.startsWith('--watch=')) name = 'emuhost-watch';
    if (!WITH_VALUE.has(name) && !FLAGS.has(name)) throw new ArgvError(`${arg}: invalid option`);
    if (WITH_VALUE.has(name) && value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new ArgvError(`${arg}: requires an argument`);
    }
    const v = value!;
    switch (name) {
      case 'qtest':
        qtest = parseChardev(v, arg);
        break;
      case 'qtest-log':
        qtestLog = STDERR_PATHS.has(v) ? undefined : v;
        break;
      case 'machine':
      case 'M': {
        const kv = parseKeyValues(v, 'type');
        const { type, accel: a, ...props } = kv;
        machine = { type: type ?? machine.type, props: { ...machine.props, ...props } };
        if (a !== undefined) accel = a;
        break;
      }
      case 'accel':
        accel = parseKeyValues(v, 'accel').accel;
        break;
      case 'm': {
        const kv = parseKeyValues(v, 'size');
        ramSize = parseSize(kv.size ?? '128', 1 << 20);
        if (ramSize <= 0) throw new ArgvError(`${arg}: RAM size must be positive`);
        break;
      }
      case 'device': {
        const kv = parseKeyValues(v, 'driver');
        const { driver, ...props } = kv;
        if (!driver) throw new ArgvError(`${arg}: missing driver name`);
        devices.push({ driver, props });
        break;
      }
      case 'chardev': {
        const kv = parseKeyValues(v, 'backend');
        const id = kv.id;
        if (!id) throw new ArgvError(`${arg}: a chardev needs an id`);
        if (kv.backend === 'socket') {
          if (kv.path) {
            chardevs.set(
              id,
              parseChardev(
                `unix:${kv.path}${kv.server ? `,server=${kv.server}` : ''}${kv.wait ? `,wait=${kv.wait}` : ''}`,
                arg,
              ),
            );
          } else if (kv.host && kv.port) {
            chardevs.set(
              id,
              parseChardev(
                `tcp:${kv.host}:${kv.port}${kv.server ? `,server=${kv.server}` : ''}`,
                arg,
              ),
            );
          } else throw new ArgvError(`${arg}: a socket chardev needs path= or host= and port=`);
        } else if (kv.backend === 'stdio') chardevs.set(id, { kind: 'stdio' });
        else throw new ArgvError(`${arg}: chardev backend '${kv.backend}' is not supported`);
        break;
      }
      case 'mon': {
        const kv = parseKeyValues(v, 'chardev');
        if (kv.mode !== undefined && kv.mode !== 'control')
          throw new ArgvError(`${arg}: only mode=control (QMP) is supported`);
        if (!kv.chardev) throw new ArgvError(`${arg}: missing chardev=`);
        qmp.push(kv.chardev);
        break;
      }
      case 'global':
        globals.push(v);
        break;
      case 'bios':
        bios = v;
        break;
      case 'drive':
        drives.push(parseKeyValues(v, 'file'));
        break;
      case 'object':
        objects.push(parseKeyValues(v, 'qom-type'));
        break;
      case 'seed': {
        const n = Number(v);
        if (!Number.isSafeInteger(n)) throw new ArgvError(`-seed: '${v}' is not an integer`);
        seed = n;
        break;
      }
      case 'plugin':
        plugins.push(v);
        break;
      case 'emuhost-machine':
        machineFile = v;
        break;
      case 'emuhost-trace':
        trace = true;
        break;
      case 'emuhost-watch':
        watch.push(v);
        break;
      case 'S':
        paused = true;
        break;
      case 'version':
        version = true;
        break;
      case 'help':
      case 'h':
        help = true;
        break;
      case 'enable-kvm':
        throw new ArgvError(`${arg}: there is no KVM under emuhost; use -accel qtest`);
      default:
        if (!IGNORED.has(name)) throw new ArgvError(`${arg}: invalid option`);
    }
  }
  for (const id of qmp)
    if (!chardevs.has(id)) throw new ArgvError(`-mon: chardev '${id}' not found`);
  if (accel !== undefined && accel !== 'qtest')
    throw new ArgvError(`invalid accelerator ${accel} (emuhost provides qtest only)`);
  return {
    qtest,
    qtestLog,
    machine,
    accel,
    ramSize,
    devices,
    chardevs,
    qmp,
    paused,
    globals,
    bios,
    drives,
    objects,
    seed,
    version,
    help,
    machineFile,
    plugins,
    trace,
    watch,
  };
}
