/**
 * `emuhost-system-<arch>`: QEMU's system-emulator command line in, a running machine out.
 * It loads the machine plugin (any machine whose CPU declaration is of this architecture),
 * its CPU model, the boot files and `-device`s, opens the consoles, and runs the machine
 * with the run loop until the guest powers off (exit code: the guest's), the user quits
 * (C-a x, `quit`, a signal: 0), or something is wrong (1, one line naming what and why).
 */
import {
  accessSync,
  constants,
  createWriteStream,
  openSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import {
  buildMachineSpec,
  bundledPlugins,
  type CpuTraceOptions,
  type Emulator,
  HostClock,
  type LoadedPlugin,
  type LoadOptions,
  loadBundled,
  PluginHost,
  RunLoop,
  readSnapshotFile,
  restoreSnapshot,
  SnapshotStore,
  watchFaults,
} from '@emuhost/host';

import { EmuhostError, type MachineFirmware, type OptionValue } from '@emuhost/sdk';
import { startDev } from '../commands/dev.js';
import { infoView } from '../qtest/info.js';
import { backendArgs, deviceSpecs } from '../qtest/launch.js';
import { ArgvError } from '../qtest/qemu-argv.js';
import { exitGuardMachine } from '../signals.js';
import { VERSION } from '../version.js';
import { parseSystemArgs, type SystemArgs, TRACE_ITEMS } from './argv.js';
import { OutputQueue } from './chardev/output-queue.js';
import { type Consoles, openConsoles } from './consoles.js';
import { message, reason } from './errno.js';
import { listenGdb } from './gdb/server.js';
import { helpText, listPlugins } from './listing.js';
import { Monitor } from './monitor.js';
import { filterDumps, type OpenNetwork, openNetwork } from './netdevs.js';
import { ReportLines } from './report-lines.js';

export interface SystemIo {
  readonly stdin: Readable;
  readonly stdout: Writable;
  readonly stderr: Writable;
}

export interface SystemTarget {
  /** The CPU architecture a machine must run (`riscv64`). */
  readonly arch: string;
  /** The program's name, for messages (`emuhost-system-riscv64`). */
  readonly name: string;
}

/** Host ms of CPU time between two turns of the event loop (the run loop's default). */
const SLICE_MS = 10;

/** The QEMU version whose command line and monitor this follows. */
const QEMU_VERSION = '10.0.13';

export async function runSystem(
  argv: readonly string[],
  io: SystemIo,
  target: SystemTarget,
): Promise<number> {
  const say = (text: string) => io.stderr.write(`${target.name}: ${text}\n`);
  let args: SystemArgs;
  try {
    args = parseSystemArgs(argv);
  } catch (e) {
    if (!(e instanceof ArgvError)) throw e;
    say(e.message);
    return 1;
  }
  if (args.version) {
    io.stdout.write(`${target.name} (emuhost ${VERSION}), QEMU ${QEMU_VERSION}'s command line\n`);
    return 0;
  }
  if (args.help) {
    io.stdout.write(helpText(target.name));
    return 0;
  }
  if (args.listHelp === 'trace') {
    io.stdout.write(`Log items (comma separated):\n${TRACE_ITEMS.join('\n')}\n`);
    return 0;
  }
  for (const item of args.untraced) say(`warning: -d ${item}: not traced by emuhost`);

  let consoles: Consoles | undefined;
  let trace: OutputQueue | undefined;
  let loop: RunLoop | undefined;
  let network: OpenNetwork | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    say(`terminating on signal ${signal}`);
    // Before the machine runs (waiting for a socket's client, building plugins) there is
    // nothing to wind down: the process ends now (its exit hook restores the terminal).
    if (loop === undefined) process.exit(0);
    loop.quit(0);
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, onSignal);
  const closers: (() => void | Promise<void>)[] = [];
  try {
    if (args.listHelp !== undefined) {
      const host = new PluginHost();
      for (const p of args.plugins) loadPluginFile(host, p.path, p.level);
      io.stdout.write(await listPlugins(host, args.listHelp, target.arch));
      return 0;
    }
    const clock = new HostClock();
    // Under --watch, the console's lines and the reload reports share the terminal by lines.
    const lines = args.watch.length > 0 ? new ReportLines(io.stdout, io.stderr) : undefined;
    let machine: LoadedPlugin | undefined;
    const build = async (host: PluginHost): Promise<Emulator> => {
      // What the host holds before the machine's own plugins: the watched ones.
      const watched = new Set(host.list().map((p) => p.manifest.id));
      for (const p of args.plugins) loadPluginFile(host, p.path, p.level);
      machine = await machinePlugin(host, args, target);
      const cpu = await cpuPlugin(host, args.cpu.model ?? machine.definition.cpu!.default, target);
      const firmware = readBootFiles(args);
      checkDrives(args);
      trace =
        args.trace.items.size > 0 || args.trace.file !== undefined
          ? traceQueue(args, io)
          : undefined;
      consoles = await openConsoles(args, {
        stdin: io.stdin,
        stdout: lines?.console ?? io.stdout,
        notice: (t) => say(`info: ${t}`),
        quit: () => loop?.quit(0),
        wake: () => loop?.wake(),
      });
      // Sockets connected or listening before the machine exists, as QEMU opens its netdevs.
      network = await openNetwork(args.netdevs, filterDumps(args.objects), (t) =>
        say(`warning: ${t}`),
      );
      return buildEmulator(host, machine, cpu, args, firmware, consoles, clock, trace, io, {
        name: target.name,
        network,
        loopRef: () => loop,
        // A watched plugin's own info lines (a device saying what a reload carried) show too.
        verbose: (source) => args.watch.length > 0 && watched.has(source.split(':')[0]!),
      });
    };
    // --watch DIR: the watched plugins are built and loaded first (so -device and the
    // machine find them), then every save of their sources reloads their live instances.
    const dev =
      lines === undefined
        ? undefined
        : await startDev({
            watch: args.watch,
            out: lines.reports,
            err: lines.reports,
            build,
            // A rebuild's steps wait for the CPU slice to end: short slices meanwhile.
            busy: (on) => {
              if (loop !== undefined) loop.sliceMs = on ? 1 : SLICE_MS;
            },
          });
    if (dev !== undefined) closers.push(() => dev.close());
    const emu = dev?.emu ?? (await build(new PluginHost()));
    // Every plugin fault on stderr with its source-mapped stack; the exit guard names the
    // machine's plugin code if a signal finds the main thread stuck in it.
    watchFaults(emu, (text) => io.stderr.write(text));
    exitGuardMachine(emu);
    emu.ready();
    if (args.machine.dumpdtb !== undefined) return dumpDtb(emu, args.machine.dumpdtb, machine!);
    const snapshots =
      args.snapshotDir === undefined ? undefined : new SnapshotStore(args.snapshotDir);
    if (args.loadvm !== undefined) {
      // A tag of the snapshot directory when there is one by that name, else a file.
      const v = args.loadvm;
      if (snapshots?.has(v)) snapshots.load(emu, v);
      else restoreSnapshot(emu, readSnapshotFile(v));
    }
    loop = new RunLoop(emu, {
      clock,
      sliceMs: SLICE_MS,
      sleep: args.icount.mode === 'deterministic' && args.icount.sleep,
      noReboot: args.noReboot,
      noShutdown: args.noShutdown,
      paused: args.paused,
    });
    const ctx = {
      emu,
      loop,
      view: (what: string) => infoView(emu, what),
      version: `${QEMU_VERSION} (emuhost ${VERSION})`,
      ...(snapshots !== undefined && { snapshots }),
    };
    for (const ep of consoles!.monitors) {
      const m = new Monitor(ctx, (t) => ep.write(Buffer.from(t)));
      ep.onOpen = () => m.greet();
      ep.onData = (b) => m.input(b);
      if (ep.connected) m.greet();
    }
    if (args.gdb !== undefined) {
      const rcmd = new Monitor(ctx, () => {});
      const gdb = await listenGdb(args.gdb, emu, loop, (line) => rcmd.execute(line));
      closers.push(() => gdb.close());
    }
    consoles!.start();
    // A halted CPU's message was logged as an error already (the plugin's log, to stderr).
    const exit = await loop.run();
    return exit.exitCode;
  } catch (e) {
    say(nameBootFiles(message(e), args));
    return 1;
  } finally {
    for (const s of signals) process.off(s, onSignal);
    for (const c of closers) await c();
    await consoles?.close();
    await trace?.flush();
    network?.close();
  }
}

