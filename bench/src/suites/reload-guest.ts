/**
 * Hot reload under a running Linux guest (the reload suite's `reload.guest.*` figures): the
 * virt machine with the RISC-V IOMMU boots Debian's `io` flavour (a loop of checksummed block
 * writes and reads on virtio-blk, each request 5 ms of virtual time in flight), in this
 * process, under `emuhost dev`'s own session (`startDev`: its watcher, incremental build,
 * pre-flight and reload), on the system front end's run loop (`RunLoop`: slices of CPU time
 * with the event loop turning between them, 1 ms slices while a rebuild runs). Then the virtio-blk source is saved again
 * and again:
 *
 * - `reload.guest.p50.ms` / `p95`: real time from the write of the source file to the end of
 *   the reload (the new code serves the device), the guest doing I/O all along; the detail
 *   says where the time went (watcher and debounce, esbuild, load, state transfer).
 * - `reload.guest.stall.us`: the longest stretch of virtual time the disk made no progress
 *   because of a reload: for a reload that carried requests in flight, how much later than
 *   their deadlines the new code completed them (a reload that waited for requests to drain,
 *   or restarted them, would show here); a reload with nothing in flight stalls nothing, since
 *   virtual time does not move while a reload runs.
 *
 * Needs the cached guest with the `io` flavour (`npm run guest:fetch`); skipped otherwise.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { type DevCycle, startDev } from '@emuhost/cli';
import { guestDir, readManifest } from '@emuhost/guest';
import { addBuiltinIommu, Emulator, loadBundled, type PluginHost, RunLoop } from '@emuhost/host';
import type { CharBackend, CharFrontend } from '@emuhost/sdk';
import { median } from '../harness.js';
import type { Metric } from '../metrics.js';
import type { SuiteContext } from '../suite.js';

const ROOT = join(
  dirname(createRequire(import.meta.url).resolve('@emuhost/host/package.json')),
  '..',
);
const LATENCY_NS = 5_000_000;
const SAVES = 20;

/** The q-quantile, nearest rank. */
function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
}

/** The guest's console, collected. */
class Console implements CharBackend {
  text = '';
  write(bytes: Uint8Array): void {
    this.text += Buffer.from(bytes).toString('latin1');
  }
  connect(_f: CharFrontend): void {}
  ready(): void {}
}

const quiet = new Writable({ write: (_c, _e, done) => done() });

