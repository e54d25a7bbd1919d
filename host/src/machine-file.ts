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
 *     "pflash": ["firmware/code.fd"]
 *   }
 *
 * `"bios"` and `"pflash"` (paths relative to the file, as QEMU's `-bios` and
 * `-drive if=pflash`) are read by the host when the machine is built, and handed to the
 * machine plugin as `ctx.firmware`.
 *
 * The QEMU command line (`-machine q35 -device edu`) is turned into the same spec, so both
 * build the same kind of machine through `buildMachineSpec`.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { IommuBindingTarget } from '@emuhost/core';
import type { SandboxLevel } from '@emuhost/sandbox';
import { EmuhostError, type MachineFirmware, type OptionValue } from '@emuhost/sdk';
import { addBuiltinIommu } from './builtin-iommu.js';
import { bundledPlugins, loadBundled } from './bundled.js';
import { Emulator } from './emulator.js';
import type { LoadedPlugin } from './loaded-plugin.js';
import type { LogSink } from './log.js';
import { parseNumber } from './options.js';
import type { PluginHost } from './plugin-host.js';

export interface PluginRef {
  /** A bundled plugin by id... */
  readonly id?: string;
  /** ...or an external bundle by its built manifest's path (relative to the machine file). */
  readonly path?: string;
  /** Default: trusted for bundled plugins, confined for external ones. */
  readonly level?: SandboxLevel;
}

export interface DeviceSpec {
  readonly plugin: string;
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
  /** Directory relative paths are resolved against. */
  readonly base: string;
}

/** Reads and validates a machine file. Throws E_MACHINE_FILE listing every problem. */
export function readMachineFile(file: string): MachineSpec {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new EmuhostError(
      'E_MACHINE_FILE',
      `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new EmuhostError('E_MACHINE_FILE', `${file} is not valid JSON: ${(e as Error).message}`);
  }
  return validateMachineSpec(raw, file);
}

export function validateMachineSpec(raw: unknown, file: string): MachineSpec {
  const problems: string[] = [];
  const at = (path: string, msg: string) => problems.push(`${path}: ${msg}`);
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
    '$schema',
    'description',
  ]);
  for (const k of Object.keys(r))
    if (!known.has(k))
      at(k, `unknown field (fields: ${[...known].filter((x) => x !== '$schema').join(', ')})`);
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
  if (problems.length > 0)
    throw new EmuhostError('E_MACHINE_FILE', `${file}:\n  ${problems.join('\n  ')}`);
  return {
    machine: r.machine as string,
    ram,
    ...(machineOptions !== undefined && { machineOptions }),
    plugins,
    devices,
    iommus,
    ...(bios !== undefined && { bios }),
    ...(pflash !== undefined && { pflash }),
    base: dirname(resolve(file)),
  };
}

/** Builds an emulator from a spec: loads the plugins it names, then the machine, devices and IOMMUs. */
export async function buildMachineSpec(
  spec: MachineSpec,
  host: PluginHost,
  opts: { log?: LogSink; machine?: LoadedPlugin } = {},
): Promise<Emulator> {
  const load = async (id: string, what: string): Promise<LoadedPlugin> => {
    const have = host.get(id);
    if (have !== undefined) return have;
    if (!bundledPlugins().has(id))
      throw new EmuhostError(
        'E_UNKNOWN_ID',
        `${what}: no plugin '${id}' is loaded or ships with emuhost`,
      );
    return loadBundled(host, id);
  };
  for (const p of spec.plugins) {
    if (p.path !== undefined)
      host.loadFile(resolve(spec.base, p.path), p.level === undefined ? {} : { level: p.level });
    else if (host.get(p.id!) === undefined) await loadBundled(host, p.id!, p.level);
  }
  const machine = opts.machine ?? (await load(spec.machine, 'machine'));
  const emu = new Emulator({
    machine,
    ramSize: spec.ram,
    ...(spec.machineOptions !== undefined && { machineOptions: spec.machineOptions }),
    ...(opts.log !== undefined && { log: opts.log }),
    firmware: readFirmware(spec),
  });
  await addBuiltinIommu(emu, host);
  for (const [i, m] of spec.iommus.entries()) {
    const plugin = await load(m.plugin, `iommus[${i}]`);
    const slot = emu.model.iommu;
    const r = emu.addIommu(plugin, {
      ...(m.id !== undefined && { id: m.id }),
      // The slot's register address, for models that take one (passthrough has no registers).
      options: {
        ...(slot !== undefined &&
          plugin.definition.options?.base !== undefined && { base: slot.base }),
        ...m.options,
      },
    });
    const targets = m.bind ?? (slot !== undefined ? [{ bus: slot.bus }] : []);
    if (targets.length === 0)
      throw new EmuhostError(
        'E_MACHINE_FILE',
        `iommus[${i}]: machine '${spec.machine}' has no IOMMU slot; say what it translates with "bind"`,
      );
    for (const t of targets) emu.machine.dma.bind(t, r.id);
  }
  for (const [i, d] of spec.devices.entries()) {
    const plugin = await load(d.plugin, `devices[${i}]`);
    try {
      emu.addDevice(plugin, {
        ...(d.id !== undefined && { id: d.id }),
        ...(d.bus !== undefined && { bus: d.bus }),
        ...(d.addr !== undefined && { devfn: parseAddr(d.addr) }),
        ...(d.platform === true && { platform: true }),
        ...(d.options !== undefined && { options: d.options }),
      });
    } catch (e) {
      throw new EmuhostError(
        'E_MACHINE_FILE',
        `devices[${i}] (${d.plugin}): ${(e as Error).message}`,
      );
    }
  }
  return emu;
}

/**
 * Reads the spec's firmware files. A file that cannot be read is an `E_BAD_ARGUMENT` error
 * worded as QEMU words it (`could not load PC BIOS 'FILE'`), with the reason.
 */
export function readFirmware(spec: MachineSpec): MachineFirmware {
  const read = (path: string, what: string): Uint8Array => {
    try {
      return new Uint8Array(readFileSync(resolve(spec.base, path)));
    } catch (e) {
      const reason = (e as NodeJS.ErrnoException).code ?? String(e);
      throw new EmuhostError('E_BAD_ARGUMENT', `could not load ${what} '${path}': ${reason}`);
    }
  };
  return {
    ...(spec.bios !== undefined && { bios: read(spec.bios, 'PC BIOS') }),
    pflash: (spec.pflash ?? []).map((p, i) => read(p, `pflash${i}`)),
  };
}

/** QEMU's `addr=SLOT[.FN]`, in hex. */
export function parseAddr(s: string): number {
  const m = /^(?:0x)?([0-9a-fA-F]{1,2})(?:\.([0-7]))?$/.exec(s);
  if (m === null) throw new EmuhostError('E_BAD_ARGUMENT', `addr '${s}' is not SLOT[.FUNCTION]`);
  const slot = Number.parseInt(m[1]!, 16);
  if (slot > 31) throw new EmuhostError('E_BAD_ARGUMENT', `addr '${s}': slot past 0x1f`);
  return (slot << 3) | Number(m[2] ?? 0);
}
