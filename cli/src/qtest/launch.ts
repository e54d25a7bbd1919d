/**
 * `emuhost qtest` and the `emuhost-system-x86_64` drop-in: QEMU's command line in, a qtest
 * target out. It builds the machine from plugins (the machine, each `-device`), connects
 * the qtest stream and the QMP monitor the way QEMU does (client sockets unless
 * `server=on`), and serves them until the client goes away or a signal ends it.
 */
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import {
  aliasOf,
  buildMachineSpec,
  bundledPlugins,
  type DeviceSpec,
  didYouMean,
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
  parseNumber,
  readMachineFile,
  watchFaults,
} from '@emuhost/host';
import { definePlugin, EmuhostError, type OptionValue } from '@emuhost/sdk';
import { type DevSession, startDev } from '../commands/dev.js';
import { exitGuardMachine } from '../signals.js';
import { traceMachine } from '../trace.js';
import { VERSION } from '../version.js';
import { machineCommand } from './commands.js';
import {
  DEVICE_ALIASES,
  deviceHelp,
  deviceOptionsHelp,
  knownManifests,
  machineHelp,
} from './help.js';
import { infoView } from './info.js';
import { ArgvError, type DeviceArg, parseQemuArgs, type QemuArgs } from './qemu-argv.js';
import { serveQmp } from './qmp.js';
import { open, qtestLog, type Stdio, serveQtest } from './serve.js';
import { foldSerialPorts } from './virtio-serial-ports.js';

export type { Stdio } from './serve.js';

/** -device properties the host handles itself; the rest are the plugin's options. */
const PLACEMENT_PROPS = new Set(['id', 'bus', 'addr']);
/** The QEMU version reported in QMP and -version: the protocol emuhost follows. */
const QEMU_VERSION = { major: 7, minor: 2, micro: 0 };

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
  let host = new PluginHost();
  try {
    const listed = await helpRequested(args, host);
    if (listed !== undefined) {
      stdio.stdout.write(listed);
      return 0;
    }
  } catch (e) {
    stdio.stderr.write(`emuhost: ${describe(e)}\n`);
    return 1;
  }
  let emu: Emulator;
  // `--watch DIR`: the watched plugins are built and loaded first, so `-device` and the
  // machine file find them, and every source change reloads their live instances.
  let dev: DevSession | undefined;
  try {
    if (args.watch.length > 0) {
      dev = await startDev({
        watch: args.watch,
        out: stdio.stderr,
        err: stdio.stderr,
        build: (h) => buildTarget(args, stdio.stderr, h),
      });
      emu = dev.emu;
      host = dev.host;
    } else emu = await buildTarget(args, stdio.stderr, host);
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
        types: () => typeList(host),
        info: (what) => infoView(emu, what),
        command: (name, a) => machineCommand(emu, host, name, a),
      });
    }
    if (args.qtest !== undefined) {
      const served = await serveQtest(emu, args.qtest, stdio, { log, host });
      void served.done.then(() => quit(0));
    }
    return await ended;
  } catch (e) {
    stdio.stderr.write(`emuhost: ${describe(e)}\n`);
    return 1;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    await dev?.close();
    // The drives' and entropy sources' files.
    emu.close();
  }
}

/**
 * `-machine help`, `-device help` (or `?`) and `-device NAME,help`: what to print instead of
 * running, with the `--plugin` plugins loaded first so that they are listed too.
 */
async function helpRequested(args: QemuArgs, host: PluginHost): Promise<string | undefined> {
  const isHelp = (s: string | undefined) => s === 'help' || s === '?';
  const devices = args.devices.some((d) => isHelp(d.driver));
  const options = args.devices.find((d) => d.props.help !== undefined);
  if (!isHelp(args.machine.type) && !devices && options === undefined) return undefined;
  for (const p of args.plugins) host.loadFile(p);
  if (isHelp(args.machine.type)) return machineHelp(host);
  if (devices) return deviceHelp(host);
  const id =
    DEVICE_ALIASES[options!.driver] ?? aliasOf(host, options!.driver)?.plugin ?? options!.driver;
  if (host.get(id) === undefined && !bundledPlugins().has(id)) throw unknownDevice(options!, host);
  return deviceOptionsHelp(host, id);
}

/** An unknown `-device` driver: QEMU's words, the nearest name, and how to load a plugin. */
function unknownDevice(dev: DeviceArg, host: PluginHost): EmuhostError {
  const names = [
    ...knownManifests(host)
      .filter((m) => m.kind !== 'machine')
      .map((m) => m.id),
    ...Object.keys(DEVICE_ALIASES),
  ];
  return new EmuhostError(
    'E_UNKNOWN_ID',
    `-device ${deviceText(dev)}: '${dev.driver}' is not a valid device model name${didYouMean(dev.driver, names)}. ` +
      `Known: ${names.sort().join(', ')} (-device help lists them); a plugin of your own: ` +
      '`emuhost build DIR`, then --plugin DIR/dist/emuhost.plugin.json',
  );
}

