/**
 * The one error family for host-side misuse: every error emuhost throws is an
 * `EmuhostError` with a stable `code` and the context that locates it.
 *
 * Guest-caused faults are never thrown (they are `MemTxResult`s); this is for a caller using
 * the API wrongly: overlapping a region that is already mapped elsewhere, a size that is not
 * a power of two, a plugin registering the same id twice.
 */
import { formatRange } from './address.js';

/**
 * Stable error codes. Codes never change meaning; new ones are added at the end of a group.
 * Grouped by the layer that raises them.
 */
export type ErrorCode =
  // memory
  | 'E_REGION_SIZE'
  | 'E_REGION_IN_USE'
  | 'E_REGION_NOT_CHILD'
  | 'E_REGION_KIND'
  | 'E_REGION_OFFSET'
  | 'E_ACCESS_RULES'
  | 'E_BAD_ARGUMENT'
  // registries
  | 'E_DUPLICATE_ID'
  | 'E_UNKNOWN_ID'
  // devices
  | 'E_DEVICE_REALIZE'
  // plugins
  | 'E_MANIFEST'
  | 'E_SDK_RANGE'
  | 'E_PLUGIN_SHAPE'
  | 'E_PLUGIN_EVAL'
  | 'E_PLUGIN_BUILD'
  | 'E_OPTION'
  | 'E_MACHINE_FILE'
  | 'E_CAPABILITY'
  | 'E_REVOKED'
  // device trees: a flattened device tree blob (a user's -dtb) that cannot be read
  | 'E_DTB'
  // the reference guest: fetching Debian's kernel, firmware and busybox
  | 'E_GUEST_FETCH'
  // whole-machine snapshots: a file that is truncated, corrupt, or does not fit the machine
  // (@since 1.6)
  | 'E_SNAPSHOT';

/** Where an error happened; every field optional, printed in a fixed order. */
export interface ErrorContext {
  readonly plugin?: string;
  readonly device?: string;
  readonly region?: string;
  readonly addr?: number;
  readonly len?: number;
}

/** An error with a stable code and context. Compare `code`, never the message. */
export class EmuhostError extends Error {
  override readonly name = 'EmuhostError';
  readonly code: ErrorCode;
  readonly context: ErrorContext;

  constructor(code: ErrorCode, message: string, context: ErrorContext = {}) {
    super(`${code}: ${message}${formatContext(context)}`);
    this.code = code;
    this.context = context;
  }
}

function formatContext(c: ErrorContext): string {
  const parts: string[] = [];
  if (c.plugin !== undefined) parts.push(`plugin ${c.plugin}`);
  if (c.device !== undefined) parts.push(`device ${c.device}`);
  if (c.region !== undefined) parts.push(`region ${c.region}`);
  if (c.addr !== undefined) {
    parts.push(
      c.len !== undefined ? `at ${formatRange(c.addr, c.len)}` : `at 0x${c.addr.toString(16)}`,
    );
  }
  return parts.length ? ` (${parts.join(', ')})` : '';
}
