/**
 * Why a snapshot could not be taken or loaded: one error code (`E_SNAPSHOT`) with a reason a
 * program can switch on. Every reason but `refused` and `io` is found while the file is checked,
 * before anything running is touched.
 */
import { EmuhostError, type ErrorContext } from '@emuhost/sdk';

export type SnapshotErrorReason =
  /** The file ends before the length its header records. */
  | 'truncated'
  /** A checksum does not match, or the structure is broken. */
  | 'corrupt'
  /** Not a snapshot, or a format version this emuhost does not read. */
  | 'format'
  /** It was taken on another machine (plugins, devices, CPUs, RAM, drives differ). */
  | 'mismatch'
  /** A plugin's state version differs and the plugin has no migration for it. */
  | 'version'
  /** A plugin refused its state while it was being restored: everything was rolled back. */
  | 'refused'
  /** The machine cannot be snapshotted now (a device callback runs, a CPU without state). */
  | 'busy'
  /** No snapshot with that tag, or a file that cannot be read or written. */
  | 'io';

export class SnapshotError extends EmuhostError {
  constructor(
    readonly reason: SnapshotErrorReason,
    /** The message without the code, the reason and the context. */
    readonly detail: string,
    context: ErrorContext = {},
  ) {
    super('E_SNAPSHOT', `snapshot ${reason}: ${detail}`, context);
  }
}