/**
 * The machine sees images, not files: where its message speaks of "the -kernel image" (or ELF
 * file, -bios, -initrd), the user is told which file that was.
 */
function nameBootFiles(text: string, args: SystemArgs): string {
  const files = { bios: args.bios, kernel: args.kernel, initrd: args.initrd };
  return text.replace(
    /the -(bios|kernel|initrd) (image|ELF file)/g,
    (all, opt: keyof typeof files, kind: string) =>
      files[opt] === undefined ? all : `the -${opt} ${kind} '${files[opt]}'`,
  );
}

/** `--plugin`: a machine or CPU plugin can only run trusted, so it is loaded so. */
function loadPluginFile(host: PluginHost, path: string, level: string | undefined): LoadedPlugin {
  if (level !== undefined && !['trusted', 'confined', 'isolated'].includes(level))
    throw new EmuhostError(
      'E_BAD_ARGUMENT',
      `--plugin ${path}: level must be trusted, confined or isolated`,
    );
  let kind: unknown;
  try {
    kind = (JSON.parse(readFileSync(path, 'utf8')) as { kind?: unknown }).kind;
  } catch {
    // The host reports a bad manifest itself.
  }
  const lvl = (level ?? (kind === 'machine' || kind === 'cpu' ? 'trusted' : undefined)) as
    | LoadOptions['level']
    | undefined;
  return host.loadFile(path, lvl === undefined ? {} : { level: lvl });
}

