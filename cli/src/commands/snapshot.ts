/**
 * `emuhost snapshot save|load FILE --monitor unix:PATH|tcp:HOST:PORT`: a whole-machine
 * snapshot of a running `emuhost-system-*`, through its human monitor (`-monitor
 * unix:PATH,server,nowait`), with the monitor's own `snapshot_save`/`snapshot_load` commands;
 * and `emuhost snapshot info FILE`: what a snapshot file holds, the whole file checked.
 */
import { connect, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { readSnapshotFile, readSnapshotMeta } from '@emuhost/host';
import { EmuhostError } from '@emuhost/sdk';

const PROMPT = '(qemu) ';

/** Where a monitor listens: `unix:PATH` or `tcp:HOST:PORT` (`tcp::PORT`: localhost). */
export function parseMonitorAddress(
  spec: string,
): { path: string } | { host: string; port: number } {
  if (spec.startsWith('unix:')) return { path: spec.slice(5).split(',')[0]! };
  const m = /^tcp:([^:,]*):(\d+)/.exec(spec);
  if (m !== null) return { host: m[1] || '127.0.0.1', port: Number(m[2]) };
  throw new EmuhostError(
    'E_BAD_ARGUMENT',
    `--monitor ${spec}: expected unix:PATH or tcp:HOST:PORT`,
  );
}

/**
 * Sends one command line to the monitor at `spec` once it shows its prompt and resolves with
 * what the command printed (the text between the echoed line and the next prompt).
 */
export function monitorCommand(spec: string, line: string, timeoutMs = 600_000): Promise<string> {
  const addr = parseMonitorAddress(spec);
  return new Promise((resolvePromise, reject) => {
    const sock: Socket = 'path' in addr ? connect(addr.path) : connect(addr.port, addr.host);
    let buf = '';
    let sent = false;
    const timer = setTimeout(
      () => fail(new Error(`no answer from the monitor at ${spec}`)),
      timeoutMs,
    );
    const fail = (e: Error) => {
      clearTimeout(timer);
      sock.destroy();
      reject(new EmuhostError('E_BAD_ARGUMENT', `monitor ${spec}: ${e.message}`));
    };
    sock.on('error', fail);
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (!sent) {
        if (!buf.endsWith(PROMPT)) return;
        sent = true;
        buf = '';
        sock.write(`${line}\r`);
        return;
      }
      const echo = buf.indexOf('\r\n');
      if (echo < 0 || !buf.endsWith(PROMPT)) return;
      clearTimeout(timer);
      sock.end();
      resolvePromise(
        buf
          .slice(echo + 2, buf.length - PROMPT.length)
          .replace(/\r\n/g, '\n')
          .trimEnd(),
      );
    });
    sock.on('close', () => {
      if (sent) fail(new Error('the monitor closed the connection'));
    });
  });
}

export interface SnapshotCommandIo {
  readonly stdout: (text: string) => void;
}

/** `emuhost snapshot save|load|info FILE`; returns the exit code. */
export async function snapshotCommand(
  action: string,
  file: string,
  o: { monitor?: string },
  io: SnapshotCommandIo = { stdout: (t) => process.stdout.write(t) },
): Promise<number> {
  const path = resolve(file);
  if (action === 'info') {
    const meta = readSnapshotMeta(readSnapshotFile(path));
    const list = (what: string, xs: typeof meta.cpus) =>
      xs.map((x) => `  ${what} ${x.id}: ${x.plugin} ${x.version}, state version ${x.stateVersion}`);
    const lines = [
      `snapshot ${file}${meta.tag === undefined ? '' : ` (tag ${meta.tag})`}, saved ${meta.savedAt}`,
      `machine ${meta.machine.plugin} ${meta.machine.version}, ${meta.mode}, at ${meta.virtualNs} ns virtual, ${meta.instructions} instructions`,
      ...list('cpu', meta.cpus),
      ...list('device', meta.devices),
      ...list('iommu', meta.iommus),
      ...meta.ram.map((r) => `  ram ${r.name}: ${r.pages} of ${r.size / 4096} pages saved`),
      ...meta.drives.map(
        (d) => `  drive ${d.id}: ${d.chunks} non-zero 64 KiB chunks of ${d.size} bytes`,
      ),
      'checksums: ok',
    ];
    io.stdout(`${lines.join('\n')}\n`);
    return 0;
  }
  if (action !== 'save' && action !== 'load')
    throw new EmuhostError('E_BAD_ARGUMENT', `snapshot ${action}: expected save, load or info`);
  if (o.monitor === undefined)
    throw new EmuhostError(
      'E_BAD_ARGUMENT',
      `snapshot ${action} needs --monitor unix:PATH|tcp:HOST:PORT`,
    );
  const out = await monitorCommand(o.monitor, `snapshot_${action} ${path}`);
  if (out !== '') io.stdout(`${out}\n`);
  if (out.startsWith('Error:') || out.startsWith('unknown command')) return 1;
  if (action === 'save') io.stdout(`saved ${file}\n`);
  else io.stdout(`loaded ${file}\n`);
  return 0;
}
