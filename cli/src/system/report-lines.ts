/**
 * Report lines (hot reload's, under `--watch`) on stderr without cutting into a guest console
 * line: the console's output passes through `console` here, and a report that comes while the
 * guest is in the middle of a line waits for the line's end, at most `maxWaitMs` (then it
 * starts a line of its own). Only matters when stdout and stderr are the same terminal, and
 * costs nothing else: stderr stays unbuffered otherwise.
 */
import { Writable } from 'node:stream';

export class ReportLines {
  /** What the console writes goes through this (to the real stdout). */
  readonly console: Writable;
  /** What reports write goes through this (to the real stderr). */
  readonly reports: Writable;
  private midLine = false;
  private held: string[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(stdout: Writable, stderr: Writable, maxWaitMs = 300) {
    this.console = new Writable({
      write: (chunk: Buffer, _enc, done) => {
        if (chunk.length > 0) this.midLine = chunk[chunk.length - 1] !== 0x0a;
        stdout.write(chunk, () => done());
        if (!this.midLine) this.release(stderr, '');
      },
    });
    this.reports = new Writable({
      write: (chunk: Buffer, _enc, done) => {
        if (!this.midLine && this.held.length === 0) stderr.write(chunk);
        else {
          this.held.push(chunk.toString());
          this.timer ??= setTimeout(() => this.release(stderr, '\n'), maxWaitMs);
        }
        done();
      },
    });
  }

  private release(stderr: Writable, prefix: string): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.held.length === 0) return;
    stderr.write(prefix + this.held.join(''));
    this.held = [];
  }
}
