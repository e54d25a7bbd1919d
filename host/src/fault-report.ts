/**
 * Fault reports: what a plugin author reads when their device faulted. One report per fault
 * (`hooks.guard.deviceFault`): the device, its plugin and level, which callback (an MMIO read
 * at a region and offset, a timer by name, a config write, a mapping's notifier, reset), the
 * error, and its stack: the plugin's own frames (realms show no other, see @emuhost/sandbox's
 * stack-filter) mapped through the bundle's source map to the plugin's `src/` files.
 *
 *   emuhost: device my-dev0 (plugin my-dev 0.1.0, isolated) faulted in its MMIO read handler
 *     (region my-dev0.regs, offset 0x10): Error: the status register is not implemented
 *       at read (plugins/my-dev/src/index.ts:42:13)
 *       at Object.read (plugins/my-dev/src/regs.ts:7:5)
 *     the device is quarantined: it reads as absent until restarted
 *
 * The CLI prints them on stderr in `qtest`, `dev` and `run` (`watchFaults`); `--trace` keeps its
 * one-line `device_fault` event.
 */
import { isAbsolute, relative } from 'node:path';
import type { DeviceFaultEvent, DeviceGuard } from '@emuhost/core';
import { PLUGIN_SCRIPT_PREFIX, SDK_SCRIPT } from '@emuhost/sandbox';
import type { Emulator } from './emulator.js';
import type { LoadedPlugin } from './loaded-plugin.js';

export interface FaultReport {
  readonly device: string;
  /** `my-dev 0.1.0, isolated`, when a plugin is behind the device. */
  readonly plugin?: string;
  /** Which callback faulted, in words: `MMIO read handler (region edu0.regs, offset 0x10)`. */
  readonly where: string;
  /** The error's first line. */
  readonly error: string;
  /** Its stack frames (`at fn (file:line:column)`), mapped to the plugin's sources when possible. */
  readonly frames: readonly string[];
}

const SITES: Record<DeviceFaultEvent['site'], string> = {
  'mmio-read': 'MMIO read handler',
  'mmio-write': 'MMIO write handler',
  'config-write': 'config-space write handler',
  dma: 'DMA mapping notifier',
  timer: 'timer callback',
  deferred: 'deferred work (saveState or dispose)',
  setup: 'setup',
  reset: 'reset handler',
  unrealize: 'dispose (unplug)',
};

/** The report of one fault; `plugin` maps its frames (the device's plugin when it faulted). */
export function describeFault(e: DeviceFaultEvent, plugin?: LoadedPlugin): FaultReport {
  const lines = e.stack.split('\n');
  const first = lines.findIndex((l) => /^\s+at /.test(l));
  const head = (first < 0 ? lines : lines.slice(0, first)).join(' ').trim();
  // The plugin's frames only: an error the kernel made (an injected fault, the isolated
  // level's watchdog) has host frames, which say nothing to the plugin's author.
  const frames = pluginFrames(e.stack, plugin);
  const at =
    e.at === undefined ? '' : ` (region ${e.at.region}, offset 0x${e.at.offset.toString(16)})`;
  const detail =
    e.detail === undefined ? '' : e.site === 'timer' ? ` '${e.detail}'` : ` (${e.detail})`;
  return {
    device: e.device,
    ...(plugin !== undefined && {
      plugin: `${plugin.manifest.id} ${plugin.manifest.version}, ${plugin.level}`,
    }),
    ...(plugin === undefined && e.plugin !== undefined && { plugin: e.plugin }),
    where: `${SITES[e.site] ?? e.site}${at}${detail}`,
    error: head === '' ? String(e.error) : head,
    frames,
  };
}

/** The report as lines for a terminal (no trailing newline). */
export function formatFault(r: FaultReport): string {
  return [
    `emuhost: device ${r.device}${r.plugin === undefined ? '' : ` (plugin ${r.plugin})`} faulted in its ${r.where}: ${r.error}`,
    ...r.frames.map((f) => `    ${f}`),
    `  the device is quarantined: it answers as absent until restarted (qtest: emuhost.device.restart ${r.device}; emuhost dev restarts it when a fix is saved)`,
  ].join('\n');
}

