/**
 * Building a machine from a `MachineSpec` (a machine file's, or QEMU's command line's): the
 * plugins it names are loaded (every unknown id reported at once, with the nearest known
 * one), then the machine, its IOMMUs (each binding checked against the machine's buses) and
 * its devices, each problem named as the spec names it (`devices[1]`, `-device edu,...`).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { EmuhostError, type MachineFirmware } from '@emuhost/sdk';
import { NULL_CO } from './backends/null-block.js';
import { addBuiltinIommu } from './builtin-iommu.js';
import { bundledAlias, bundledPlugins, loadBundled } from './bundled.js';
import { Emulator, type EmulatorOptions } from './emulator.js';
import type { LoadedPlugin } from './loaded-plugin.js';
import type { LogSink } from './log.js';
import type { MachineSpec } from './machine-file.js';
import type { PluginHost } from './plugin-host.js';
import { didYouMean } from './suggest.js';

/**
 * Builds an emulator from a spec: loads the plugins it names, then the machine, devices and
 * IOMMUs. Every plugin id nobody knows is reported at once, before anything is built.
 */
export async function buildMachineSpec(
  spec: MachineSpec,
  host: PluginHost,
  opts: {
    log?: LogSink;
    machine?: LoadedPlugin;
    /** More for the emulator (CPUs, serial ports, boot images); its firmware adds to the spec's. */
    emulator?: Omit<EmulatorOptions, 'machine' | 'ramSize' | 'machineOptions' | 'log'>;
  } = {},
): Promise<Emulator> {
  for (const p of spec.plugins) {
    if (p.path !== undefined)
      host.loadFile(resolve(spec.base, p.path), p.level === undefined ? {} : { level: p.level });
    else if (host.get(p.id!) === undefined) await loadBundled(host, p.id!, p.level);
  }
  const known = new Set([...bundledPlugins().keys(), ...host.list().map((p) => p.manifest.id)]);
  // A device may be named by a plugin's alias (virtio-blk-device: virtio-blk-pci on the platform bus).
  const aliases = spec.devices.map((d) =>
    host.get(d.plugin) === undefined ? aliasOf(host, d.plugin) : undefined,
  );
  for (const a of aliases) if (a !== undefined) known.add(a.plugin);
  const unknown = [
    ...(opts.machine === undefined ? [{ id: spec.machine, what: 'machine' }] : []),
    ...spec.iommus.map((m, i) => ({ id: m.plugin, what: m.label ?? `iommus[${i}]` })),
    ...spec.devices.map((d, i) => ({
      id: aliases[i]?.plugin ?? d.plugin,
      what: d.label ?? `devices[${i}]`,
    })),
  ].filter((u) => !known.has(u.id));
  if (unknown.length > 0)
    throw new EmuhostError(
      'E_UNKNOWN_ID',
      `${unknown.map((u) => `${u.what}: no plugin '${u.id}' is loaded or ships with emuhost${didYouMean(u.id, known)}`).join('; ')} ` +
        `(known: ${[...known].sort().join(', ')}; a plugin of your own: build it with \`emuhost build DIR\` and load DIR/dist/emuhost.plugin.json)`,
    );
  const load = async (id: string): Promise<LoadedPlugin> => host.get(id) ?? loadBundled(host, id);
  const machine = opts.machine ?? (await load(spec.machine));
  const emu = new Emulator({
    machine,
    ramSize: spec.ram,
    ...(spec.machineOptions !== undefined && { machineOptions: spec.machineOptions }),
    ...(opts.log !== undefined && { log: opts.log }),
    ...opts.emulator,
    firmware: { ...readFirmware(spec), ...opts.emulator?.firmware },
    backends: {
      ...opts.emulator?.backends,
      drives: (spec.drives ?? []).map((d) => ({
        ...d,
        file: d.file.startsWith(NULL_CO) ? d.file : resolve(spec.base, d.file),
      })),
      rngs: spec.rngs ?? [],
    },
    ...(spec.seed !== undefined && { seed: spec.seed }),
  });
  checkBindings(spec, emu);
  await addBuiltinIommu(emu, host);
  for (const [i, m] of spec.iommus.entries()) {
    const plugin = await load(m.plugin);
    const what = m.label ?? `iommus[${i}]`;
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
        `${what}: machine '${spec.machine}' has no IOMMU slot; say what it translates with "bind"`,
      );
    for (const t of targets) emu.machine.dma.bind(t, r.id);
  }
  for (const [i, d] of spec.devices.entries()) {
    const alias = aliases[i];
    const plugin = await load(alias?.plugin ?? d.plugin);
    try {
      emu.addDevice(plugin, {
        ...(d.id !== undefined && { id: d.id }),
        ...(d.bus !== undefined && { bus: d.bus }),
        ...(d.addr !== undefined && { devfn: parseAddr(d.addr) }),
        ...((d.platform === true || alias?.bus === 'platform') && { platform: true }),
        ...(d.options !== undefined && { options: d.options }),
      });
    } catch (e) {
      throw new EmuhostError(
        'E_MACHINE_FILE',
        `${d.label ?? `devices[${i}] (${d.plugin})`}: ${(e as Error).message}`,
      );
    }
  }
  return emu;
}

/**
 * An IOMMU bound to a bus the machine does not have would translate nothing, silently (the
 * binding waits for a bus of that name): an error listing the machine's buses instead.
 */
function checkBindings(spec: MachineSpec, emu: Emulator): void {
  const buses = [...emu.machine.pciBuses.keys(), ...emu.machine.platformBuses.keys()];
  const problems = spec.iommus.flatMap((m, i) =>
    (m.bind ?? []).flatMap((t, j) =>
      'bus' in t && !buses.includes(t.bus)
        ? [
            `${m.label ?? `iommus[${i}].bind[${j}]`}: machine '${spec.machine}' has no bus '${t.bus}'${didYouMean(t.bus, buses)} (its buses: ${buses.join(', ')})`,
          ]
        : [],
    ),
  );
  if (problems.length > 0) throw new EmuhostError('E_MACHINE_FILE', problems.join('; '));
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

/**
 * The plugin a device name is an alias of: a loaded plugin's manifest `aliases`, else a
 * bundled plugin's; undefined when the name is no alias.
 */
export function aliasOf(
  host: PluginHost,
  name: string,
): { readonly plugin: string; readonly bus: 'pci' | 'platform' } | undefined {
  for (const p of host.list()) {
    const bus = p.manifest.aliases?.[name];
    if (bus !== undefined) return { plugin: p.manifest.id, bus };
  }
  return bundledAlias(name);
}

/** QEMU's `addr=SLOT[.FN]`, in hex. */
export function parseAddr(s: string): number {
  const m = /^(?:0x)?([0-9a-fA-F]{1,2})(?:\.([0-7]))?$/.exec(s);
  if (m === null) throw new EmuhostError('E_BAD_ARGUMENT', `addr '${s}' is not SLOT[.FUNCTION]`);
  const slot = Number.parseInt(m[1]!, 16);
  if (slot > 31) throw new EmuhostError('E_BAD_ARGUMENT', `addr '${s}': slot past 0x1f`);
  return (slot << 3) | Number(m[2] ?? 0);
}
