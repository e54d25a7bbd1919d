/**
 * The guest suite: Debian's riscv64 kernel booting on the virt machine (issue 17), in a child
 * process of its own so that its memory is the guest's alone: seconds and instructions from
 * start to the `/init` marker, the whole run to power-off, and the process's resident memory
 * against the guest's RAM. Where `qemu-system-riscv64` is installed, QEMU boots the same
 * files side by side and `guest.boot.ratio.qemu` is QEMU's time to `/init` over ours.
 *
 * Needs the cached guest (`npm run guest:fetch`); without it the suite says so and reports
 * nothing rather than downloading from inside a benchmark.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { guestDir, readManifest } from '@emuhost/guest';
import type { Metric } from '../metrics.js';
import type { Suite } from '../suite.js';

const ROOT = join(
  dirname(createRequire(import.meta.url).resolve('@emuhost/host/package.json')),
  '..',
);
const INIT = 'EMUHOST-GUEST: init reached';

interface Run {
  outcome: string;
  initMs?: number;
  initCpuMs?: number;
  initInstructions?: number;
  totalMs: number;
  instructions: number;
  rssMiB: number;
  ramMiB: number;
}

/** QEMU's wall time to the /init marker and to its exit, in ms, or undefined when absent. */
async function qemu(files: { bios: string; kernel: string; initrd: string }) {
  if (spawnSync('qemu-system-riscv64', ['--version']).status !== 0) return undefined;
  const t0 = performance.now();
  const p = spawn(
    'qemu-system-riscv64',
    ['-M', 'virt', '-m', '512M', '-smp', '1', '-nographic', '-display', 'none', '-no-reboot']
      .concat(['-bios', files.bios, '-kernel', files.kernel, '-initrd', files.initrd])
      .concat(['-append', 'console=ttyS0 earlycon', '-net', 'none']),
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  let text = '';
  let initMs: number | undefined;
  p.stdout.on('data', (d: Buffer) => {
    text += d.toString('latin1');
    if (initMs === undefined && text.includes(INIT)) initMs = performance.now() - t0;
  });
  await new Promise((r) => p.once('exit', r));
  return { initMs, totalMs: performance.now() - t0 };
}

function initCpu(ms: number): Metric {
  return {
    name: 'guest.boot.init.cpu.s',
    value: ms / 1000,
    unit: 's',
    better: 'lower',
    detail:
      'CPU seconds of the process (all its threads) to the /init marker: what other work loading the machine does not raise',
  };
}

export const guestSuite: Suite = {
  name: 'guest',
  async run(ctx) {
    const dir = guestDir();
    const m = readManifest(dir);
    const initrd = m?.initramfs.test;
    if (m === undefined || initrd === undefined || !existsSync(join(dir, m.kernel.image.path))) {
      ctx.log('guest: no cached guest (run `npm run guest:fetch`): skipped');
      return [];
    }
    ctx.log('guest: booting the reference guest (a few minutes)');
    const child = spawnSync(
      process.execPath,
      [join(ROOT, 'scripts', 'run-ts.mjs'), 'plugins/virt/src/test-support/boot-cli.ts', '--json'],
      { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 24 },
    );
    const line = child.stdout.trim().split('\n').pop() ?? '';
    let run: Run;
    try {
      run = JSON.parse(line) as Run;
    } catch {
      throw new Error(`guest: the boot printed no figures: ${child.stderr.slice(-2000)}`);
    }
    if (run.initMs === undefined || run.outcome !== 'poweroff')
      throw new Error(`guest: the boot ended ${run.outcome} without reaching /init`);
    const out: Metric[] = [
      {
        name: 'guest.boot.init.s',
        value: run.initMs / 1000,
        unit: 's',
        better: 'lower',
        target: 10,
        detail:
          'seconds from start to the /init marker (OpenSBI, Linux, busybox), deterministic mode',
      },
      ...(run.initCpuMs === undefined ? [] : [initCpu(run.initCpuMs)]),
      {
        name: 'guest.boot.instructions',
        value: run.initInstructions ?? 0,
        unit: 'count',
        better: 'lower',
        detail: 'instructions executed to the /init marker (QEMU icount: about 0.8 G)',
      },
      {
        name: 'guest.boot.mips',
        value: (run.instructions / run.totalMs) * 1e-3,
        unit: 'MIPS',
        better: 'higher',
        target: 80,
        detail: `MIPS over the whole run to power-off (${(run.instructions / 1e9).toFixed(2)} G instructions, devices and timers included)`,
      },
      {
        name: 'guest.rss.mib',
        value: run.rssMiB,
        unit: 'MiB',
        better: 'lower',
        target: run.ramMiB + 256,
        detail: `resident memory of the emuhost process after the guest powered off, for ${run.ramMiB} MiB of guest RAM (bound: RAM + 256 MiB)`,
      },
    ];
    const q = await qemu({
      bios: join(dir, m.opensbi.file.path),
      kernel: join(dir, m.kernel.image.path),
      initrd: join(dir, initrd.path),
    });
    if (q?.initMs !== undefined)
      out.push({
        name: 'guest.boot.ratio.qemu',
        value: q.initMs / run.initMs,
        unit: 'ratio',
        better: 'higher',
        detail: `QEMU (${spawnSync('qemu-system-riscv64', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0]}, TCG) reached /init in ${(q.initMs / 1000).toFixed(2)} s: its time over ours`,
      });
    else ctx.log('guest: qemu-system-riscv64 not installed: no side-by-side figure');
    return out;
  },
};
