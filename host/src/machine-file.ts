/**
 * Machine files: a machine as JSON. The machine plugin, plugins by id (bundled) or by path
 * (external bundles, with the sandbox level each runs at), devices with their options and bus
 * addresses, IOMMUs and what they translate, and the RAM size. Every problem is reported
 * with the field it is in (`devices[1].bus`), before anything is built.
 *
 *   {
 *     "machine": "q35",
 *     "ram": "256M",
 *     "plugins": [{ "path": "../gpu/dist/emuhost.plugin.json", "level": "isolated" }],
 *     "devices": [{ "plugin": "edu", "id": "edu0", "addr": "03.0", "options": { "dma_mask": "0xffffffff" } }],
 *     "iommus": [{ "plugin": "vtd", "id": "vtd0", "bind": [{ "bus": "pcie.0" }] }],
 *     "bios": "firmware/bios.bin",
 *     "pflash": ["firmware/code.fd"],
 *     "drives": [{ "id": "d0", "file": "disk.img", "format": "raw", "readonly": false }],
 *     "rngs": [{ "id": "rng0", "kind": "rng-random", "filename": "/dev/urandom" }],
 *     "seed": 42
 *   }
 *
 * Every problem of a file is reported in one run: a syntax error at its line and column, each
 * other problem at its field's line and column with the field's path, an unknown field or
 * plugin id with the nearest known one ("did you mean").
 *
 * `"bios"` and `"pflash"` (paths relative to the file, as QEMU's `-bios` and
 * `-drive if=pflash`) are read by the host when the machine is built, and handed to the
 * machine plugin as `ctx.firmware`.
 * `"drives"` are QEMU's `-drive if=none,id=...` (a device names one with its `drive` option;
 * `discard` is `ignore` or `unmap`), `"rngs"` its `-object rng-builtin|rng-random,id=...`
 * (a virtio-rng's `rng` option), `"seed"` its `-seed` (the built-in entropy sources' seed in
 * deterministic mode). A device's `plugin` may be an alias a plugin declares
 * (`virtio-blk-device`: the `virtio-blk-pci` plugin on the platform bus).
 *
 * The QEMU command line (`-machine q35 -device edu`) is turned into the same spec, so both
 * build the same kind of machine through `buildMachineSpec`.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { IommuBindingTarget } from '@emuhost/core';
import type { SandboxLevel } from '@emuhost/sandbox';
import { EmuhostError, type OptionValue } from '@emuhost/sdk';
import type { RngSpec } from './backends/entropy.js';
import type { DriveSpec } from './backends/file-block.js';
import { bundledAlias, bundledPlugins } from './bundled.js';
import { parseJsonSource, type TextPosition } from './json-source.js';
import { parseNumber } from './options.js';
import { didYouMean } from './suggest.js';

export interface PluginRef {
  /** A bundled plugin by id... */
  readonly id?: string;
  /** ...or an external bundle by its built manifest's path (relative to the machine file). */
  readonly path?: string;
  /** Default: trusted for bundled plugins, isolated for external ones (see `defaultLevel`). */
  readonly level?: SandboxLevel;
}

export interface DeviceSpec {
  readonly plugin: string;
  /** How messages name it; default `devices[i]` (the command line says `-device edu,...`). */
  readonly label?: string;
  readonly id?: string;
  /** PCI bus name; default the machine's. */
  readonly bus?: string;
  /** PCI `SLOT[.FN]` in hex, as QEMU's `addr=`. */
  readonly addr?: string;
  readonly platform?: boolean;
  readonly options?: Readonly<Record<string, OptionValue>>;
}

export interface IommuSpec {
  readonly plugin: string;
  /** How messages name it; default `iommus[i]`. */
  readonly label?: string;
  readonly id?: string;
  readonly options?: Readonly<Record<string, OptionValue>>;
  /** What it translates; default the machine's IOMMU slot bus. */
  readonly bind?: readonly IommuBindingTarget[];
}

