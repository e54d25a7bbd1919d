/**
 * `emuhost qtest` and the `emuhost-system-x86_64` drop-in: QEMU's command line in, a qtest
 * target out. It builds the machine from plugins (the machine, each `-device`), connects
 * the qtest stream and the QMP monitor the way QEMU does (client sockets unless
 * `server=on`), and serves them until the client goes away or a signal ends it.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import {
  buildMachineSpec,
  bundledPlugins,
  type DeviceSpec,
  type Emulator,
  formatDiagnostics,
  type IommuSpec,
  inProcessPlugin,
  type LoadedPlugin,
  type LogSink,
  loadBundled,
  type MachineSpec,
  PluginHost,
  PluginLoadError,
  readMachineFile,
} from '@emuhost/host';
import { definePlugin, EmuhostError, type OptionValue } from '@emuhost/sdk';
import { traceMachine } from '../trace.js';
import { VERSION } from '../version.js';
import { emuhostExtensions } from './extensions.js';
import { infoView } from './info.js';
import { ArgvError, type Chardev, parseQemuArgs, type QemuArgs } from './qemu-argv.js';
import { serveQmp } from './qmp.js';
import { QtestSession } from './session.js';
import { serveStream } from './transport.js';

/** QEMU device names that are emuhost plugins of another id. */
const DEVICE_ALIASES: Readonly<Record<string, string>> = { 'intel-iommu': 'vtd' };
/** -device properties the host handles itself; the rest are the plugin's options. */
const PLACEMENT_PROPS = new Set(['id', 'bus', 'addr']);
/** The QEMU version reported in QMP and -version: the protocol emuhost follows. */
const QEMU_VERSION = { major: 7, minor: 2, micro: 0 };

export interface Stdio {
  readonly stdin: Readable;
  readonly stdout: Writable;
  readonly stderr: Writable;
}

