/**
 * The terminal in raw mode while the machine owns it (keys reach the guest as typed: Ctrl-C
 * is the guest's, not a signal), and back in its previous mode when the process ends, however
 * it ends: a normal exit, C-a x, a signal the launcher turns into an exit, or a crash (the
 * process's `exit` event runs even then).
 */
import type { Readable } from 'node:stream';

type Tty = Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };

/** Puts `input` in raw mode if it is a terminal; returns what restores it (idempotent). */
export function rawMode(input: Readable): () => void {
  const tty = input as Tty;
  if (tty.isTTY !== true || tty.setRawMode === undefined) return () => {};
  tty.setRawMode(true);
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    process.off('exit', restore);
    try {
      tty.setRawMode!(false);
    } catch {
      // The terminal is gone.
    }
  };
  process.on('exit', restore);
  return restore;
}