export async function reloadGuestMetrics(ctx: SuiteContext): Promise<Metric[]> {
  const dir = guestDir();
  const m = readManifest(dir);
  if (m?.initramfs.io === undefined) {
    ctx.log(
      'reload: no cached guest with the io flavour (run `npm run guest:fetch`): guest figures skipped',
    );
    return [];
  }
  // The cached files as they are (a benchmark downloads and builds nothing).
  const guest = {
    bios: join(dir, m.opensbi.file.path),
    kernel: join(dir, m.kernel.image.path),
    initrd: join(dir, m.initramfs.io.path),
  };
  // Copies inside the repository: they bundle its libraries and load at the trusted level.
  const work = join(ROOT, 'node_modules', '.cache', 'emuhost-bench-reload');
  mkdirSync(work, { recursive: true });
  const copy = join(mkdtempSync(join(work, 'run-')), 'virtio-blk');
  for (const f of ['src', 'emuhost.plugin.json', 'package.json'])
    cpSync(join(ROOT, 'plugins', 'virtio-blk', f), join(copy, f), { recursive: true });
  const disk = join(mkdtempSync(join(tmpdir(), 'emuhost-bench-reload-')), 'disk.img');
  writeFileSync(disk, new Uint8Array(4 << 20));

  const serial = new Console();
  let emuRef: Emulator | undefined;
  /** Virtual time each reload's carried requests were all completed at. */
  const completedAt: number[] = [];
  /** The latest deadline of the requests each reload carried. */
  const carriedDue: number[] = [];
  const build = async (host: PluginHost): Promise<Emulator> => {
    const emu = new Emulator({
      machine: await loadBundled(host, 'virt'),
      ramSize: 512 << 20,
      cpu: { plugin: await loadBundled(host, 'rv64') },
      firmware: {
        bios: new Uint8Array(readFileSync(guest.bios)),
        kernel: new Uint8Array(readFileSync(guest.kernel)),
        initrd: new Uint8Array(readFileSync(guest.initrd)),
        cmdline: 'console=ttyS0',
      },
      serial: (i) => (i === 0 ? serial : undefined),
      backends: { drives: [{ id: 'd0', file: disk, format: 'raw' }] },
      machineOptions: { 'iommu-sys': 'on' },
      log: (_level, _source, text) => {
        if (text.startsWith('completed the ')) completedAt.push(emuRef!.machine.clock.now);
      },
    });
    emuRef = emu;
    await addBuiltinIommu(emu, host);
    emu.addDevice(host.get('virtio-blk-pci')!, {
      id: 'blk0',
      options: {
        drive: 'd0',
        iommu_platform: true,
        'disable-legacy': 'on',
        'x-latency-ns': LATENCY_NS,
      },
    });
    emu.ready();
    return emu;
  };
  let loop: RunLoop | undefined;
  const session = await startDev({
    watch: [copy],
    out: quiet,
    err: quiet,
    debounceMs: 10,
    build,
    // As the system front end: short CPU slices while a rebuild waits on this thread.
    busy: (on) => {
      if (loop !== undefined) loop.sliceMs = on ? 1 : 10;
    },
  });
  session.host.hooks.reload.saved.tap('bench', (p) => {
    const inflight = (p.state?.data as { device?: { inflight?: { due: number }[] } } | undefined)
      ?.device?.inflight;
    if (inflight !== undefined && inflight.length > 0)
      carriedDue.push(Math.max(...inflight.map((r) => r.due)));
  });
  const emu = session.emu;
  // The system front end's run loop: deterministic time, idle periods paced in real time.
  loop = new RunLoop(emu, { sliceMs: 10 });
  const running = loop.run();
  const until = async (what: string, ok: () => boolean) => {
    const t0 = performance.now();
    while (!ok()) {
      if (loop!.state.status === 'ended' || performance.now() - t0 > 30 * 60_000)
        throw new Error(`reload: ${what} never came: ${serial.text.slice(-1000)}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };

  const samples: { ms: number; cycle: DevCycle }[] = [];
  try {
    ctx.log('reload: booting Debian (io flavour) behind the RISC-V IOMMU');
    await until('the guest I/O loop', () => serial.text.includes('EMUHOST-IO: loop start'));
    const file = join(copy, 'src', 'inflight.ts');
    const text = readFileSync(file, 'utf8');
    ctx.log(`reload: ${SAVES} saves of virtio-blk under guest I/O`);
    for (let i = 0; i < SAVES; i++) {
      const done = new Promise<DevCycle>((r) => {
        session.onCycle = r;
      });
      const t0 = performance.now();
      writeFileSync(file, `${text}\n// save ${i}\n`);
      const cycle = await done;
      samples.push({ ms: performance.now() - t0, cycle });
      if (cycle.reports?.[0]?.outcome !== 'reloaded')
        throw new Error(`reload: save ${i} did not reload: ${cycle.error?.message}`);
    }
    await until('the carried requests', () => completedAt.length >= carriedDue.length);
  } finally {
    loop.quit(0);
    await running;
    await session.close();
    rmSync(dirname(copy), { recursive: true, force: true });
  }
  if (/EMUHOST-IO: (ERROR|MISMATCH)/.test(serial.text))
    throw new Error('reload: the guest saw an I/O error or a checksum mismatch');

  const ms = samples.map((s) => s.ms);
  const part = (f: (c: DevCycle) => number) => median(samples.map((s) => f(s.cycle)));
  const build_ = part((c) => c.ms.build);
  const load = part((c) => c.ms.load);
  const swap = part((c) => c.reports?.[0]?.ms.total ?? 0);
  const waited = median(samples.map((s) => s.ms - s.cycle.ms.total));
  const stalls = carriedDue.map((due, i) => Math.max(0, (completedAt[i] ?? due) - due));
  return [
    {
      name: 'reload.guest.p50.ms',
      value: median(ms),
      unit: 'ms',
      better: 'lower',
      target: 100,
      detail: `virtio-blk source write -> new code live, Debian doing disk I/O, median of ${SAVES}: watcher+debounce+slice ${waited.toFixed(1)}, esbuild ${build_.toFixed(1)}, load ${load.toFixed(1)}, state transfer ${swap.toFixed(2)} ms (medians)`,
    },
    {
      name: 'reload.guest.p95.ms',
      value: quantile(ms, 0.95),
      unit: 'ms',
      better: 'lower',
      detail: `the same, 95th percentile of ${SAVES}`,
    },
    {
      name: 'reload.guest.stall.us',
      value: stalls.length === 0 ? 0 : Math.max(...stalls) / 1000,
      unit: 'us',
      better: 'lower',
      detail: `virtual time past their deadlines that carried requests completed (${carriedDue.length} of ${SAVES} reloads carried requests in flight; none waited for a drain)`,
    },
  ];
}