/** The `-device` argument as given (driver and properties), to name it in messages. */
function deviceText(dev: DeviceArg): string {
  return [dev.driver, ...Object.entries(dev.props).map(([k, v]) => `${k}=${v}`)].join(',');
}

/**
 * QEMU's command line and emuhost's machine files build machines the same way: both become a
 * `MachineSpec` for `buildMachineSpec`. `--machine FILE` gives the base, and each `-device`
 * adds to it (an IOMMU plugin goes to the IOMMUs, bound to the machine's IOMMU slot).
 */
async function buildTarget(args: QemuArgs, stderr: Writable, host: PluginHost): Promise<Emulator> {
  for (const p of args.plugins) host.loadFile(p);
  let base: MachineSpec;
  if (args.machineFile !== undefined) {
    if (args.machine.type !== undefined)
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `-machine ${args.machine.type} and --machine ${args.machineFile} both name the machine: use one`,
      );
    base = readMachineFile(args.machineFile, { known: host.list().map((p) => p.manifest.id) });
  } else {
    const type = args.machine.type ?? 'pc';
    if (type !== 'none' && host.get(type) === undefined && !bundledPlugins().has(type)) {
      const machines = knownManifests(host)
        .filter((m) => m.kind === 'machine')
        .map((m) => m.id);
      throw new EmuhostError(
        'E_UNKNOWN_ID',
        `unsupported machine type '${type}'${didYouMean(type, [...machines, 'none'])} (use -machine help)`,
      );
    }
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
  const more = await deviceSpecs(args.devices, host);
  const devices: DeviceSpec[] = [...base.devices, ...more.devices];
  const iommus: IommuSpec[] = [...base.iommus, ...more.iommus];
  const firmware = firmwareArgs(args);
  const backends = backendArgs(args);
  const emu = await buildMachineSpec({ ...base, ...firmware, ...backends, devices, iommus }, host, {
    log: stderrLog(stderr),
    ...(base.machine === 'none' && { machine: noneMachine() }),
  });
  // Every plugin fault on stderr, with its source-mapped stack; --trace adds its event line.
  watchFaults(emu, (text) => stderr.write(text));
  exitGuardMachine(emu);
  if (args.trace) traceMachine(emu.machine, (line) => stderr.write(`${line}\n`));
  return emu;
}

/**
 * QEMU's `-device NAME,prop=...` as machine-spec entries: the plugin of that id (or QEMU's
 * name for it) is loaded, `id`/`bus`/`addr` place it, the rest are its options; an IOMMU
 * plugin becomes an IOMMU bound to the machine's IOMMU slot.
 */
export async function deviceSpecs(
  args: readonly DeviceArg[],
  host: PluginHost,
): Promise<{ devices: DeviceSpec[]; iommus: IommuSpec[] }> {
  const devices: DeviceSpec[] = [];
  const iommus: IommuSpec[] = [];
  for (const dev of foldSerialPorts(args)) {
    // QEMU's name for another transport of a plugin (virtio-blk-device) is a manifest alias.
    const alias =
      DEVICE_ALIASES[dev.driver] === undefined && host.get(dev.driver) === undefined
        ? aliasOf(host, dev.driver)
        : undefined;
    const id = alias?.plugin ?? DEVICE_ALIASES[dev.driver] ?? dev.driver;
    const plugin =
      host.get(id) ?? (bundledPlugins().has(id) ? await loadBundled(host, id) : undefined);
    if (plugin === undefined) throw unknownDevice(dev, host);
    const label = `-device ${deviceText(dev)}`;
    const options: Record<string, string> = {};
    for (const [k, v] of Object.entries(dev.props)) if (!PLACEMENT_PROPS.has(k)) options[k] = v;
    const named = dev.props.id !== undefined ? { id: dev.props.id } : {};
    if (plugin.manifest.kind === 'iommu') iommus.push({ plugin: id, label, ...named, options });
    else
      devices.push({
        plugin: id,
        label,
        ...named,
        ...(dev.props.bus !== undefined && { bus: dev.props.bus }),
        ...(dev.props.addr !== undefined && { addr: dev.props.addr }),
        // A device with no PCI identity (QEMU's ISA and sysbus devices) goes on the platform bus.
        ...(((plugin.definition.pci === undefined && plugin.definition.platform === true) ||
          alias?.bus === 'platform') && { platform: true }),
        options,
      });
  }
  return { devices, iommus };
}

/**
 * `-bios FILE` and `-drive if=pflash,format=raw,file=FILE` (in order; `unit=N` places one):
 * paths relative to the working directory, read by `buildMachineSpec`. They replace what a
 * machine file names. Other drives are not emuhost's business yet and are ignored.
 */
