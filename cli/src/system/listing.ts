/**
 * What `emuhost-system-<arch>` says when asked rather than told: `-help`, and the lists
 * behind `-machine help`, `-cpu help` and `-device help` (the bundled plugins and those
 * loaded with `--plugin`, machines and CPUs of this architecture only).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundledPlugins, type LoadedPlugin, loadBundled, type PluginHost } from '@emuhost/host';
import { SERIAL_PORT_DEVICES } from '../qtest/virtio-serial-ports.js';

export function helpText(name: string): string {
  return `usage: ${name} [QEMU options]
The machine:
  -machine|-M TYPE[,dumpdtb=FILE][,prop=value...]   (-machine help lists them)
  -cpu MODEL[,prop=value...]   -smp N|cpus=N   -m SIZE[M|G]
Boot:
  -bios FILE|none   -kernel FILE   -initrd FILE   -append CMDLINE   -dtb FILE
Devices:
  -device NAME[,prop=value...]   -drive file=FILE[,format=raw][,if=none][,id=ID]
  -chardev socket,id=ID,path=PATH|host=H,port=P[,server=on][,wait=off]|stdio,id=ID|file,id=ID,path=PATH|null,id=ID
Network (no host network: NICs of emuhost processes, or a QEMU, over a Unix socket):
  -netdev hub,id=ID,path=SOCK   (the first process to open SOCK serves it, the others join)
  -netdev stream,id=ID,server=on|off,addr.type=unix,addr.path=SOCK   (QEMU's framing)
  -device virtio-net-pci|virtio-net-device,netdev=ID[,mac=52:54:00:12:34:56]
  -object filter-dump,id=ID,netdev=ID,file=FILE.pcap[,maxlen=N]
Consoles:
  -nographic   -serial|-monitor stdio|mon:stdio|unix:PATH[,server][,nowait]|tcp:[HOST]:PORT[,server][,nowait]|file:PATH|null|none
  with -nographic, C-a h lists the terminal's keys (C-a x quits, C-a c switches to the monitor)
Debugging:
  -s (= -gdb tcp::1234)   -gdb tcp:[HOST]:PORT|unix:PATH   -S (start paused)
  -d in_asm,int,exec   -D FILE
Time:
  -icount [shift=]N[,sleep=on|off]   (the default: shift=0, deterministic)   -icount shift=auto (real time)
Snapshots:
  -snapshot-dir DIR (where savevm TAG keeps them)   -loadvm TAG|FILE (start from one)
Run:
  -no-reboot   -no-shutdown   -nodefaults   -display none   -audio none   -nic none   -accel tcg
emuhost's own:
  --plugin MANIFEST[,level=trusted|confined|isolated]   an external plugin's built manifest
  --watch DIR   build the plugin in DIR, run it, and hot-reload its live instances on every save
  -version
`;
}

export async function listPlugins(
  host: PluginHost,
  what: 'machine' | 'cpu' | 'device',
  arch: string,
): Promise<string> {
  const rows: [string, string][] = [];
  const kindOf = (dir: string) =>
    (JSON.parse(readFileSync(join(dir, 'emuhost.plugin.json'), 'utf8')) as { kind?: string }).kind;
  const loaded = new Map<string, LoadedPlugin>(host.list().map((p) => [p.manifest.id, p]));
  if (what === 'device') {
    for (const [id, dir] of bundledPlugins()) {
      const kind = kindOf(dir);
      if (kind === 'device' || kind === 'iommu') loaded.set(id, await loadBundled(host, id));
    }
    for (const p of loaded.values())
      if (p.manifest.kind === 'device' || p.manifest.kind === 'iommu')
        rows.push([p.manifest.id, p.manifest.description ?? '']);
    for (const [name, what] of Object.entries(SERIAL_PORT_DEVICES)) rows.push([name, what]);
    return table('Devices', rows);
  }
  for (const [id, dir] of bundledPlugins())
    if (kindOf(dir) === what && !loaded.has(id)) loaded.set(id, await loadBundled(host, id));
  for (const p of loaded.values()) {
    const d = p.definition;
    if (what === 'machine' && d.kind === 'machine' && d.cpu?.arch === arch)
      rows.push([p.manifest.id, p.manifest.description ?? '']);
    if (what === 'cpu' && d.kind === 'cpu' && d.arch === arch)
      rows.push([p.manifest.id, p.manifest.description ?? '']);
  }
  return table(what === 'machine' ? 'Supported machines are' : 'Available CPUs', rows);
}

function table(title: string, rows: [string, string][]): string {
  const w = Math.max(0, ...rows.map(([id]) => id.length));
  return `${title}:\n${rows
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([id, d]) => `${id.padEnd(w)}  ${d}`)
    .join('\n')}\n`;
}