async function find(host: PluginHost, id: string): Promise<LoadedPlugin | undefined> {
  return host.get(id) ?? (bundledPlugins().has(id) ? await loadBundled(host, id) : undefined);
}

async function machinePlugin(
  host: PluginHost,
  args: SystemArgs,
  target: SystemTarget,
): Promise<LoadedPlugin> {
  const type = args.machine.type;
  if (type === undefined)
    throw new EmuhostError(
      'E_BAD_ARGUMENT',
      'No machine specified, and there is no default (use -machine help to list supported machines)',
    );
  const m = await find(host, type);
  if (m === undefined || m.manifest.kind !== 'machine')
    throw new EmuhostError(
      'E_UNKNOWN_ID',
      `unsupported machine type '${type}' (use -machine help)`,
    );
  const cpu = m.definition.cpu;
  if (cpu === undefined || cpu.arch !== target.arch)
    throw new EmuhostError(
      'E_BAD_ARGUMENT',
      `machine '${type}' ${cpu === undefined ? 'has no CPUs' : `runs ${cpu.arch} CPUs`}: ${target.name} runs ${target.arch} machines (use -machine help)`,
    );
  return m;
}

async function cpuPlugin(
  host: PluginHost,
  id: string,
  target: SystemTarget,
): Promise<LoadedPlugin> {
  const c = await find(host, id);
  if (c === undefined || c.manifest.kind !== 'cpu' || c.definition.arch !== target.arch)
    throw new EmuhostError(
      'E_UNKNOWN_ID',
      `unable to find CPU model '${id}' (use -cpu help to list ${target.arch} models)`,
    );
  return c;
}

/** `-bios`, `-kernel`, `-initrd`, `-dtb`, `-append`: read now, so a bad file is named now. */
function readBootFiles(args: SystemArgs): Partial<MachineFirmware> {
  const read = (what: string, path: string | undefined): Uint8Array | undefined => {
    if (path === undefined) return undefined;
    let image: Uint8Array;
    try {
      image = new Uint8Array(readFileSync(path));
    } catch (e) {
      throw new EmuhostError('E_BAD_ARGUMENT', `could not load ${what} '${path}': ${reason(e)}`);
    }
    if (image.length === 0)
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `could not load ${what} '${path}': the file is empty`,
      );
    return image;
  };
  const bios = read('firmware', args.bios === 'none' ? undefined : args.bios);
  const kernel = read('kernel', args.kernel);
  const initrd = read('initrd', args.initrd);
  const dtb = read('device tree', args.dtb);
  return {
    ...(bios !== undefined && { bios }),
    ...(kernel !== undefined && { kernel }),
    ...(initrd !== undefined && { initrd }),
    ...(dtb !== undefined && { dtb }),
    ...(args.append !== undefined && { cmdline: args.append }),
  };
}

