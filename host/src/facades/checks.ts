/**
 * Argument checks of the handles a plugin instance holds, and the errors that reach plugin
 * code from them.
 *
 * A trusted plugin calls the facades directly (no membrane in between), so they check what
 * the membrane checks at the confined level: a callback that is not a function, an address
 * that is not a number, bytes that are not a Uint8Array are refused where they are passed,
 * with `E_BAD_ARGUMENT` naming the argument, instead of being kept and crashing the device
 * later. At the confined and isolated levels the membrane has checked already and these are a
 * second line.
 *
 * An error meant for plugin code carries only the plugin's frames, as errors made in plugin
 * realms do (see @emuhost/sandbox's stack-filter): never a host frame or a host path.
 */
import { PLUGIN_SCRIPT_PREFIX, SDK_SCRIPT } from '@emuhost/sandbox';
import { EmuhostError, type ErrorCode, type ErrorContext } from '@emuhost/sdk';

/** The stack of `e` with only its header and the frames of plugin code. */
export function pluginFramesOnly(stack: string): string {
  const lines = stack.split('\n');
  const first = lines.findIndex((l) => /^\s+at /.test(l));
  const head = first < 0 ? lines : lines.slice(0, first);
  const frames = first < 0 ? [] : lines.slice(first);
  return [
    ...head,
    ...frames.filter((l) => l.includes(PLUGIN_SCRIPT_PREFIX) || l.includes(`(${SDK_SCRIPT}:`)),
  ].join('\n');
}

/** An error thrown to plugin code: an `EmuhostError` whose stack shows plugin frames only. */
export function pluginError(code: ErrorCode, message: string, who: ErrorContext): EmuhostError {
  return forPlugin(new EmuhostError(code, message, who));
}

/** Keeps only plugin frames in `e`'s stack (an error on its way to plugin code); returns `e`. */
export function forPlugin<E>(e: E): E {
  if (e instanceof Error && typeof e.stack === 'string') {
    Object.defineProperty(e, 'stack', {
      value: pluginFramesOnly(e.stack),
      writable: true,
      configurable: true,
    });
  }
  return e;
}

/** Runs `f`; an error it throws goes to plugin code with plugin frames only. */
export function toPlugin<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw forPlugin(e);
  }
}

const typedArrayTag = Object.getOwnPropertyDescriptor(
  Object.getPrototypeOf(Uint8Array.prototype),
  Symbol.toStringTag,
)!.get!;

/**
 * A genuine Uint8Array of any realm (a trusted plugin's arrays are its context's, not the
 * host's, so `instanceof` would refuse them): the intrinsic getter reads the internal slot.
 */
export function isBytes(x: unknown): x is Uint8Array {
  return (
    x instanceof Uint8Array || (ArrayBuffer.isView(x) && typedArrayTag.call(x) === 'Uint8Array')
  );
}

/** The checks of one instance's handles; each names the argument and the call. */
export class ArgChecks {
  constructor(private readonly who: ErrorContext) {}

  fail(what: string, must: string, got: unknown): never {
    throw pluginError('E_BAD_ARGUMENT', `${what} must be ${must}, not ${describe(got)}`, this.who);
  }

  num(x: unknown, what: string): number {
    if (typeof x !== 'number') this.fail(what, 'a number', x);
    return x;
  }

  optNum(x: unknown, what: string): number | undefined {
    return x === undefined ? undefined : this.num(x, what);
  }

  big(x: unknown, what: string): bigint {
    if (typeof x !== 'bigint') this.fail(what, 'a bigint', x);
    return x;
  }

  str(x: unknown, what: string): string {
    if (typeof x !== 'string') this.fail(what, 'a string', x);
    return x;
  }

  fn<F>(x: F, what: string): F {
    if (typeof x !== 'function') this.fail(what, 'a function', x);
    return x;
  }

  optFn<F>(x: F | undefined, what: string): F | undefined {
    return x === undefined ? undefined : this.fn(x, what);
  }

  bytes(x: unknown, what: string): Uint8Array {
    if (!isBytes(x)) this.fail(what, 'a Uint8Array', x);
    return x;
  }

  oneOf<T extends string>(x: unknown, what: string, values: readonly T[]): T {
    if (!values.includes(x as T)) this.fail(what, values.map((v) => `'${v}'`).join(' or '), x);
    return x as T;
  }

  obj(x: unknown, what: string): Record<string, unknown> {
    if (typeof x !== 'object' || x === null) this.fail(what, 'an object', x);
    return x as Record<string, unknown>;
  }

  optObj(x: unknown, what: string): Record<string, unknown> | undefined {
    return x === undefined ? undefined : this.obj(x, what);
  }

  size(x: unknown, what: string, sizes: readonly number[]): number {
    if (!sizes.includes(x as number))
      this.fail(what, sizes.join(', ').replace(/, (\d+)$/, ' or $1'), x);
    return x as number;
  }
}

/** A short, safe description of a value for messages (no plugin code runs). */
function describe(x: unknown): string {
  if (x === null) return 'null';
  switch (typeof x) {
    case 'string':
      return `the string ${JSON.stringify(x.length > 20 ? `${x.slice(0, 20)}...` : x)}`;
    case 'number':
    case 'boolean':
    case 'bigint':
      return `${typeof x} ${String(x)}`;
    case 'undefined':
      return 'undefined';
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
    default:
      return Array.isArray(x)
        ? 'an array'
        : ArrayBuffer.isView(x)
          ? 'another typed array'
          : 'an object';
  }
}

/** A config-space access: an offset inside the 256 bytes, a size of 1, 2 or 4. */
export function configRange(arg: ArgChecks, offset: unknown, size: unknown, what: string): void {
  arg.num(offset, `${what}: offset`);
  arg.size(size, `${what}: size`, [1, 2, 4]);
  if (
    !Number.isInteger(offset) ||
    (offset as number) < 0 ||
    (offset as number) + (size as number) > 0x100
  )
    arg.fail(`${what}: offset`, 'inside config space (0..0xff)', offset);
}

/** Checks access rules as the plugin gave them (the object is kept: its methods may use `this`). */
export function checkRules(arg: ArgChecks, r: unknown): void {
  if (r === undefined) return;
  const o = arg.obj(r, 'mmio: rules');
  for (const side of ['valid', 'impl'] as const) {
    if (o[side] === undefined) continue;
    const s = arg.obj(o[side], `mmio: rules.${side}`);
    if (s.min !== undefined) arg.num(s.min, `mmio: rules.${side}.min`);
    if (s.max !== undefined) arg.num(s.max, `mmio: rules.${side}.max`);
    if (side === 'valid') arg.optFn(s.accepts, 'mmio: rules.valid.accepts');
  }
  if (o.endianness !== undefined)
    arg.oneOf(o.endianness, 'mmio: rules.endianness', ['little', 'big', 'native'] as const);
}
