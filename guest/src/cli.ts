/**
 * `npm run guest:fetch [-- options]`: fetch and build the reference guest into the cache and
 * say what it holds. Exit 0 with the summary, or 1 with the error a user can act on.
 */
import { statSync } from 'node:fs';
import { relative } from 'node:path';
import { EmuhostError } from '@emuhost/sdk';
import { ensureGuest, type GuestFiles } from './ensure.js';

const USAGE = `usage: npm run guest:fetch [-- [--refresh] [--verify] [--kernel ABI] [--dir DIR] [--json]]

Fetches Debian's riscv64 kernel (newest >= 6.13), OpenSBI fw_dynamic.bin and busybox-static,
and builds the initramfs flavours (guest/init/*.sh) and the disk image, into the cache:
$EMUHOST_GUEST_DIR, else $XDG_CACHE_HOME/emuhost-guest, else ~/.cache/emuhost-guest.

  --refresh      fetch from Debian again even if the cache is complete
  --verify       check every cached file's sha256 (default: sizes)
  --kernel ABI   prefer this kernel ABI, e.g. 7.2.13+deb14 (as EMUHOST_GUEST_KERNEL)
  --dir DIR      the cache directory (as EMUHOST_GUEST_DIR)
  --json         print the paths as JSON

Environment: EMUHOST_DEBIAN_MIRROR (default http://deb.debian.org/debian),
EMUHOST_DEBIAN_SECURITY_MIRROR, EMUHOST_DEBIAN_KEYRING, EMUHOST_GUEST_KERNEL, EMUHOST_GUEST_DIR.`;

interface Args {
  refresh: boolean;
  verify: boolean;
  json: boolean;
  kernel?: string;
  dir?: string;
}

function parseArgs(argv: readonly string[]): Args | 'help' {
  const a: Args = { refresh: false, verify: false, json: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new EmuhostError('E_OPTION', `${arg} needs a value`);
      return v;
    };
    if (arg === '--refresh') a.refresh = true;
    else if (arg === '--verify') a.verify = true;
    else if (arg === '--json') a.json = true;
    else if (arg === '--kernel') a.kernel = value();
    else if (arg === '--dir') a.dir = value();
    else if (arg === '-h' || arg === '--help') return 'help';
    else throw new EmuhostError('E_OPTION', `unknown option ${arg}\n${USAGE}`);
  }
  return a;
}

function summary(g: GuestFiles, seconds: number): string {
  const size = (p: string) => `${statSync(p).size.toLocaleString('en')} B`;
  const rel = (p: string) => relative(g.dir, p);
  const k = g.kernel;
  const lines = [
    `guest files in ${g.dir} (${seconds.toFixed(1)} s)`,
    `  kernel     ${k.abi} (${k.version}, ${k.suites.join(', ')}): ${rel(k.image)} ${size(k.image)}, text_offset ${k.textOffset}, image_size ${k.imageSize}`,
    `  modules    ${Object.keys(k.modules).join(' ') || 'none'}${k.builtin.length ? `; built in: ${k.builtin.join(' ')}` : ''}`,
    `  opensbi    ${g.opensbi.version}: ${rel(g.opensbi.fwDynamic)} ${size(g.opensbi.fwDynamic)}`,
    `  busybox    ${g.busybox.version}: ${rel(g.busybox.path)} ${size(g.busybox.path)}`,
    ...Object.entries(g.initramfs).map(([f, p]) => `  initramfs  ${f}: ${rel(p)} ${size(p)}`),
    `  disk       ${rel(g.disk)} ${size(g.disk)}`,
  ];
  return lines.join('\n');
}

async function main(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv);
  if (args === 'help') {
    console.log(USAGE);
    return 0;
  }
  const start = performance.now();
  const elapsed = () => ((performance.now() - start) / 1000).toFixed(1);
  const g = await ensureGuest({
    log: (line) => process.stderr.write(`[guest ${elapsed()}s] ${line}\n`),
    refresh: args.refresh,
    verify: args.verify,
    ...(args.kernel ? { kernel: args.kernel } : {}),
    ...(args.dir ? { dir: args.dir } : {}),
  });
  console.log(args.json ? JSON.stringify(g, null, 2) : summary(g, Number(elapsed())));
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`guest:fetch: ${e instanceof EmuhostError ? e.message : (e as Error).stack}`);
    process.exit(1);
  },
);
