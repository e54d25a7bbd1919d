/**
 * Serving a qtest session on a running emulator over a chardev, shared by `emuhost qtest` and
 * `emuhost dev --qtest`: open the chardev the way QEMU does (connect to a listening client,
 * or listen with `server=on` and take the first client, or stdio), then answer QEMU's
 * commands and the `emuhost.*` extensions until the client goes away.
 */
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import {
  bundledPlugins,
  type Emulator,
  type LoadedPlugin,
  loadBundled,
  type PluginHost,
} from '@emuhost/host';
import { EmuhostError } from '@emuhost/sdk';
import { emuhostExtensions } from './extensions.js';
import type { Chardev } from './qemu-argv.js';
import { QtestSession } from './session.js';
import { serveStream } from './transport.js';

export interface Stdio {
  readonly stdin: Readable;
  readonly stdout: Writable;
  readonly stderr: Writable;
}

export interface ServeQtestOptions {
  /** `-qtest-log`: each line received (`R`) and sent (`S`). */
  readonly log?: ((dir: 'R' | 'S', line: string) => void) | undefined;
  /** The plugin host, so `emuhost.iommu.swap` finds its plugins (and the bundled IOMMUs). */
  readonly host?: PluginHost;
}

/** Opens `c`, then serves qtest on `emu` until the client goes away (`done` resolves). */
export async function serveQtest(
  emu: Emulator,
  c: Chardev,
  stdio: Stdio,
  o: ServeQtestOptions = {},
): Promise<{ done: Promise<void> }> {
  const plugin = o.host === undefined ? undefined : await swapPlugins(o.host);
  const stream = await open(c, stdio);
  const session = new QtestSession(emu, {
    emit: (l) => emitLine(l),
    extensions: emuhostExtensions(emu, plugin === undefined ? {} : { plugin }),
  });
  const served = serveStream(
    session,
    stream.input,
    stream.output,
    o.log === undefined ? {} : { log: o.log },
  );
  const emitLine = served.emit;
  return { done: served.done };
}

/**
 * What `emuhost.iommu.swap` may name: the plugins `host` has loaded, after every bundled
 * IOMMU plugin is built (from its sources, so never a stale `dist/`) and loaded into it. The
 * session answers synchronously, so the building happens here, before it serves.
 */
export async function swapPlugins(
  host: PluginHost,
): Promise<(id: string) => LoadedPlugin | undefined> {
  for (const [id, dir] of bundledPlugins()) {
    const kind = (
      JSON.parse(readFileSync(join(dir, 'emuhost.plugin.json'), 'utf8')) as {
        kind?: unknown;
      }
    ).kind;
    if (kind === 'iommu') await loadBundled(host, id);
  }
  return (id) => host.get(id);
}

/** `-qtest-log FILE`: undefined for /dev/null; stderr when no file is given, as QEMU does. */
export function qtestLog(
  file: string | undefined,
  stderr: Writable,
): ((dir: 'R' | 'S', line: string) => void) | undefined {
  if (file === '/dev/null' || file === 'none') return undefined;
  const started = performance.now();
  const out: Writable | WriteStream =
    file === undefined ? stderr : createWriteStream(file, { flags: 'a' });
  return (dir, line) => {
    out.write(`[${dir} +${((performance.now() - started) / 1000).toFixed(6)}] ${line}\n`);
  };
}

/** Opens a chardev the way QEMU does: connect, or listen and take the first client. */
export async function open(
  c: Chardev,
  stdio: Stdio,
): Promise<{ input: Readable; output: Writable }> {
  if (c.kind === 'stdio') return { input: stdio.stdin, output: stdio.stdout };
  const socket: Socket = await new Promise((resolve, reject) => {
    if (!c.server) {
      const s = c.kind === 'unix' ? connect(c.path) : connect(c.port, c.host);
      s.once('connect', () => resolve(s));
      s.once('error', (e) =>
        reject(
          new EmuhostError(
            'E_BAD_ARGUMENT',
            `cannot connect to ${c.kind === 'unix' ? c.path : `${c.host}:${c.port}`}: ${e.message}`,
          ),
        ),
      );
      return;
    }
    const server = createServer((s) => {
      server.close();
      resolve(s);
    });
    server.once('error', (e) =>
      reject(new EmuhostError('E_BAD_ARGUMENT', `cannot listen: ${e.message}`)),
    );
    if (c.kind === 'unix') server.listen(c.path);
    else server.listen(c.port, c.host);
  });
  socket.setNoDelay?.(true);
  return { input: socket, output: socket };
}
