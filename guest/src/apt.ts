/**
 * Debian's archive for riscv64, through a private APT state: its own configuration, sources
 * and lists under `<guest dir>/apt`, selected with `APT_CONFIG`, so the host's apt is never
 * touched, no `dpkg --add-architecture` is needed, and it works without root.
 *
 * `Archive` is what the fetch needs from it; `AptArchive` is the real one, and tests give the
 * fetch a fake with the same shape.
 */
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EmuhostError } from '@emuhost/sdk';
import { aptFailures, run } from './tools.js';

/** The archive as the fetch uses it. */
export interface Archive {
  /** Refreshes the indices; returns index downloads that failed without failing the update. */
  update(): Promise<string[]>;
  /** Names of packages that start with `prefix`. */
  packageNames(prefix: string): Promise<string[]>;
  /** Whether the indices list `name`. */
  has(name: string): Promise<boolean>;
  /** Suites whose index lists `name` at `version` (e.g. `sid`, `trixie-security`). */
  suitesOf(name: string, version: string): Promise<string[]>;
  /**
   * Downloads packages (`name` or `name/suite`) into `dir` in one go; returns the .debs' paths
   * in the same order. Throws DownloadFailure if any is not delivered.
   */
  download(specs: readonly string[], dir: string): Promise<string[]>;
  /** Unpacks a .deb's files under `dir`. */
  extract(deb: string, dir: string): Promise<void>;
  /** The Version field of a .deb. */
  debVersion(deb: string): Promise<string>;
  /** The decompressed bytes of an .xz file. */
  unxz(file: string): Promise<Uint8Array>;
}

/** A package the pool did not deliver: the URL apt tried and why. */
export class DownloadFailure extends Error {
  override readonly name = 'DownloadFailure';
  constructor(
    readonly spec: string,
    readonly failures: readonly string[],
  ) {
    super(`${spec}: ${failures.join('; ') || 'apt-get download failed'}`);
  }
}

export interface AptSources {
  /** The Debian archive (trixie, trixie-backports, sid). */
  readonly mirror: string;
  /** Where trixie-security lives. */
  readonly securityMirror: string;
  /** The keyring apt checks the Release files against. */
  readonly keyring: string;
}

export const DEFAULT_MIRROR = 'http://deb.debian.org/debian';
export const DEFAULT_SECURITY_MIRROR = 'http://deb.debian.org/debian-security';
export const DEFAULT_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

/** The suites searched for a kernel, and where trixie's opensbi and busybox come from. */
export const SUITES = ['trixie', 'trixie-backports', 'sid'] as const;
export const SECURITY_SUITES = ['trixie-security'] as const;

/** The deb822 sources file. */
export function sourcesFile(s: AptSources): string {
  const entry = (uri: string, suites: readonly string[]) =>
    [
      'Types: deb',
      `URIs: ${uri}`,
      `Suites: ${suites.join(' ')}`,
      'Components: main',
      'Architectures: riscv64',
      `Signed-By: ${s.keyring}`,
    ].join('\n');
  return `${entry(s.mirror, SUITES)}\n\n${entry(s.securityMirror, SECURITY_SUITES)}\n`;
}

/** apt.conf for the private state rooted at `root`. */
export function aptConf(root: string, proxy?: string): string {
  return [
    `Dir "${root}/";`,
    `Dir::State::status "${root}/var/lib/dpkg/status";`,
    'APT::Architecture "riscv64";',
    'APT::Architectures { "riscv64"; };',
    'Acquire::Languages "none";',
    // sid's Release file on some mirrors is older than its Valid-Until, and a host clock may be
    // behind the archive's; signatures are still checked.
    'Acquire::Check-Valid-Until "false";',
    'Acquire::Check-Date "false";',
    // As root apt downloads as `_apt`, who may not reach a cache under root's home.
    'APT::Sandbox::User "root";',
    ...(proxy ? [`Acquire::http::Proxy "${proxy}";`] : []),
    '',
  ].join('\n');
}

/** The real archive, through apt-get, apt-cache and dpkg-deb with a private APT_CONFIG. */
export class AptArchive implements Archive {
  private readonly env: NodeJS.ProcessEnv;

  private constructor(readonly root: string) {
    this.env = { ...process.env, APT_CONFIG: join(root, 'apt.conf') };
  }

