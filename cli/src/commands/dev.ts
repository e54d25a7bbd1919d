/**
 * `emuhost dev [machine-file] --watch <plugin-dir>...`: hot reload. Each watched plugin is
 * built with an incremental esbuild context and loaded; the machine (the machine file's, or
 * q35 with the watched device plugins added) is built and keeps running; on every source
 * change the plugin is rebuilt, pre-flighted (manifest, SDK range, evaluation: the plugin
 * host's load) and every live instance of it is replaced (`reloadPlugin`), with one report
 * line per device. A watched IOMMU plugin's live instances are reloaded the same way
 * (`reloadIommu`: state carried over, bindings kept, live mappings translated again). A
 * failed build, pre-flight, `create` or state migration leaves the old code running and
 * prints the error at its file and line.
 *
 * `--qtest CHARDEV` serves a qtest session on the running machine (QEMU's chardevs: a client
 * socket, `server=on`, or stdio); the client stays connected across reloads. `--commands`
 * (or an interactive stdin) reads commands: `swap TARGET PLUGIN|ID|none [key=value...]`
 * swaps what translates TARGET under the running devices, as `emuhost.iommu.swap` does.
 */
import { relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import {
  asHostError,
  buildMachineSpec,
  createPluginBuilder,
  type Emulator,
  formatDiagnostics,
  formatReloadReport,
  type IommuReloadReport,
  type LoadedPlugin,
  type MachineSpec,
  type PluginBuilder,
  PluginHost,
  PluginLoadError,
  pluginFrames,
  type ReloadReport,
  readMachineFile,
  reloadPlugin,
  watchFaults,
} from '@emuhost/host';
import { EmuhostError } from '@emuhost/sdk';
import { emuhostExtensions } from '../qtest/extensions.js';
import { ArgvError, parseChardev } from '../qtest/qemu-argv.js';
import { serveQtest, swapPlugins } from '../qtest/serve.js';
import { exitGuardMachine } from '../signals.js';
import { watchTree } from './watch-tree.js';

export interface DevOptions {
  readonly machineFile?: string | undefined;
  readonly watch: readonly string[];
  readonly out: Writable;
  readonly err: Writable;
  /** Quiet time after the last change before a rebuild. Default 25 ms. */
  readonly debounceMs?: number;
  /**
   * Builds the machine once the watched plugins are loaded into `host` (what `emuhost qtest
   * --watch` passes: QEMU's command line). Default: the machine file, or q35 with the watched
   * device plugins.
   */
  readonly build?: (host: PluginHost) => Promise<Emulator>;
  /**
   * Called with true when a rebuild starts and false when its reload is done: a running
   * guest's loop can yield more often meanwhile (the build's steps wait on this thread).
   */
  readonly busy?: (on: boolean) => void;
}

/** One rebuild of one watched plugin. */
export interface DevCycle {
  readonly dir: string;
  /** The reports, or undefined when the build or the pre-flight failed. */
  readonly reports: readonly ReloadReport[] | undefined;
  /** The IOMMU instances reloaded (a watched IOMMU plugin). */
  readonly iommus?: readonly IommuReloadReport[];
  readonly error?: Error;
  readonly ms: { readonly build: number; readonly load: number; readonly total: number };
}

export interface DevSession {
  readonly host: PluginHost;
  readonly emu: Emulator;
  /** Rebuilds and reloads one watched plugin now (what a change triggers). */
  reload(dir: string): Promise<DevCycle>;
  /** Called after every cycle. */
  onCycle: ((c: DevCycle) => void) | undefined;
  /** Runs one command line (`swap ...`, `help`); returns what to print. */
  command(line: string): string;
  close(): Promise<void>;
}

interface Watched {
  readonly dir: string;
  readonly builder: PluginBuilder;
  plugin: LoadedPlugin;
  unwatch?: () => void;
  timer?: NodeJS.Timeout | undefined;
}

/** Starts a dev session: builds, loads, runs and watches. */
export async function startDev(o: DevOptions): Promise<DevSession> {
  if (o.watch.length === 0)
    throw new EmuhostError('E_BAD_ARGUMENT', 'emuhost dev needs at least one --watch <plugin-dir>');
  // Reloads of an isolated plugin then find a worker started (PluginHost's warmIsolated).
  const host = new PluginHost({ warmIsolated: true });
  const watched: Watched[] = [];
  const closeAll = async () => {
    host.close();
    for (const w of watched) {
      w.unwatch?.();
      clearTimeout(w.timer);
      await w.builder.dispose();
    }
  };
  try {
    for (const d of o.watch) {
      const dir = resolve(d);
      const builder = await createPluginBuilder(dir);
      watched.push({ dir, builder, plugin: undefined as never });
      const built = await builder.rebuild();
      watched.at(-1)!.plugin = host.loadFile(built.manifestPath);
    }
    const spec: MachineSpec | undefined =
      o.build !== undefined
        ? undefined
        : o.machineFile !== undefined
          ? readMachineFile(o.machineFile, { known: host.list().map((p) => p.manifest.id) })
          : {
              machine: 'q35',
              ram: 128 << 20,
              plugins: [],
              devices: watched
                .filter((w) => w.plugin.manifest.kind === 'device')
                .map((w) => ({ plugin: w.plugin.manifest.id })),
              iommus: [],
              base: process.cwd(),
            };
    const log = (level: string, src: string, msg: string) => {
      if (level !== 'debug') o.err.write(`${level} ${src}: ${msg}\n`);
    };
    // A machine built here reports its plugins' faults; one `build` made reports them itself.
    const emu =
      spec === undefined ? await o.build!(host) : await buildMachineSpec(spec, host, { log });
    if (spec !== undefined) watchFaults(emu, (text) => o.err.write(text));
    exitGuardMachine(emu);
    const extensions = emuhostExtensions(emu, { plugin: await swapPlugins(host) });

    let chain: Promise<unknown> = Promise.resolve();
    const session: DevSession = {
      host,
      emu,
      onCycle: undefined,
      reload(d: string) {
        const w = watched.find((x) => x.dir === resolve(d));
        if (w === undefined)
          return Promise.reject(
            new EmuhostError('E_UNKNOWN_ID', `${d} is not a watched plugin directory`),
          );
        // One cycle at a time, in the order the changes came.
        const next = chain.then(() => cycle(w));
        chain = next.catch(() => {});
        return next;
      },
      command(line: string): string {
        const [cmd, ...args] = line.trim().split(/\s+/);
        if (cmd === undefined || cmd === '') return '';
        if (cmd === 'swap') return extensions.get('iommu.swap')!(args);
        if (cmd === 'help') return DEV_COMMANDS;
        return `FAIL unknown command '${cmd}' (${DEV_COMMANDS})`;
      },
      close: closeAll,
    };

    const cycle = async (w: Watched): Promise<DevCycle> => {
      const t0 = performance.now();
      let t1 = t0;
      let result: DevCycle;
      o.busy?.(true);
      try {
        const built = await w.builder.rebuild();
        t1 = performance.now();
        const plugin = host.loadFile(built.manifestPath, { replace: true });
        const t2 = performance.now();
        const timing = () =>
          `build ${(t1 - t0).toFixed(1)} ms, load ${(t2 - t1).toFixed(1)} ms, ${(performance.now() - t0).toFixed(1)} ms in all`;
        if (plugin.manifest.kind === 'iommu') {
          const iommus = reloadIommus(emu, plugin, w, o.out, timing);
          result = {
            dir: w.dir,
            reports: [],
            iommus,
            ms: { build: t1 - t0, load: t2 - t1, total: performance.now() - t0 },
          };
        } else {
          const reports = reloadPlugin(emu, plugin, { hooks: host.hooks.reload });
          if (reports.some((r) => r.outcome === 'reloaded')) w.plugin = plugin;
          for (const r of reports) {
            o.out.write(`${formatReloadReport(r)}; ${timing()}\n`);
            if (r.error !== undefined)
              o.out.write(`${located(r.error, plugin)}\nthe old code keeps running\n`);
          }
          if (reports.length === 0)
            o.out.write(`${plugin.manifest.id} rebuilt: no device runs it\n`);
          const total = performance.now() - t0;
          result = { dir: w.dir, reports, ms: { build: t1 - t0, load: t2 - t1, total } };
        }
      } catch (e) {
        const error = asHostError(e);
        o.err.write(`${describe(error, w.plugin)}\nthe old code keeps running\n`);
        const now = performance.now();
        result = {
          dir: w.dir,
          reports: undefined,
          error,
          ms: { build: t1 - t0, load: now - t1, total: now - t0 },
        };
      }
      o.busy?.(false);
      session.onCycle?.(result);
      return result;
    };

    for (const w of watched) {
      w.unwatch = watchTree(w.dir, () => {
        // From the first change on: the debounce's timer waits on this thread too.
        if (w.timer === undefined) o.busy?.(true);
        clearTimeout(w.timer);
        w.timer = setTimeout(() => {
          w.timer = undefined;
          void session.reload(w.dir);
        }, o.debounceMs ?? 25);
      });
    }
    o.out.write(
      `emuhost dev: ${spec?.machine ?? 'the machine'} running with ${[...emu.devices.values()].map((d) => `${d.id} (${d.plugin.manifest.id} ${d.plugin.manifest.version})`).join(', ') || 'no devices'}; watching ${watched.map((w) => relative(process.cwd(), w.dir) || '.').join(', ')}\n`,
    );
    return session;
  } catch (e) {
    await closeAll();
    throw e;
  }
}

function describe(e: Error, plugin?: LoadedPlugin): string {
  if (e instanceof PluginLoadError) return formatDiagnostics(e.diagnostics);
  return `emuhost: ${located(e, plugin)}`;
}

/**
 * An error thrown by plugin code with where it was thrown in the plugin's sources (`create`'s
 * errors say it already; a `migrateState` that throws does not).
 */
function located(e: Error, plugin?: LoadedPlugin): string {
  const first = e.message.split('\n')[0]!;
  if (/\(at [^)]*:\d+:\d+\)\)?$/.test(first) || /\.[cm]?[jt]s:\d+/.test(first)) return first;
  const stack = typeof e.stack === 'string' ? e.stack : '';
  const top = pluginFrames(stack, plugin).find((f) => /\.[cm]?ts:\d+/.test(f));
  return top === undefined ? first : `${first} (${top})`;
}