function firmwareArgs(args: QemuArgs): { bios?: string; pflash?: string[] } {
  // As given when the spec's base is the working directory, so errors name the file as QEMU does.
  const path = (p: string) => (args.machineFile === undefined ? p : resolve(p));
  const pflash: string[] = [];
  for (const d of args.drives) {
    if (d.if !== 'pflash') continue;
    if (d.file === undefined || d.file === '')
      throw new EmuhostError('E_BAD_ARGUMENT', '-drive if=pflash: missing file=');
    if (d.format !== undefined && d.format !== 'raw')
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `-drive if=pflash,format=${d.format}: only format=raw flash images are supported`,
      );
    const unit = d.unit === undefined ? pflash.length : Number(d.unit);
    if (!Number.isInteger(unit) || unit < 0 || unit > 1 || pflash[unit] !== undefined)
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `-drive if=pflash,unit=${d.unit}: unit 0 or 1, once`,
      );
    pflash[unit] = path(d.file);
  }
  if (pflash.length > 0 && pflash[0] === undefined)
    throw new EmuhostError('E_BAD_ARGUMENT', '-drive if=pflash: unit 1 without unit 0');
  return {
    ...(args.bios !== undefined && { bios: path(args.bios) }),
    ...(pflash.length > 0 && { pflash }),
  };
}

/**
 * `-drive if=none,id=ID,file=FILE[,format=raw][,readonly=on][,discard=ignore|unmap]` (QEMU's
 * `null-co://` too), `-object rng-random,id=ID[,filename=F]` / `rng-builtin,id=ID`, `-seed N`:
 * the drives and entropy sources devices name (`drive=`, `rng=`). Options that change nothing
 * here (`auto-read-only`, `cache`, `aio`, `media=disk`, `file.read-zeroes`) are accepted.
 */
export function backendArgs(
  args: Pick<QemuArgs, 'drives' | 'objects' | 'seed' | 'machineFile'>,
): Pick<MachineSpec, 'drives' | 'rngs' | 'seed'> {
  const path = (p: string) => (args.machineFile === undefined ? p : resolve(p));
  const drives: NonNullable<MachineSpec['drives']>[number][] = [];
  for (const d of args.drives) {
    if (d.if !== 'none') continue;
    if (!d.id) throw new EmuhostError('E_BAD_ARGUMENT', '-drive if=none: missing id=');
    if (d.file === undefined || d.file === '')
      throw new EmuhostError('E_BAD_ARGUMENT', `-drive id=${d.id}: missing file=`);
    if (d.format !== undefined && d.format !== 'raw')
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `-drive id=${d.id},format=${d.format}: only format=raw images are supported`,
      );
    if (d.snapshot === 'on')
      throw new EmuhostError('E_BAD_ARGUMENT', `-drive id=${d.id}: snapshot=on is not supported`);
    if (d.discard !== undefined && d.discard !== 'ignore' && d.discard !== 'unmap')
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `-drive id=${d.id}: discard=${d.discard} (ignore or unmap)`,
      );
    const size = d['file.size'] === undefined ? undefined : parseNumber(d['file.size']);
    drives.push({
      id: d.id,
      file: d.file.startsWith('null-co://') ? d.file : path(d.file),
      ...(['on', 'true', 'yes'].includes(d.readonly ?? '') && { readOnly: true }),
      ...(d.discard !== undefined && { discard: d.discard as 'ignore' | 'unmap' }),
      ...(size !== undefined && { size }),
    });
  }
  const rngs: NonNullable<MachineSpec['rngs']>[number][] = [];
  for (const o of args.objects) {
    const kind = o['qom-type'];
    if (kind !== 'rng-random' && kind !== 'rng-builtin') continue;
    if (!o.id) throw new EmuhostError('E_BAD_ARGUMENT', `-object ${kind}: missing id=`);
    rngs.push({ id: o.id, kind, ...(o.filename !== undefined && { filename: o.filename }) });
  }
  return {
    ...(drives.length > 0 && { drives }),
    ...(rngs.length > 0 && { rngs }),
    ...(args.seed !== undefined && { seed: args.seed }),
  };
}

/** Plugin warnings and errors to stderr, as QEMU prints its own; debug and info stay quiet. */
export function stderrLog(stderr: Writable): LogSink {
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

function typeList(host: PluginHost): string[] {
  // A plugin's manifest aliases are QEMU device names too (virtio-blk-device).
  const aliases = knownManifests(host).flatMap((m) => Object.keys(m.aliases ?? {}));
  return [...bundledPlugins().keys(), ...aliases, ...Object.keys(DEVICE_ALIASES)].sort();
}

/** A host-side error as one line (a plugin load failure as its diagnostics). */
export function describe(e: unknown): string {
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
  -bios FILE    -drive if=pflash,format=raw,file=FILE[,unit=N]
emuhost's own: --machine FILE (a JSON machine file), --plugin MANIFEST (an external plugin's manifest), --trace,
  --watch DIR (build a plugin's sources, run them, reload its live devices on every change)
  -version, --version: one line, the QEMU version emuhost speaks and its own
  -machine help, -device help, -device NAME,help: the machines, devices and a device's options`;