export interface MachineSpec {
  readonly machine: string;
  /** Bytes. */
  readonly ram: number;
  readonly machineOptions?: Readonly<Record<string, OptionValue>>;
  readonly plugins: readonly PluginRef[];
  readonly devices: readonly DeviceSpec[];
  readonly iommus: readonly IommuSpec[];
  /** The BIOS image's path (`-bios`), relative to `base`. */
  readonly bios?: string;
  /** Flash images' paths (`-drive if=pflash`), unit 0 first, relative to `base`. */
  readonly pflash?: readonly string[];
  /** `-drive if=none` drives; files relative to `base`. */
  readonly drives?: readonly DriveSpec[];
  /** `-object rng-*` entropy sources. */
  readonly rngs?: readonly RngSpec[];
  /** `-seed`: the built-in entropy sources' seed. */
  readonly seed?: number;
  /** Directory relative paths are resolved against. */
  readonly base: string;
}

export interface ValidateOptions {
  /** Where a field's value is in the file, for problems' line and column. */
  readonly locate?: (path: string, part?: 'value' | 'key') => TextPosition | undefined;
  /**
   * Plugin ids known besides the bundled ones and the file's own `plugins` (e.g. the
   * command line's `--plugin`); with it, an id nobody knows is a problem of the file.
   */
  readonly known?: Iterable<string>;
}

/**
 * Reads and validates a machine file. Throws E_MACHINE_FILE listing every problem: syntax
 * errors, or else every field's, plugin ids included when `opts.known` is given.
 */
