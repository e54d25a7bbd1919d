/**
 * Host errors as the user reads them: an errno in words, an emuhost error without its code.
 */
import { EmuhostError } from '@emuhost/sdk';
import { describe } from '../qtest/launch.js';

/** An errno as words: `No such file or directory`. */
export function reason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  const words: Record<string, string> = {
    ENOENT: 'No such file or directory',
    EACCES: 'Permission denied',
    EISDIR: 'Is a directory',
    ENOTDIR: 'Not a directory',
    ECONNREFUSED: 'Connection refused',
    EADDRINUSE: 'Address already in use',
    EPERM: 'Operation not permitted',
  };
  return (code !== undefined && words[code]) || (e instanceof Error ? e.message : String(e));
}

/** One line for the user: QEMU's style has no error codes in it. */
export function message(e: unknown): string {
  return e instanceof EmuhostError ? e.message.replace(/^E_[A-Z_]+: /, '') : describe(e);
}