/** Runs a qtest target. Resolves with the exit code when it should end. */
export async function runQtest(argv: readonly string[], stdio: Stdio): Promise<number> {
  let args: QemuArgs;
  try {
    args = parseQemuArgs(argv);
  } catch (e) {
    if (e instanceof ArgvError) {
      stdio.stderr.write(`emuhost: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  if (args.version) {
    stdio.stdout.write(
      `QEMU emulator version ${QEMU_VERSION.major}.${QEMU_VERSION.minor}.${QEMU_VERSION.micro} (emuhost ${VERSION})\n`,
    );
    return 0;
  }
  if (args.help) {
    stdio.stdout.write(`${HELP}\n`);
    return 0;
  }
  let emu: Emulator;
  try {
    emu = await buildTarget(args, stdio.stderr);
  } catch (e) {
    stdio.stderr.write(`emuhost: ${describe(e)}\n`);
    return 1;
  }
  let exitCode: number | undefined;
  let quit!: (code: number) => void;
  const ended = new Promise<number>((resolve) => {
    quit = (code) => {
      exitCode ??= code;
      resolve(exitCode);
    };
  });
  const onSignal = () => quit(0);
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    const log = qtestLog(args.qtestLog, stdio.stderr);
    for (const id of args.qmp) {
      const stream = await open(args.chardevs.get(id)!, stdio);
      void serveQmp(stream.input, stream.output, {
        version: QEMU_VERSION,
        reset: () => emu.reset(),
        quit: () => setImmediate(() => quit(0)),
        machines: () => machineList(),
        types: () => typeList(),
        info: (what) => infoView(emu, what),
      });
    }
    if (args.qtest !== undefined) {
      const stream = await open(args.qtest, stdio);
      const session = new QtestSession(emu, {
        emit: (l) => emitLine(l),
        extensions: emuhostExtensions(emu),
      });
      const served = serveStream(
        session,
        stream.input,
        stream.output,
        log === undefined ? {} : { log },
      );
      const emitLine = served.emit;
      void served.done.then(() => quit(0));
    }
    return await ended;
  } catch (e) {
    stdio.stderr.write(`emuhost: ${describe(e)}\n`);
    return 1;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}

/**
 * QEMU's command line and emuhost's machine files build machines the same way: both become a
 * `MachineSpec` for `buildMachineSpec`. `--machine FILE` gives the base, and each `-device`
 * adds to it (an IOMMU plugin goes to the IOMMUs, bound to the machine's IOMMU slot).
 */
async function buildTarget(args: QemuArgs, stderr: Writable): Promise<Emulator> {
  const host = new PluginHost();
  for (const p of args.plugins) host.loadFile(p);
  let base: MachineSpec;
  if (args.machineFile !== undefined) {
    if (args.machine.type !== undefined)
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `-machine ${args.machine.type} and --machine ${args.machineFile} both name the machine: use one`,
      );
    base = readMachineFile(args.machineFile);
  } else {
    const type = args.machine.type ?? 'pc';
    if (type !== 'none' && host.get(type) === undefined && !bundledPlugins().has(type))
      throw new EmuhostError(
        'E_UNKNOWN_ID',
        `unsupported machine type '${type}' (use -machine help)`,
      );
    base = {
      machine: type,
      ram: args.ramSize,
      machineOptions: args.machine.props as Record<string, OptionValue>,
      plugins: [],
      devices: [],
      iommus: [],
      base: process.cwd(),
    };
  }
  const devices: DeviceSpec[] = [...base.devices];
  const iommus: IommuSpec[] = [...base.iommus];
  for (const dev of args.devices) {
    const id = DEVICE_ALIASES[dev.driver] ?? dev.driver;
    const plugin =
      host.get(id) ?? (bundledPlugins().has(id) ? await loadBundled(host, id) : undefined);
    if (plugin === undefined)
      throw new EmuhostError('E_UNKNOWN_ID', `'${dev.driver}' is not a valid device model name`);
    const options: Record<string, string> = {};
    for (const [k, v] of Object.entries(dev.props)) if (!PLACEMENT_PROPS.has(k)) options[k] = v;
    const named = dev.props.id !== undefined ? { id: dev.props.id } : {};
    if (plugin.manifest.kind === 'iommu') iommus.push({ plugin: id, ...named, options });
    else
      devices.push({
        plugin: id,
        ...named,
        ...(dev.props.bus !== undefined && { bus: dev.props.bus }),
        ...(dev.props.addr !== undefined && { addr: dev.props.addr }),
        options,
      });
  }
  const emu = await buildMachineSpec({ ...base, devices, iommus }, host, {
    log: stderrLog(stderr),
    ...(base.machine === 'none' && { machine: noneMachine() }),
  });
  if (args.trace) traceMachine(emu.machine, (line) => stderr.write(`${line}\n`));
  return emu;
}

/** Plugin warnings and errors to stderr, as QEMU prints its own; debug and info stay quiet. */
function stderrLog(stderr: Writable): LogSink {
  return (level, source, message) => {
    if (level === 'warn' || level === 'error') stderr.write(`emuhost: ${source}: ${message}\n`);
  };
}

/** QEMU's `-machine none`: nothing but RAM, for clients that only ask what exists. */
function noneMachine(): LoadedPlugin {
  return inProcessPlugin(
    {
      id: 'none',
      version: '1.0.0',
      kind: 'machine',
      sdk: '^1.0.0',
      entry: '<in-process>',
      capabilities: [],
    },
    definePlugin({
      kind: 'machine',
      create(ctx) {
        ctx.place(ctx.system, ctx.ram('ram', ctx.ramSize), 0);
        return {};
      },
    }),
  );
}

function machineList() {
  const kinds = [...bundledPlugins().keys()].filter((id) => id === 'pc' || id === 'q35');
  return [
    ...kinds.map((name) => ({ name, 'is-default': name === 'pc', 'default-ram-id': 'pc.ram' })),
    { name: 'none' },
  ];
}

function typeList(): string[] {
  return [...bundledPlugins().keys(), ...Object.keys(DEVICE_ALIASES)].sort();
}

function qtestLog(
  file: string | undefined,
  stderr: Writable,
): ((dir: 'R' | 'S', line: string) => void) | undefined {
  if (file === '/dev/null' || file === 'none') return undefined;
  const started = performance.now();
  const out: Writable | WriteStream =
    file === undefined ? stderr : createWriteStream(file, { flags: 'a' });
  return (dir, line) => {
    out.write(`[${dir} +${((performance.now() - started) / 1000).toFixed(6)}] ${line}\n`);
  };
}

/** Opens a chardev the way QEMU does: connect, or listen and take the first client. */
async function open(c: Chardev, stdio: Stdio): Promise<{ input: Readable; output: Writable }> {
  if (c.kind === 'stdio') return { input: stdio.stdin, output: stdio.stdout };
  const socket: Socket = await new Promise((resolve, reject) => {
    if (!c.server) {
      const s = c.kind === 'unix' ? connect(c.path) : connect(c.port, c.host);
      s.once('connect', () => resolve(s));
      s.once('error', (e) =>
        reject(
          new EmuhostError(
            'E_BAD_ARGUMENT',
            `cannot connect to ${c.kind === 'unix' ? c.path : `${c.host}:${c.port}`}: ${e.message}`,
          ),
        ),
      );
      return;
    }
    const server = createServer((s) => {
      server.close();
      resolve(s);
    });
    server.once('error', (e) =>
      reject(new EmuhostError('E_BAD_ARGUMENT', `cannot listen: ${e.message}`)),
    );
    if (c.kind === 'unix') server.listen(c.path);
    else server.listen(c.port, c.host);
  });
  socket.setNoDelay?.(true);
  return { input: socket, output: socket };
}

function describe(e: unknown): string {
  if (e instanceof PluginLoadError) return formatDiagnostics(e.diagnostics);
  if (e instanceof EmuhostError) return e.message;
  return e instanceof Error ? e.message : String(e);
}

const HELP = `usage: emuhost-system-x86_64 [QEMU options]
emuhost takes the options a qtest harness passes to qemu-system-x86_64:
  -qtest unix:PATH[,server=on,wait=off] | tcp:HOST:PORT[,server=on] | stdio
  -qtest-log FILE|/dev/null    -machine|-M pc|q35|none[,accel=qtest]    -accel qtest
  -m SIZE[M|G]    -device NAME[,prop=value...]    -nodefaults    -display none    -audio none
  -chardev socket,path=P,id=ID[,server=on]    -mon chardev=ID,mode=control    -S    -global ...
emuhost's own: --machine FILE (a JSON machine file), --plugin BUNDLE (an external plugin's manifest), --trace
  -version, --version: one line, the QEMU version emuhost speaks and its own`;