  /** Lays out the private state under `root` (idempotent). */
  static async create(root: string, sources: AptSources): Promise<AptArchive> {
    for (const d of [
      'etc/apt/sources.list.d',
      'etc/apt/preferences.d',
      'etc/apt/apt.conf.d',
      'etc/apt/trusted.gpg.d',
      'var/lib/apt/lists/partial',
      'var/cache/apt/archives/partial',
      'var/lib/dpkg',
    ]) {
      mkdirSync(join(root, d), { recursive: true });
    }
    writeFileSync(join(root, 'var/lib/dpkg/status'), '');
    writeFileSync(join(root, 'etc/apt/sources.list.d/riscv64.sources'), sourcesFile(sources));
    writeFileSync(join(root, 'apt.conf'), aptConf(root, await hostProxy()));
    return new AptArchive(root);
  }

  async update(): Promise<string[]> {
    const r = await run('apt-get', ['update', '-q'], { env: this.env });
    const out = `${r.stdout.toString('utf8')}\n${r.stderr}`;
    const failures = aptFailures(out);
    if (r.code !== 0) {
      throw new EmuhostError(
        'E_GUEST_FETCH',
        `apt-get update failed (exit ${r.code}): is Debian's archive reachable?\n  ${failures.join('\n  ')}`,
      );
    }
    return failures;
  }

  async packageNames(prefix: string): Promise<string[]> {
    const r = await this.query(['pkgnames', prefix]);
    return r.split('\n').filter((l) => l !== '');
  }

  async has(name: string): Promise<boolean> {
    // pkgnames reads only the binary cache; `apt-cache show` parses the 60 MB index (>1 s).
    return (await this.packageNames(name)).includes(name);
  }

  async suitesOf(name: string, version: string): Promise<string[]> {
    const out = await this.query(['madison', name]);
    const suites = out
      .split('\n')
      .map((l) => l.split('|').map((f) => f.trim()))
      .filter((f) => f[0] === name && f[1] === version && f[2])
      .map((f) => f[2]!.split(/\s+/)[1]?.split('/')[0] ?? '?');
    return [...new Set(suites)];
  }

  async download(specs: readonly string[], dir: string): Promise<string[]> {
    // A directory of its own, so the .debs in it are these packages whatever apt names them.
    const into = mkdtempSync(join(dir, 'deb-'));
    const r = await run('apt-get', ['download', '-q', ...specs], { cwd: into, env: this.env });
    const debs = readdirSync(into).filter((f) => f.endsWith('.deb'));
    // apt names a file `<package>_<version>_<arch>.deb`; a spec is `<package>[/suite]`.
    const paths = specs.map((spec) => debs.find((f) => f.startsWith(`${spec.split('/')[0]}_`)));
    if (r.code !== 0 || paths.some((p) => p === undefined)) {
      throw new DownloadFailure(
        specs.join(' '),
        aptFailures(`${r.stdout.toString('utf8')}\n${r.stderr}`),
      );
    }
    return paths.map((f) => join(into, f!));
  }

  async extract(deb: string, dir: string): Promise<void> {
    const r = await run('dpkg-deb', ['-x', deb, dir]);
    if (r.code !== 0) {
      throw new EmuhostError('E_GUEST_FETCH', `dpkg-deb -x ${deb} failed: ${r.stderr.trim()}`);
    }
  }

  async debVersion(deb: string): Promise<string> {
    const r = await run('dpkg-deb', ['-f', deb, 'Version']);
    if (r.code !== 0) {
      throw new EmuhostError('E_GUEST_FETCH', `dpkg-deb -f ${deb} failed: ${r.stderr.trim()}`);
    }
    return r.stdout.toString('utf8').trim();
  }

  async unxz(file: string): Promise<Uint8Array> {
    const r = await run('xz', ['-dc', file]);
    if (r.code !== 0)
      throw new EmuhostError('E_GUEST_FETCH', `xz -dc ${file} failed: ${r.stderr.trim()}`);
    return r.stdout;
  }

  private async query(args: readonly string[]): Promise<string> {
    const r = await run('apt-cache', args, { env: this.env });
    if (r.code !== 0) {
      throw new EmuhostError(
        'E_GUEST_FETCH',
        `apt-cache ${args.join(' ')} failed: ${r.stderr.trim()}`,
      );
    }
    return r.stdout.toString('utf8');
  }
}

/** The host apt's HTTP proxy (an apt-cacher, say), which a private APT_CONFIG would not see. */
async function hostProxy(): Promise<string | undefined> {
  const env = { ...process.env };
  delete env.APT_CONFIG;
  const r = await run('apt-config', ['shell', 'P', 'Acquire::http::Proxy'], { env }).catch(
    () => undefined,
  );
  const m = r?.code === 0 ? /^P='(.*)'$/m.exec(r.stdout.toString('utf8')) : null;
  return m?.[1] || undefined;
}
