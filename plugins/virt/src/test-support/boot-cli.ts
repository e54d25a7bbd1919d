/**
 * `node scripts/run-ts.mjs plugins/virt/src/test-support/boot-cli.ts [--max N] [--trace int]
 * [--flavour test|shell] [--append CMDLINE] [--disk IMAGE] [--rng] [--smp N] [--json]`: boots the cached reference guest (npm run
 * guest:fetch) on the virt machine in this process and prints the console as it comes, then
 * the outcome; with `--json`, one line of figures for the bench instead.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { guestDir, readManifest } from '@emuhost/guest';
import type { CpuTraceKind } from '@emuhost/sdk';
import { bootVirt } from './boot.js';

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const dir = guestDir();
const m = readManifest(dir);
if (m === undefined) throw new Error('no guest: run npm run guest:fetch');
const file = (p: string) => new Uint8Array(readFileSync(join(dir, p)));
const json = args.includes('--json');
const INIT_MARKER = 'EMUHOST-GUEST: init reached';
const t0 = performance.now();
const traceKinds = opt('--trace')?.split(',') as CpuTraceKind[] | undefined;
const r = await bootVirt({
  bios: file(m.opensbi.file.path),
  kernel: file(m.kernel.image.path),
  initrd: file(m.initramfs[opt('--flavour') ?? 'test']!.path),
  cmdline: opt('--append') ?? 'console=ttyS0 earlycon',
  maxInstructions: Number(opt('--max') ?? 4e9),
  smp: Number(opt('--smp') ?? 1),
  ...(opt('--disk') !== undefined && {
    backends: { drives: [{ id: 'd0', file: opt('--disk')!, format: 'raw' }] },
  }),
  devices: [
    ...(opt('--disk') !== undefined
      ? [
          {
            plugin: 'virtio-blk-pci',
            options: { drive: 'd0', iommu_platform: true, 'disable-legacy': 'on' },
          },
        ]
      : []),
    ...(args.includes('--rng') ? [{ plugin: 'virtio-rng-pci', options: {} }] : []),
  ],
  watch: [INIT_MARKER],
  ...(!json && { onOutput: (t: string) => process.stdout.write(t) }),
  ...(traceKinds !== undefined && {
    trace: {
      kinds: new Set(traceKinds),
      sink: (cpu, _k, text) => process.stderr.write(`[${cpu}] ${text}\n`),
    },
  }),
});
const s = (performance.now() - t0) / 1000;
if (json) {
  // One line for the bench: when /init was reached, the whole run, the process's memory.
  const init = r.seen[INIT_MARKER];
  console.log(
    JSON.stringify({
      outcome: r.outcome,
      initMs: init?.ms,
      initCpuMs: init?.cpuMs,
      initInstructions: init?.instructions,
      totalMs: s * 1000,
      instructions: r.instructions,
      rssMiB: process.memoryUsage().rss / 2 ** 20,
      ramMiB: 512,
    }),
  );
  process.exit(0);
}
console.log(
  `\n--- ${r.outcome}${r.message ? `: ${r.message}` : ''} after ${r.instructions} instructions, ${(r.virtualNs / 1e9).toFixed(3)} s virtual, ${s.toFixed(1)} s host (${(r.instructions / s / 1e6).toFixed(1)} MIPS)`,
);