/**
 * Reports every device fault of `emu` through `write` (one call per fault, a multi-line
 * text ending in a newline), for as long as the emulator lives; returns a function that
 * stops it.
 */
export function watchFaults(emu: Emulator, write: (text: string) => void): () => void {
  // tapable has no untap: a stopped watcher stays tapped and does nothing.
  let on = true;
  emu.machine.hooks.guard.deviceFault.tap('emuhost:fault-report', (e) => {
    if (!on) return;
    const plugin = emu.devices.get(e.device)?.plugin ?? emu.iommus.get(e.device)?.plugin;
    write(`${formatFault(describeFault(e, plugin))}\n`);
  });
  return () => {
    on = false;
  };
}

/** Whether a device (or IOMMU) runs, and why not. */
export interface DeviceStatus {
  readonly state: 'running' | 'quarantined';
  /** Why it was quarantined (`faultReason`). */
  readonly reason?: string;
}

/** The status of a running device or IOMMU, for `info devices` and `emuhost.devices`. */
export function deviceStatus(d: {
  readonly plugin: LoadedPlugin;
  readonly slot: { readonly scope: { readonly guard: DeviceGuard } };
}): DeviceStatus {
  const g = d.slot.scope.guard;
  if (!g.quarantined) return { state: 'running' };
  return {
    state: 'quarantined',
    ...(g.lastFault !== undefined && { reason: faultReason(g.lastFault, d.plugin) }),
  };
}

/** A quarantined device's reason, in one line (for `info` views and `emuhost.devices`). */
export function faultReason(e: DeviceFaultEvent, plugin?: LoadedPlugin): string {
  const r = describeFault(e, plugin);
  const top = r.frames[0]?.replace(/^at /, '');
  return `${r.where}: ${r.error}${top === undefined ? '' : ` (at ${top})`}`;
}

/**
 * The frames of plugin code in `stack` (`at fn (file:line:column)`, innermost first), mapped
 * through `plugin`'s source map where it covers them; host frames are left out.
 */
export function pluginFrames(stack: string, plugin?: LoadedPlugin): string[] {
  return stack
    .split('\n')
    .filter((l) => /^\s+at /.test(l))
    .filter((l) => l.includes(PLUGIN_SCRIPT_PREFIX) || l.includes(`(${SDK_SCRIPT}:`))
    .map((l) => mapFrame(l.trim(), plugin));
}

/**
 * What `emu` is running, from a stack taken inside it (a main thread interrupted in plugin code
 * that does not return): the busy device, its plugin and level, and the innermost plugin frame
 * mapped to its source. Undefined when the stack shows no plugin code.
 */
export function describeRunning(emu: Emulator, stack: string): string | undefined {
  const busy = emu.machine.busyDevice;
  const id = /emuhost-plugin:([^/]+)\//.exec(stack)?.[1];
  const all = [...emu.devices.values(), ...emu.iommus.values()];
  const d =
    (busy === undefined ? undefined : all.find((x) => x.id === busy)) ??
    all.find((x) => x.plugin.manifest.id === id);
  if (d === undefined) return busy === undefined ? undefined : `device ${busy}`;
  const p = d.plugin;
  const top = pluginFrames(stack, p)[0]?.replace(/^at /, '');
  return `device ${d.id} (plugin ${p.manifest.id} ${p.manifest.version}, ${p.level})${top === undefined ? '' : `, at ${top}`}`;
}

/**
 * One stack line with the plugin's bundle position replaced by its source position
 * (`at read (emuhost-plugin:my-dev/my-dev.js:840:13)` → `at read (src/regs.ts:12:5)`), the
 * path relative to the working directory when it lies under it.
 */
function mapFrame(line: string, plugin: LoadedPlugin | undefined): string {
  const script = plugin?.script;
  if (script?.sourceMap === undefined || !line.includes(PLUGIN_SCRIPT_PREFIX)) return line;
  const at = new RegExp(`${escapeRe(script.name)}:(\\d+):(\\d+)`).exec(line);
  if (at === null) return line;
  const loc = script.sourceMap.locate(Number(at[1]), Number(at[2]) - 1);
  if (loc === undefined) return line;
  const rel = relative(process.cwd(), loc.file);
  const file = rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : loc.file;
  return line.replace(at[0], `${file}:${loc.line}:${loc.column + 1}`);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