/**
 * Reloads every live instance of a watched IOMMU plugin. A failure (its `create` or its state
 * migration threw) leaves that instance's old code in place and is reported at its source line.
 */
function reloadIommus(
  emu: Emulator,
  plugin: LoadedPlugin,
  w: Watched,
  out: Writable,
  timing: () => string,
): IommuReloadReport[] {
  const ids = [...emu.iommus].filter(([, r]) => r.plugin.manifest.id === plugin.manifest.id);
  const reports: IommuReloadReport[] = [];
  for (const [id, r] of ids) {
    const old = r.plugin;
    try {
      const rep = emu.reloadIommu(id, plugin);
      reports.push(rep);
      w.plugin = plugin;
      const warn = rep.warnings.length > 0 ? `; warning: ${rep.warnings.join('; ')}` : '';
      out.write(
        `reload ${id}: ${old.manifest.id} ${old.manifest.version} -> ${plugin.manifest.version}, ${rep.retranslated} mappings translated again, ${rep.revoked} revoked, ${(rep.micros / 1000).toFixed(1)} ms${warn}; ${timing()}\n`,
      );
    } catch (e) {
      const error = asHostError(e);
      out.write(
        `reload ${id}: ${old.manifest.id} ${old.manifest.version}: rolled back (${located(error, plugin)})\nthe old code keeps running\n`,
      );
    }
  }
  if (ids.length === 0) out.write(`${plugin.manifest.id} rebuilt: no IOMMU runs it\n`);
  return reports;
}

