import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { rawMode } from './terminal.js';

/** A stand-in for a TTY's stdin: records the modes it is put in. */
function fakeTty() {
  const modes: boolean[] = [];
  const tty = Object.assign(new PassThrough(), {
    isTTY: true,
    setRawMode: (raw: boolean) => modes.push(raw),
  });
  return { tty, modes };
}

describe('rawMode', () => {
  it('puts a terminal in raw mode and restores it once', () => {
    const { tty, modes } = fakeTty();
    const restore = rawMode(tty);
    expect(modes).toEqual([true]);
    restore();
    restore();
    expect(modes).toEqual([true, false]);
  });

  it('restores the terminal when the process exits without restoring it (a crash)', () => {
    const { tty, modes } = fakeTty();
    rawMode(tty);
    const before = process.listenerCount('exit');
    expect(before).toBeGreaterThan(0);
    // What the process's `exit` event would run (emitting it here would run the test runner's too).
    (process.listeners('exit').at(-1) as (code: number) => void)(1);
    expect(modes).toEqual([true, false]);
    expect(process.listenerCount('exit')).toBe(before - 1);
  });

  it('leaves what is not a terminal alone', () => {
    const pipe = new PassThrough();
    expect(() => rawMode(pipe)()).not.toThrow();
  });
});
