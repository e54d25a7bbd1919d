/**
 * The host programs `guest:fetch` runs (Debian's apt-get, apt-cache, dpkg-deb, and xz), and
 * the errors a user can act on when one is missing or fails.
 *
 * Only ordinary clients: apt verifies each download against the signed index, so nothing
 * here handles URLs, hashes or signatures itself.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { EmuhostError } from '@emuhost/sdk';

/** The programs, and how to get each. */
export const TOOLS = {
  'apt-get': "Debian's apt (package `apt`)",
  'apt-cache': "Debian's apt (package `apt`)",
  'apt-config': "Debian's apt (package `apt`)",
  'dpkg-deb': 'package `dpkg`',
  xz: 'package `xz-utils` on Debian and Ubuntu, `xz` elsewhere',
} as const;

export type Tool = keyof typeof TOOLS;

const NOT_DEBIAN =
  'On a host without apt, run `npm run guest:fetch` in a Debian or Ubuntu container and point ' +
  'EMUHOST_GUEST_DIR at the directory it fills.';

/** The full path of `tool` on PATH, or undefined. */
export function which(tool: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, tool);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Throws E_GUEST_FETCH naming every missing tool and where it comes from. */
export function requireTools(tools: readonly Tool[], path?: string): void {
  const missing = tools.filter((t) => which(t, path) === undefined);
  if (missing.length === 0) return;
  const how = missing.map((t) => `  ${t}: ${TOOLS[t]}`).join('\n');
  throw new EmuhostError(
    'E_GUEST_FETCH',
    `guest:fetch needs programs that are not on PATH:\n${how}\n` +
      `Install them (as root: apt-get install apt dpkg xz-utils). ${NOT_DEBIAN}`,
  );
}

export interface RunResult {
  readonly code: number;
  readonly stdout: Buffer;
  readonly stderr: string;
}

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/** Runs a program to completion. A program that cannot start is E_GUEST_FETCH. */
export function run(
  cmd: string,
  args: readonly string[],
  opts: RunOptions = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: { ...(opts.env ?? process.env), LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => {
      const hint = cmd in TOOLS ? ` It comes with ${TOOLS[cmd as Tool]}. ${NOT_DEBIAN}` : '';
      reject(
        new EmuhostError('E_GUEST_FETCH', `cannot run ${cmd}: ${e.code ?? e.message}.${hint}`),
      );
    });
    child.on('close', (code, signal) => {
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}

/** The lines of apt's output that say what failed: "Failed to fetch URL reason", "Err:..." and "E:". */
export function aptFailures(output: string): string[] {
  const lines = output.split('\n').map((l) => l.trim());
  const fetch = lines
    .map((l) => /Failed to fetch (\S+)\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `${decodeUrl(m[1]!)}: ${m[2]!.trim()}`);
  if (fetch.length > 0) return [...new Set(fetch)];
  return lines.filter((l) => /^(E|W|Err):/.test(l));
}

/** apt prints pool URLs percent-encoded (`%2b` for `+`); decoded they match the package names. */
function decodeUrl(url: string): string {
  try {
    return decodeURIComponent(url);
  } catch {
    return url;
  }
}
