/**
 * The human monitor (QEMU's HMP, the `(qemu)` prompt): a line editor over any endpoint (the
 * terminal after C-a c, `-monitor stdio|unix:...|tcp:...`) and the commands a person running
 * a guest reaches for: `info` views (the machine's memory map, PCI and IOMMU from the qtest
 * views, and the CPUs' state through `CpuDebug`), `stop`/`cont`, `system_reset`, snapshots
 * (`savevm`/`loadvm`/`delvm`/`info snapshots`, and `snapshot_save`/`snapshot_load FILE`),
 * `system_powerdown`, `cpu N`, `quit`, `help`. Commands act between the run loop's slices,
 * since they run from input callbacks. Output lines end in CR LF, as QEMU's monitor writes
 * them for a terminal in raw mode.
 */
import {
  captureSnapshot,
  type Emulator,
  formatSnapshotList,
  type NetPort,
  type RunLoop,
  type RunState,
  readSnapshotFile,
  restoreSnapshot,
  SnapshotError,
  type SnapshotStore,
  writeSnapshotFile,
} from '@emuhost/host';
import { formatRegisters } from './registers.js';

export interface MonitorContext {
  readonly emu: Emulator;
  readonly loop: RunLoop;
  /** The machine views (`mtree`, `pci`, `iommu`), or undefined for a view that does not exist. */
  readonly view: (what: string) => string | undefined;
  /** What `info version` says. */
  readonly version: string;
  /** Tagged snapshots (`-snapshot-dir`); undefined: `savevm TAG` has nowhere to go. */
  readonly snapshots?: SnapshotStore;
}

/**
 * A snapshot command: runs between slices (as every command does) and answers QEMU's way,
 * nothing on success and `Error: ...` when refused (the machine is then as it was).
 */
function snapshotCommand(what: () => string | undefined): string | undefined {
  try {
    return what();
  } catch (e) {
    if (e instanceof SnapshotError) return `Error: ${e.message.replace(/^E_SNAPSHOT: /, '')}`;
    throw e;
  }
}

function store(m: Monitor): SnapshotStore {
  const s = m.ctx.snapshots;
  if (s === undefined)
    throw new SnapshotError('io', 'no snapshot directory: start emuhost with -snapshot-dir DIR');
  return s;
}

/** After a load: the run loop forgets the idle period it was pacing, and the guest goes on. */
function loaded(m: Monitor): undefined {
  m.ctx.loop.stateReplaced();
  return undefined;
}

interface Command {
  readonly names: readonly string[];
  readonly args: string;
  readonly help: string;
  readonly run: (m: Monitor, args: string[]) => string | undefined;
}

const COMMANDS: readonly Command[] = [
  {
    names: ['cont', 'c'],
    args: '',
    help: 'resume emulation',
    run: (m) => {
      m.ctx.loop.resume();
      return undefined;
    },
  },
  {
    names: ['cpu'],
    args: 'index',
    help: 'set the default CPU',
    run: (m, [index]) => {
      const n = Number(index);
      if (!Number.isInteger(n) || m.ctx.emu.cpus[n] === undefined) return 'invalid CPU index';
      m.cpu = n;
      return undefined;
    },
  },
  {
    names: ['delvm'],
    args: 'tag',
    help: 'delete a VM snapshot from the snapshot directory',
    run: (m, [tag]) =>
      tag === undefined
        ? 'delvm: a tag is required'
        : snapshotCommand(() => {
            store(m).delete(tag);
            return undefined;
          }),
  },
  {
    names: ['help', '?'],
    args: '[cmd]',
    help: 'show the help',
    run: (_m, [name]) =>
      COMMANDS.filter((c) => name === undefined || c.names.includes(name))
        .map((c) => `${[c.names.join('|'), c.args].filter((s) => s).join(' ')} -- ${c.help}`)
        .join('\n') || `unknown command: '${name}'`,
  },
  {
    names: ['info'],
    args: '[subcommand]',
    help: 'show various information about the system state',
    run: (m, args) => m.info(args),
  },
  {
    names: ['loadvm'],
    args: 'tag',
    help: 'restore a VM snapshot from its tag',
    run: (m, [tag]) =>
      tag === undefined
        ? 'loadvm: a tag is required'
        : snapshotCommand(() => {
            store(m).load(m.ctx.emu, tag);
            return loaded(m);
          }),
  },
  {
    names: ['quit', 'q'],
    args: '',
    help: 'quit the emulator',
    run: (m) => {
      m.ctx.loop.quit(0);
      return undefined;
    },
  },
  {
    names: ['savevm'],
    args: '[tag]',
    help: 'save a VM snapshot (in the snapshot directory; a dated tag if none is given)',
    run: (m, [tag]) =>
      snapshotCommand(() => {
        store(m).save(m.ctx.emu, tag);
        return undefined;
      }),
  },
  {
    names: ['snapshot_load'],
    args: 'file',
    help: 'restore a snapshot from a file (emuhost)',
    run: (m, [file]) =>
      file === undefined
        ? 'snapshot_load: a file is required'
        : snapshotCommand(() => {
            restoreSnapshot(m.ctx.emu, readSnapshotFile(file));
            return loaded(m);
          }),
  },
  {
    names: ['snapshot_save'],
    args: 'file',
    help: 'save a snapshot to a file (emuhost)',
    run: (m, [file]) =>
      file === undefined
        ? 'snapshot_save: a file is required'
        : snapshotCommand(() => {
            writeSnapshotFile(file, captureSnapshot(m.ctx.emu));
            return undefined;
          }),
  },
  {
    names: ['set_link'],
    args: 'name on|off',
    help: 'change the link status of a network adapter',
    run: (m, [name, state]) => {
      if (name === undefined || (state !== 'on' && state !== 'off'))
        return 'usage: set_link name on|off';
      const n = m.ctx.emu.backends
        .netdevList()
        .find((x) => x.id === name || (x.device !== undefined && x.device === name));
      const port = n?.backend as Partial<NetPort> | undefined;
      if (port?.setLink === undefined) return `Device '${name}' not found`;
      port.setLink(state === 'on');
      return undefined;
    },
  },
  {
    names: ['stop'],
    args: '',
    help: 'stop emulation',
    run: (m) => {
      m.ctx.loop.pause('user');
      return undefined;
    },
  },
  {
    names: ['system_powerdown'],
    args: '',
    help: 'send system power down event',
    run: (m) => {
      // No machine of the SDK has a power button for the guest to see yet: the host ends
      // the run as a guest poweroff would.
      m.ctx.emu.shutdownRequest ??= { kind: 'poweroff', exitCode: 0 };
      m.ctx.loop.between(() => {});
      return 'this machine has no power button: powering off';
    },
  },
  {
    names: ['system_reset'],
    args: '',
    help: 'reset the system',
    run: (m) => {
      m.ctx.loop.reset();
      return undefined;
    },
  },
];