/** `-drive file=...`: QEMU opens every drive's file at startup; so a bad path is named now. */
function checkDrives(args: SystemArgs): void {
  const ids = new Set(args.drives.map((d) => d.id).filter((id) => id !== undefined));
  for (const d of args.drives) {
    if ((d.if ?? 'none') !== 'none')
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `-drive if=${d.if}: only if=none drives are supported (name one with -device ...,drive=ID)`,
      );
    if (d.file === undefined || d.file.startsWith('null-co://')) continue;
    const readonly = d.readonly === 'on' || d.readonly === 'true';
    try {
      accessSync(d.file, readonly ? constants.R_OK : constants.R_OK | constants.W_OK);
    } catch (e) {
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `-drive file=${d.file}: Could not open '${d.file}': ${reason(e)}`,
      );
    }
  }
  const netdevs = new Set(args.netdevs.map((n) => n.id));
  for (const dev of args.devices) {
    const netdev = dev.props.netdev;
    if (netdev !== undefined && !netdevs.has(netdev))
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `-device ${dev.driver},netdev=${netdev}: Property '${dev.driver}.netdev' can't find value '${netdev}'`,
      );
    const drive = dev.props.drive;
    if (drive !== undefined && !ids.has(drive))
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `-device ${dev.driver},drive=${drive}: Property '${dev.driver}.drive' can't find value '${drive}'`,
      );
  }
}

/** `-d`/`-D`: CPU trace lines to the file, or to stderr. */
function traceQueue(args: SystemArgs, io: SystemIo): OutputQueue {
  const file = args.trace.file;
  if (file === undefined) return new OutputQueue(io.stderr);
  let fd: number;
  try {
    fd = openSync(file, 'w');
  } catch (e) {
    throw new EmuhostError('E_BAD_ARGUMENT', `-D ${file}: cannot open: ${reason(e)}`);
  }
  return new OutputQueue(createWriteStream('', { fd }), 256 << 20);
}

async function buildEmulator(
  host: PluginHost,
  machine: LoadedPlugin,
  cpu: LoadedPlugin,
  args: SystemArgs,
  firmware: Partial<MachineFirmware>,
  consoles: Consoles,
  clock: HostClock,
  trace: OutputQueue | undefined,
  io: SystemIo,
  o: {
    name: string;
    verbose: (source: string) => boolean;
    network: OpenNetwork;
    loopRef: () => RunLoop | undefined;
  },
): Promise<Emulator> {
  const more = await deviceSpecs(args.devices, host);
  const traceOpts: CpuTraceOptions | undefined =
    trace === undefined || args.trace.items.size === 0
      ? undefined
      : {
          kinds: args.trace.items,
          sink: (id, _kind, text) =>
            trace.write(Buffer.from(args.smp > 1 ? `${id}: ${text}\n` : `${text}\n`)),
        };
  return buildMachineSpec(
    {
      machine: machine.manifest.id,
      ram: args.ramSize,
      machineOptions: args.machine.props as Record<string, OptionValue>,
      plugins: [],
      devices: more.devices,
      iommus: more.iommus,
      base: process.cwd(),
      // -drive if=none, -object rng-*, -seed: the backends devices name, as for qtest.
      ...backendArgs({ ...args, machineFile: undefined }),
    },
    host,
    {
      // Plugin warnings and errors, as QEMU prints its own; debug and info stay quiet.
      log: (level, source, text) => {
        if (level === 'warn' || level === 'error' || (level === 'info' && o.verbose(source)))
          io.stderr.write(`${o.name}: ${source}: ${text}\n`);
      },
      machine,
      emulator: {
        firmware,
        cpu: { plugin: cpu, options: args.cpu.props },
        smp: args.smp,
        serial: (i) => consoles.serial[i],
        backends: {
          chardevs: consoles.chardevs,
          netdevs: new Map([...o.network.netdevs].map(([id, n]) => [id, n.port])),
          // Frames from other processes are real-time input, as the console's.
          wake: () => o.loopRef()?.wake(),
          inputTime: () => o.loopRef()?.inputTime(),
        },
        scheduler:
          args.icount.mode === 'realtime'
            ? { mode: 'realtime', hostNow: () => clock.now() }
            : { mode: 'deterministic', nsPerInstruction: 2 ** args.icount.shift },
        ...(traceOpts !== undefined && { trace: traceOpts }),
      },
    },
  );
}

/** `-machine dumpdtb=FILE`: QEMU writes the device tree and exits. */
function dumpDtb(emu: Emulator, file: string, machine: LoadedPlugin): number {
  const dtb = emu.model.deviceTree?.();
  if (dtb === undefined)
    throw new EmuhostError(
      'E_BAD_ARGUMENT',
      `dumpdtb=${file}: machine '${machine.manifest.id}' has no device tree`,
    );
  try {
    writeFileSync(file, dtb);
  } catch (e) {
    throw new EmuhostError('E_BAD_ARGUMENT', `dumpdtb=${file}: cannot write: ${reason(e)}`);
  }
  return 0;
}