export function readMachineFile(
  file: string,
  opts: { known?: Iterable<string> } = {},
): MachineSpec {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new EmuhostError(
      'E_MACHINE_FILE',
      `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
    );
  }
  const source = parseJsonSource(text);
  if (source.errors.length > 0) {
    const lines = source.errors.map((e) => `  ${file}:${e.line}:${e.column}: ${e.text}`);
    throw new EmuhostError('E_MACHINE_FILE', `${file} is not valid JSON:\n${lines.join('\n')}`);
  }
  return validateMachineSpec(source.value, file, {
    locate: source.locate,
    ...(opts.known !== undefined && { known: opts.known }),
  });
}

export function validateMachineSpec(
  raw: unknown,
  file: string,
  opts: ValidateOptions = {},
): MachineSpec {
  const problems: string[] = [];
  const at = (path: string, msg: string, part?: 'key') => {
    const p = opts.locate?.(path, part);
    problems.push(`${p === undefined ? '' : `${file}:${p.line}:${p.column}: `}${path}: ${msg}`);
  };
  /** Fields of an object nobody reads: the nearest known field, or the list. */
  const unknownFields = (o: Record<string, unknown>, path: string, fields: readonly string[]) => {
    for (const k of Object.keys(o))
      if (!fields.includes(k))
        at(
          `${path}${k}`,
          `unknown field${didYouMean(k, fields) || ` (fields: ${fields.filter((f) => f !== '$schema').join(', ')})`}`,
          'key',
        );
  };
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new EmuhostError('E_MACHINE_FILE', `${file}: a machine file is a JSON object`);
  }
  const r = raw as Record<string, unknown>;
  const known = new Set([
    'machine',
    'ram',
    'machineOptions',
    'plugins',
    'devices',
    'iommus',
    'bios',
    'pflash',
    'drives',
    'rngs',
    'seed',
    '$schema',
    'description',
  ]);
  unknownFields(r, '', [...known]);
  if (typeof r.machine !== 'string' || r.machine === '')
    at('machine', 'the machine plugin id is required (e.g. "pc" or "q35")');
  let ram = 128 << 20;
  if (r.ram !== undefined) {
    const n =
      typeof r.ram === 'number'
        ? r.ram
        : typeof r.ram === 'string'
          ? parseNumber(r.ram)
          : undefined;
    if (n === undefined || !Number.isSafeInteger(n) || n <= 0)
      at('ram', `a size in bytes or with K/M/G, not ${JSON.stringify(r.ram)}`);
    else ram = n;
  }
  const list = <T>(key: string, check: (v: Record<string, unknown>, path: string) => T): T[] => {
    const v = r[key];
    if (v === undefined) return [];
    if (!Array.isArray(v)) {
      at(key, 'must be an array');
      return [];
    }
    return v.map((item, i) => {
      const path = `${key}[${i}]`;
      if (item === null || typeof item !== 'object' || Array.isArray(item)) {
        at(path, 'must be an object');
        return undefined as T;
      }
      return check(item as Record<string, unknown>, path);
    });
  };
  const levels = ['trusted', 'confined', 'isolated'];
  const options = (v: unknown, path: string) => {
    if (v === undefined) return undefined;
    if (v === null || typeof v !== 'object' || Array.isArray(v))
      at(path, 'must be an object of option values');
    else
      for (const [k, x] of Object.entries(v))
        if (!['string', 'number', 'boolean'].includes(typeof x))
          at(`${path}.${k}`, 'must be a string, number or boolean');
    return v as Record<string, OptionValue>;
  };
  const str = (v: unknown, path: string, required = false): string | undefined => {
    if (v === undefined) {
      if (required) at(path, 'is required');
      return undefined;
    }
    if (typeof v !== 'string' || v === '') at(path, 'must be a non-empty string');
    return v as string;
  };
  const plugins = list('plugins', (p, path): PluginRef => {
    unknownFields(p, `${path}.`, ['id', 'path', 'level']);
    if ((p.id === undefined) === (p.path === undefined))
      at(path, 'give exactly one of "id" (bundled) or "path" (an external bundle)');
    if (p.level !== undefined && !levels.includes(p.level as string))
      at(`${path}.level`, `must be one of ${levels.join(', ')}`);
    return {
      ...(p.id !== undefined && { id: str(p.id, `${path}.id`)! }),
      ...(p.path !== undefined && { path: str(p.path, `${path}.path`)! }),
      ...(p.level !== undefined && { level: p.level as SandboxLevel }),
    };
  });
  const devices = list('devices', (d, path): DeviceSpec => {
    unknownFields(d, `${path}.`, ['plugin', 'id', 'bus', 'addr', 'platform', 'options']);
    const plugin = str(d.plugin, `${path}.plugin`, true)!;
    if (
      d.addr !== undefined &&
      (typeof d.addr !== 'string' || !/^(?:0x)?[0-9a-fA-F]{1,2}(?:\.[0-7])?$/.test(d.addr))
    )
      at(`${path}.addr`, 'must be "SLOT[.FUNCTION]" in hex, e.g. "03.0"');
    return {
      plugin,
      ...(d.id !== undefined && { id: str(d.id, `${path}.id`)! }),
      ...(d.bus !== undefined && { bus: str(d.bus, `${path}.bus`)! }),
      ...(d.addr !== undefined && { addr: d.addr as string }),
      ...(d.platform !== undefined && { platform: d.platform === true }),
      ...(d.options !== undefined && { options: options(d.options, `${path}.options`)! }),
    };
  });
  const iommus = list('iommus', (m, path): IommuSpec => {
    unknownFields(m, `${path}.`, ['plugin', 'id', 'options', 'bind']);
    const plugin = str(m.plugin, `${path}.plugin`, true)!;
    let bind: IommuBindingTarget[] | undefined;
    if (m.bind !== undefined) {
      if (!Array.isArray(m.bind))
        at(`${path}.bind`, 'must be an array of { "bus" } or { "device" } targets');
      else
        bind = m.bind.map((b: Record<string, unknown>, j: number) => {
          const bp = `${path}.bind[${j}]`;
          if (typeof b?.device === 'string') return { device: b.device };
          if (typeof b?.bus !== 'string') {
            at(bp, 'needs "bus" (optionally with "requesterIds": [first, last]) or "device"');
            return { bus: '' };
          }
          const ids = b.requesterIds;
          if (
            ids !== undefined &&
            !(Array.isArray(ids) && ids.length === 2 && ids.every((x) => Number.isInteger(x)))
          )
            at(`${bp}.requesterIds`, 'must be [first, last]');
          return {
            bus: b.bus,
            ...(ids !== undefined && { requesterIds: ids as [number, number] }),
          };
        });
    }
    return {
      plugin,
      ...(m.id !== undefined && { id: str(m.id, `${path}.id`)! }),
      ...(m.options !== undefined && { options: options(m.options, `${path}.options`)! }),
      ...(bind !== undefined && { bind }),
    };
  });
  const machineOptions = options(r.machineOptions, 'machineOptions');
  const bios = str(r.bios, 'bios');
  let pflash: string[] | undefined;
  if (r.pflash !== undefined) {
    if (!Array.isArray(r.pflash)) at('pflash', 'must be an array of file paths, unit 0 first');
    else pflash = r.pflash.map((p: unknown, i: number) => str(p, `pflash[${i}]`, true)!);
  }
  const drives = list('drives', (d, path): DriveSpec => {
    const id = str(d.id, `${path}.id`, true)!;
    const f = str(d.file, `${path}.file`, true)!;
    if (d.format !== undefined && d.format !== 'raw')
      at(`${path}.format`, 'only "raw" is supported');
    if (d.readonly !== undefined && typeof d.readonly !== 'boolean')
      at(`${path}.readonly`, 'must be true or false');
    if (d.discard !== undefined && d.discard !== 'ignore' && d.discard !== 'unmap')
      at(`${path}.discard`, 'must be "ignore" or "unmap"');
    return {
      id,
      file: f,
      ...(d.readonly === true && { readOnly: true }),
      ...(d.discard !== undefined && { discard: d.discard as 'ignore' | 'unmap' }),
    };
  });
  const rngs = list('rngs', (g, path): RngSpec => {
    const id = str(g.id, `${path}.id`, true)!;
    if (g.kind !== 'rng-random' && g.kind !== 'rng-builtin')
      at(`${path}.kind`, 'must be "rng-random" or "rng-builtin"');
    const filename = str(g.filename, `${path}.filename`);
    return { id, kind: g.kind as RngSpec['kind'], ...(filename !== undefined && { filename }) };
  });
  if (r.seed !== undefined && !Number.isSafeInteger(r.seed)) at('seed', 'must be an integer');
  if (opts.known !== undefined) {
    const ids = new Set([...bundledPlugins().keys(), ...opts.known]);
    for (const p of plugins)
      if (p?.path !== undefined) ids.add(manifestId(resolve(dirname(resolve(file)), p.path)) ?? '');
    const check = (id: unknown, path: string) => {
      if (typeof id === 'string' && id !== '' && !ids.has(id))
        at(path, `no plugin '${id}' is loaded or ships with emuhost${didYouMean(id, ids)}`);
    };
    check(r.machine, 'machine');
    for (const [i, d] of devices.entries())
      if (d?.plugin === undefined || bundledAlias(d.plugin) === undefined)
        check(d?.plugin, `devices[${i}].plugin`);
    for (const [i, m] of iommus.entries()) check(m?.plugin, `iommus[${i}].plugin`);
  }
  if (problems.length > 0)
    throw new EmuhostError(
      'E_MACHINE_FILE',
      `${file}: ${problems.length === 1 ? 'a problem' : `${problems.length} problems`}:\n  ${problems.join('\n  ')}`,
    );
  return {
    machine: r.machine as string,
    ram,
    ...(machineOptions !== undefined && { machineOptions }),
    plugins,
    devices,
    iommus,
    ...(bios !== undefined && { bios }),
    ...(pflash !== undefined && { pflash }),
    ...(drives.length > 0 && { drives }),
    ...(rngs.length > 0 && { rngs }),
    ...(r.seed !== undefined && { seed: r.seed as number }),
    base: dirname(resolve(file)),
  };
}

/** A manifest's id, or undefined when it cannot be read (loading it later says why). */
function manifestId(file: string): string | undefined {
  try {
    const id = (JSON.parse(readFileSync(file, 'utf8')) as { id?: unknown }).id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}