const DEV_COMMANDS =
  'commands: swap bus=NAME[,rid=FIRST-LAST]|device=ID PLUGIN|ID|none [key=value...]';

/**
 * The command: runs until SIGINT or SIGTERM, or until the qtest client goes away (as QEMU
 * does). With `--qtest stdio` the dev reports go to stderr, stdout being the qtest stream.
 */
export async function devCommand(
  machineFile: string | undefined,
  o: { watch: string[]; qtest?: string; commands?: boolean },
): Promise<void> {
  let chardev: ReturnType<typeof parseChardev> | undefined;
  try {
    chardev = o.qtest === undefined ? undefined : parseChardev(o.qtest, '--qtest');
  } catch (e) {
    if (e instanceof ArgvError) throw new EmuhostError('E_BAD_ARGUMENT', e.message);
    throw e;
  }
  const out = chardev?.kind === 'stdio' ? process.stderr : process.stdout;
  const session = await startDev({ machineFile, watch: o.watch, out, err: process.stderr });
  try {
    await new Promise<void>((done, fail) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        rl?.close();
        done();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      const rl =
        chardev?.kind !== 'stdio' && (o.commands === true || process.stdin.isTTY)
          ? createInterface({ input: process.stdin })
          : undefined;
      rl?.on('line', (line) => {
        const answer = session.command(line);
        if (answer !== '') out.write(`${answer}\n`);
      });
      if (chardev !== undefined)
        serveQtest(session.emu, chardev, process, { host: session.host }).then(
          (s) => s.done.then(stop),
          (e: unknown) => {
            fail(e);
            stop();
          },
        );
    });
  } finally {
    await session.close();
  }
}