const INFO: readonly { name: string; args: string; help: string }[] = [
  { name: 'cpus', args: '', help: 'show infos for each CPU' },
  { name: 'iommu', args: '', help: 'show the DMA requesters, their IOMMU bindings and IOTLBs' },
  { name: 'network', args: '', help: 'show the network state' },
  { name: 'mtree', args: '[-f]', help: 'show memory tree (-f: the flattened view)' },
  { name: 'pci', args: '', help: 'show PCI info' },
  { name: 'registers', args: '[-a]', help: 'show the cpu registers (-a: all CPUs)' },
  { name: 'snapshots', args: '', help: 'show the currently available VM snapshots' },
  { name: 'status', args: '', help: 'show the current VM status (running|paused)' },
  { name: 'version', args: '', help: 'show the version of emuhost' },
];

export class Monitor {
  /** The default CPU (`cpu N`). */
  cpu = 0;
  private line = '';
  private afterCr = false;
  /** Inside an escape sequence: 1 after ESC, 2 inside `ESC [` or `ESC O`. */
  private escape = 0;
  private csi = '';
  private readonly history: string[] = [];
  private historyAt = 0;
  private greeted = false;

  constructor(
    readonly ctx: MonitorContext,
    private readonly out: (text: string) => void,
  ) {}

  /** The monitor got the terminal: the banner the first time, then the prompt. */
  greet(): void {
    if (!this.greeted)
      this.print(`QEMU ${this.ctx.version} monitor - type 'help' for more information\n`);
    this.greeted = true;
    this.line = '';
    this.out('(qemu) ');
  }

  /** Bytes typed at the monitor. */
  input(bytes: Uint8Array): void {
    for (const b of bytes) this.key(b);
  }

  /** Runs one command line; returns what it prints (without the prompt). */
  execute(line: string): string {
    const words = line
      .trim()
      .split(/\s+/)
      .filter((w) => w !== '');
    if (words.length === 0) return '';
    const cmd = COMMANDS.find((c) => c.names.includes(words[0]!));
    if (cmd === undefined) return `unknown command: '${words[0]}'`;
    return cmd.run(this, words.slice(1)) ?? '';
  }

