/**
 * QEMU's system-emulator command line (`qemu-system-riscv64 -M virt -m 512M -kernel ...`), as
 * `emuhost-system-riscv64` takes it. Options take one dash or two, values are QEMU's
 * `key=value,...` lists (a doubled comma is a comma), and anything wrong is an `ArgvError`
 * worded as QEMU words it, naming the option: never a stack trace. Files are only named
 * here; the launcher reads them.
 */

import type { NetdevSpec } from '@emuhost/host';
import { ArgvError, type DeviceArg, parseKeyValues, parseSize } from '../qtest/qemu-argv.js';
import {
  type CharSpec,
  checkAccel,
  type GdbSocket,
  type Icount,
  parseChardevOption,
  parseCharSpec,
  parseGdb,
  parseIcount,
  parseSmp,
} from './argv-values.js';
import { netdevSpec } from './netdevs.js';

export type { CharSpec, GdbSocket, Icount } from './argv-values.js';

/** `-d` items emuhost traces (`CpuTraceKind`). */
export const TRACE_ITEMS = ['in_asm', 'int', 'exec'] as const;
export type TraceItem = (typeof TRACE_ITEMS)[number];
/** `-d` items QEMU has that emuhost does not trace: accepted with a warning. */
const QEMU_ONLY_TRACE_ITEMS = new Set([
  'out_asm',
  'op',
  'op_opt',
  'op_ind',
  'op_plugin',
  'cpu',
  'fpu',
  'mmu',
  'pcall',
  'cpu_reset',
  'unimp',
  'guest_errors',
  'page',
  'nochain',
  'plugin',
  'strace',
  'tid',
  'vpu',
  'invalid_mem',
]);

export interface SystemArgs {
  readonly machine: {
    readonly type: string | undefined;
    /** The machine plugin's options (`-machine virt,aclint=on`). */
    readonly props: Readonly<Record<string, string>>;
    /** `dumpdtb=FILE`: write the device tree and exit. */
    readonly dumpdtb: string | undefined;
  };
  /** Bytes (`-m`); QEMU's default is 128 MiB. */
  readonly ramSize: number;
  readonly smp: number;
  readonly cpu: { readonly model: string | undefined; readonly props: Record<string, string> };
  /** `-bios FILE`; `none` for no firmware. */
  readonly bios: string | undefined;
  readonly kernel: string | undefined;
  readonly initrd: string | undefined;
  readonly append: string | undefined;
  readonly dtb: string | undefined;
  readonly nographic: boolean;
  readonly nodefaults: boolean;
  /** `-serial`, in port order. */
  readonly serial: readonly CharSpec[];
  /** `-monitor`. */
  readonly monitors: readonly CharSpec[];
  /** `-chardev ...,id=ID`: the backends devices name (`-device virtconsole,chardev=ID`). */
  readonly chardevs: ReadonlyMap<string, CharSpec>;
  readonly drives: readonly Readonly<Record<string, string>>[];
  /** `-object rng-random,id=...` and the like (the backends devices name). */
  readonly objects: readonly Readonly<Record<string, string>>[];
  /** `-seed N`: the built-in entropy sources' seed. */
  readonly seed: number | undefined;
  readonly devices: readonly DeviceArg[];
  /** `-netdev KIND,id=...`: the network backends NICs name (`netdevs.ts`). */
  readonly netdevs: readonly NetdevSpec[];
  /** `-gdb` (`-s` is `tcp::1234`): where the GDB stub listens. */
  readonly gdb: GdbSocket | undefined;
  /** `-S`: start paused. */
  readonly paused: boolean;
  readonly trace: { readonly items: ReadonlySet<TraceItem>; readonly file: string | undefined };
  /** `-d` items accepted but not traced. */
  readonly untraced: readonly string[];
  readonly icount: Icount;
  readonly noReboot: boolean;
  readonly noShutdown: boolean;
  /** `-snapshot-dir DIR`: where `savevm TAG` keeps tagged snapshots. */
  readonly snapshotDir: string | undefined;
  /** `-loadvm TAG|FILE`: start from a snapshot (a tag in the snapshot directory, or a file). */
  readonly loadvm: string | undefined;
  /** `--plugin MANIFEST[,level=...]`: external plugin bundles. */
  readonly plugins: readonly { readonly path: string; readonly level: string | undefined }[];
  /** `--watch DIR`: plugin source directories built, run and hot-reloaded on every change. */
  readonly watch: readonly string[];
  readonly version: boolean;
  readonly help: boolean;
  /** `-machine help`, `-cpu help`, `-device help`, `-d help`. */
  readonly listHelp: 'machine' | 'cpu' | 'device' | 'trace' | undefined;
}

