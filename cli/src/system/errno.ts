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

/**
 * One line for the user: QEMU's style has no error codes in it. A plugin bundles its own copy
 * of the SDK (and may run in another realm), so its errors are EmuhostErrors by name and code,
 * not by class.
 */
export function message(e: unknown): string {
  const {
    name,
    code,
    message: text,
  } = (e ?? {}) as { name?: unknown; code?: unknown; message?: unknown };
  const emuhost =
    e instanceof EmuhostError ||
    (name === 'EmuhostError' &&
      typeof code === 'string' &&
      typeof text === 'string' &&
      /^E_[A-Z_]+$/.test(code));
  return emuhost ? String(text).replace(/^E_[A-Z_]+: /, '') : describe(e);
}