  /** `info ...` */
  info(args: string[]): string {
    const [what, ...rest] = args;
    const emu = this.ctx.emu;
    switch (what) {
      case undefined:
        return INFO.map(
          (i) => `info ${[i.name, i.args].filter((s) => s).join(' ')} -- ${i.help}`,
        ).join('\n');
      case 'status':
        return `VM status: ${statusText(this.ctx.loop.state)}`;
      case 'version':
        return this.ctx.version;
      case 'snapshots':
        return snapshotCommand(() => formatSnapshotList(store(this).list())) ?? '';
      case 'cpus':
        return emu.cpus
          .map((c, i) => {
            const debug = c.model.debug;
            const pc =
              debug === undefined ? '' : ` pc=0x${debug.pc.toString(16).padStart(16, '0')}`;
            return `${i === this.cpu ? '*' : ' '} CPU #${i}:${pc}${c.model.waiting ? ' (halted)' : ''} thread_id=${process.pid}`;
          })
          .join('\n');
      case 'network':
        return networkInfo(emu);
      case 'registers': {
        const all = rest.includes('-a');
        const list = all ? emu.cpus : emu.cpus.slice(this.cpu, this.cpu + 1);
        if (list.length === 0) return 'No CPU available';
        return list
          .map((c) =>
            c.model.debug === undefined
              ? `CPU#${c.index}: registers not available (the CPU model has no debug access)`
              : formatRegisters(
                  c.model.debug,
                  `CPU#${c.index}${c.model.waiting ? ' (halted)' : ''}`,
                ),
          )
          .join('\n');
      }
      default: {
        const v = this.ctx.view(args.join(' '));
        return v ?? `unknown info subcommand: '${what}' (info lists them)`;
      }
    }
  }

  private key(b: number): void {
    if (this.escape > 0) {
      this.escapeKey(b);
      return;
    }
    if (b === 0x0a && this.afterCr) {
      this.afterCr = false;
      return;
    }
    this.afterCr = b === 0x0d;
    if (b === 0x0d || b === 0x0a) {
      const line = this.line;
      this.line = '';
      this.out('\r\n');
      if (line.trim() !== '' && this.history.at(-1) !== line) this.history.push(line);
      this.historyAt = this.history.length;
      const text = this.execute(line);
      if (text !== '') this.print(`${text}\n`);
      if (this.ctx.loop.state.status !== 'ended') this.out('(qemu) ');
    } else if (b === 0x7f || b === 0x08) {
      if (this.line.length > 0) {
        this.line = this.line.slice(0, -1);
        this.out('\b \b');
      }
    } else if (b === 0x15) this.replaceLine('');
    else if (b === 0x03) {
      this.line = '';
      this.out('\r\n(qemu) ');
    } else if (b === 0x1b) this.escape = 1;
    else if (b >= 0x20 && b < 0x7f) {
      this.line += String.fromCharCode(b);
      this.out(String.fromCharCode(b));
    }
  }

  /** Arrow keys walk the history; other escape sequences are swallowed. */
  private escapeKey(b: number): void {
    if (this.escape === 1) {
      this.escape = b === 0x5b || b === 0x4f ? 2 : 0;
      this.csi = '';
      return;
    }
    if (b < 0x40 || b > 0x7e) {
      this.csi += String.fromCharCode(b);
      return;
    }
    this.escape = 0;
    if (b === 0x41 && this.historyAt > 0) this.replaceLine(this.history[--this.historyAt]!);
    else if (b === 0x42 && this.historyAt < this.history.length)
      this.replaceLine(this.history[++this.historyAt] ?? '');
  }

  private replaceLine(text: string): void {
    this.out(`${'\b \b'.repeat(this.line.length)}${text}`);
    this.line = text;
  }

  private print(text: string): void {
    this.out(text.replace(/\r?\n/g, '\r\n'));
  }
}

function statusText(s: RunState): string {
  if (s.status === 'running') return 'running';
  if (s.status === 'ended') return 'shutdown';
  return s.reason === 'user' ? 'paused' : `paused (${s.reason})`;
}

/**
 * QEMU's `info network`: each NIC (device id, model, MAC, link) with its netdev below it; a
 * netdev no NIC uses on a line of its own.
 */
function networkInfo(emu: Emulator): string {
  const lines: string[] = [];
  const entries = emu.backends.netdevList();
  for (const [i, n] of entries.entries()) {
    const port = n.backend as Partial<NetPort>;
    const link = n.backend.linkUp === false ? ',link=down' : '';
    const stats =
      port.stats === undefined
        ? ''
        : `,tx=${port.stats.tx},rx=${port.stats.rx},dropped=${port.stats.dropped}`;
    const backend = `${n.id}: index=${i},${port.describe?.() ?? 'type=netdev'}${stats}${link}`;
    if (n.device === undefined) {
      lines.push(backend);
      continue;
    }
    const model = emu.devices.get(n.device)?.plugin.manifest.id ?? 'nic';
    const mac = port.nic?.mac?.();
    lines.push(
      `${n.device}: index=${i},type=nic,model=${model}${mac ? `,macaddr=${mac}` : ''}${link}`,
      ` \\ ${backend}`,
    );
  }
  return lines.length === 0 ? 'no network devices' : lines.join('\n');
}