const WITH_VALUE = new Set([
  'machine',
  'M',
  'm',
  'smp',
  'cpu',
  'bios',
  'kernel',
  'initrd',
  'append',
  'dtb',
  'serial',
  'monitor',
  'chardev',
  'drive',
  'object',
  'seed',
  'device',
  'netdev',
  'gdb',
  'd',
  'D',
  'icount',
  'accel',
  'display',
  'audio',
  'nic',
  'vga',
  'name',
  'L',
  'plugin',
  'watch',
  'snapshot-dir',
  'loadvm',
]);
const FLAGS = new Set([
  'nographic',
  'nodefaults',
  'no-reboot',
  'no-shutdown',
  's',
  'S',
  'version',
  'help',
  'h',
  'enable-kvm',
]);

/** The one value accepted for options that pick a host display, sound or network. */
const ONLY_NONE: Readonly<Record<string, string>> = {
  display: 'emuhost has no display (use -nographic, or -display none)',
  audio: 'emuhost has no audio backends (use -audio none)',
  nic: 'emuhost has no -nic shorthand (use -netdev hub|stream,id=ID with -device virtio-net-pci,netdev=ID, or -nic none)',
  vga: 'emuhost has no display (use -vga none)',
};

export function parseSystemArgs(argv: readonly string[]): SystemArgs {
  let machine: SystemArgs['machine'] = { type: undefined, props: {}, dumpdtb: undefined };
  let ramSize = 128 << 20;
  let smp = 1;
  let cpu: SystemArgs['cpu'] = { model: undefined, props: {} };
  const files: Record<'bios' | 'kernel' | 'initrd' | 'append' | 'dtb', string | undefined> = {
    bios: undefined,
    kernel: undefined,
    initrd: undefined,
    append: undefined,
    dtb: undefined,
  };
  const flags = new Set<string>();
  const serial: CharSpec[] = [];
  const monitors: CharSpec[] = [];
  const chardevs = new Map<string, CharSpec>();
  const drives: Record<string, string>[] = [];
  const objects: Record<string, string>[] = [];
  let seed: number | undefined;
  const devices: DeviceArg[] = [];
  const netdevs: NetdevSpec[] = [];
  let gdb: GdbSocket | undefined;
  const items = new Set<TraceItem>();
  const untraced: string[] = [];
  let traceFile: string | undefined;
  let icount: Icount = { mode: 'deterministic', shift: 0, sleep: true };
  const plugins: { path: string; level: string | undefined }[] = [];
  const watch: string[] = [];
  let listHelp: SystemArgs['listHelp'];
  let snapshotDir: string | undefined;
  let loadvm: string | undefined;

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-') || arg === '-')
      throw new ArgvError(`${arg}: unexpected argument (disk images go in -drive file=...)`);
    let name = arg.replace(/^--?/, '');
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (arg.startsWith('--') && eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    if (!WITH_VALUE.has(name) && !FLAGS.has(name)) throw new ArgvError(`${arg}: invalid option`);
    if (WITH_VALUE.has(name) && value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new ArgvError(`${arg}: requires an argument`);
    }
    const v = value!;
    switch (name) {
      case 'machine':
      case 'M': {
        if (v === 'help' || v === '?') {
          listHelp = 'machine';
          break;
        }
        const { type, dumpdtb, accel, ...rest } = parseKeyValues(v, 'type');
        // QEMU's machine properties for the boot files are the same as their options.
        const props: Record<string, string> = {};
        for (const [k, val] of Object.entries(rest)) {
          if (k === 'kernel' || k === 'initrd' || k === 'append' || k === 'dtb') files[k] = val;
          else if (k === 'firmware') files.bios = val;
          else props[k] = val;
        }
        if (accel !== undefined) checkAccel(accel, arg);
        machine = {
          type: type ?? machine.type,
          props: { ...machine.props, ...props },
          dumpdtb: dumpdtb ?? machine.dumpdtb,
        };
        break;
      }
      case 'm': {
        const kv = parseKeyValues(v, 'size');
        ramSize = parseSize(kv.size ?? '128', 1 << 20);
        if (ramSize <= 0) throw new ArgvError(`${arg}: RAM size must be positive`);
        break;
      }
      case 'smp':
        smp = parseSmp(v, arg);
        break;
      case 'cpu': {
        if (v === 'help' || v === '?') {
          listHelp = 'cpu';
          break;
        }
        const { model, ...props } = parseKeyValues(v, 'model');
        if (!model) throw new ArgvError(`${arg}: missing CPU model name`);
        cpu = { model, props };
        break;
      }
      case 'bios':
      case 'kernel':
      case 'initrd':
      case 'append':
      case 'dtb':
        files[name] = v;
        break;
      case 'serial':
        serial.push(parseCharSpec(v, arg));
        break;
      case 'monitor':
        monitors.push(parseCharSpec(v, arg));
        break;
      case 'chardev': {
        const c = parseChardevOption(v, arg);
        if (chardevs.has(c.id))
          throw new ArgvError(`${arg} ${v}: attempt to add duplicate property '${c.id}'`);
        chardevs.set(c.id, c.spec);
        break;
      }
      case 'drive': {
        const kv = parseKeyValues(v, 'file');
        if (kv.file === undefined && kv.if !== 'none')
          throw new ArgvError(`${arg} ${v}: a drive needs file=`);
        drives.push(kv);
        break;
      }
      case 'object':
        objects.push(parseKeyValues(v, 'qom-type'));
        break;
      case 'seed': {
        if (!/^-?\d+$/.test(v)) throw new ArgvError(`${arg}: '${v}' is not an integer`);
        seed = Number(v);
        break;
      }
      case 'device': {
        if (v === 'help' || v === '?') {
          listHelp = 'device';
          break;
        }
        const { driver, ...props } = parseKeyValues(v, 'driver');
        if (!driver) throw new ArgvError(`${arg}: missing driver name`);
        devices.push({ driver, props });
        break;
      }
      case 'netdev':
        netdevs.push(netdevSpec(parseKeyValues(v, 'type')));
        break;
      case 'gdb':
        gdb = v === 'none' ? undefined : parseGdb(v, arg);
        break;
      case 's':
        gdb = parseGdb('tcp::1234', arg);
        break;
      case 'd':
        for (const item of v.split(',')) {
          if (item === 'help' || item === '?') listHelp = 'trace';
          else if ((TRACE_ITEMS as readonly string[]).includes(item)) items.add(item as TraceItem);
          else if (QEMU_ONLY_TRACE_ITEMS.has(item) || item.startsWith('trace:'))
            untraced.push(item);
          else
            throw new ArgvError(
              `${arg} ${item}: unknown log item (emuhost traces ${TRACE_ITEMS.join(', ')}; -d help lists them)`,
            );
        }
        break;
      case 'D':
        traceFile = v;
        break;
      case 'icount':
        icount = parseIcount(v, arg);
        break;
      case 'accel':
        checkAccel(parseKeyValues(v, 'accel').accel ?? '', arg);
        break;
      case 'display':
      case 'audio':
      case 'nic':
      case 'vga': {
        const first = parseKeyValues(v, 'type');
        const what = first.type ?? first.driver;
        if (what !== 'none') throw new ArgvError(`${arg} ${v}: ${ONLY_NONE[name]}`);
        break;
      }
      case 'name':
      case 'L':
        break;
      case 'plugin': {
        const kv = parseKeyValues(v, 'path');
        if (!kv.path) throw new ArgvError(`${arg}: missing the manifest's path`);
        plugins.push({ path: kv.path, level: kv.level });
        break;
      }
      case 'watch':
        watch.push(v);
        break;
      case 'snapshot-dir':
        snapshotDir = v;
        break;
      case 'loadvm':
        loadvm = v;
        break;
      case 'enable-kvm':
        throw new ArgvError(`${arg}: there is no KVM under emuhost (it always emulates)`);
      default:
        flags.add(name === 'h' ? 'help' : name);
    }
  }
  return {
    machine,
    ramSize,
    smp,
    cpu,
    ...files,
    nographic: flags.has('nographic'),
    nodefaults: flags.has('nodefaults'),
    serial,
    monitors,
    chardevs,
    drives,
    objects,
    seed,
    devices,
    netdevs,
    gdb,
    paused: flags.has('S'),
    trace: { items, file: traceFile },
    untraced,
    icount,
    noReboot: flags.has('no-reboot'),
    noShutdown: flags.has('no-shutdown'),
    snapshotDir,
    loadvm,
    plugins,
    watch,
    version: flags.has('version'),
    help: flags.has('help'),
    listHelp,
  };
}
