/**
 * Serving a qtest session over a byte stream (a socket or stdio): lines in, responses out,
 * in order. Every complete line in a chunk is answered before the next chunk is read, and
 * the answers of one chunk go out in one write, so pipelined clients get throughput.
 *
 * The scan for `\n` resumes where it stopped, so a long line (a 1 MiB `b64write` is 1.4 MB)
 * costs linear time, not QEMU's rescan per 1 KiB chunk. Lines past `maxLine` bytes are
 * answered with FAIL and dropped. Bytes are read as latin1, so binary garbage is a line
 * like any other (an unknown command), never a decoding error.
 */
import type { Readable, Writable } from 'node:stream';
import type { QtestSession } from './session.js';

export interface ServeOptions {
  /** `-qtest-log`: each line received (`R`) and sent (`S`). */
  readonly log?: (dir: 'R' | 'S', line: string) => void;
  /** Longest line accepted, in bytes. Default 128 MiB (a 64 MiB b64write fits). */
  readonly maxLine?: number;
}

/** Serves until the input ends; resolves then. */
export function serveStream(
  session: QtestSession,
  input: Readable,
  output: Writable,
  opts: ServeOptions = {},
): { done: Promise<void>; emit: (line: string) => void } {
  const maxLine = opts.maxLine ?? 128 << 20;
  let buf = '';
  let scanned = 0;
  let dropping = false;
  let out: string[] | null = null;
  const log = opts.log;
  const send = (line: string) => {
    log?.('S', line);
    if (out !== null) out.push(line);
    else output.write(`${line}\n`);
  };
  session.connected();
  input.setEncoding('latin1');
  const done = new Promise<void>((resolve) => {
    input.on('data', (chunk: string) => {
      buf += chunk;
      out = [];
      for (;;) {
        const nl = buf.indexOf('\n', scanned);
        if (nl < 0) {
          scanned = buf.length;
          if (buf.length > maxLine && !dropping) {
            dropping = true;
            send(`FAIL line longer than ${maxLine} bytes`);
          }
          if (dropping) {
            buf = '';
            scanned = 0;
          }
          break;
        }
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        scanned = 0;
        if (dropping) {
          dropping = false;
          continue;
        }
        log?.('R', line);
        send(session.handle(line));
      }
      const batch = out;
      out = null;
      if (batch.length > 0) output.write(`${batch.join('\n')}\n`);
    });
    const finish = () => {
      session.close();
      resolve();
    };
    input.on('end', finish);
    input.on('close', finish);
    input.on('error', finish);
  });
  return { done, emit: send };
}
