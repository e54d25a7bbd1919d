/**
 * A synchronous, nested RPC channel over a SharedArrayBuffer, between the kernel's thread
 * and an isolated plugin's worker.
 *
 * Calls nest across the two threads (the kernel calls a plugin's MMIO callback, which calls
 * its DMA context, which the kernel serves while still waiting for the callback's answer), so
 * there is one mailbox and the two sides strictly alternate: whoever is waiting receives the
 * next message, which is either the answer to its own call or a nested call to serve first.
 *
 * Values cross by value when they are data (primitives, arrays, plain objects, byte arrays)
 * and by reference otherwise (functions, objects with accessors or a class): the receiver
 * gets a stub that calls back. A Uint8Array argument is copied there and back, because it
 * may be an output (`dma.read(addr, into)`).
 */
import { deserialize, serialize } from 'node:v8';

/** Control words: [0] messages sent by side A, [1] by side B, [2] byte length of the message. */
const CTRL_BYTES = 16;

export interface ChannelBuffers {
  readonly sab: SharedArrayBuffer;
}

export function createChannelBuffers(dataBytes = 8 << 20): ChannelBuffers {
  return { sab: new SharedArrayBuffer(CTRL_BYTES + dataBytes) };
}

interface Ref {
  readonly $ref: number;
  readonly fn: boolean;
}

type Message =
  | {
      readonly t: 'call';
      readonly target: number;
      readonly prop: string | null;
      readonly args: unknown[];
    }
  | { readonly t: 'get'; readonly target: number; readonly prop: string }
  | { readonly t: 'return'; readonly value: unknown; readonly outs: Uint8Array[] }
  | {
      readonly t: 'throw';
      readonly name: string;
      readonly message: string;
      readonly code: string | undefined;
      /** The thrower's stack, as its realm formats it (plugin frames only, in the worker). */
      readonly stack: string | undefined;
    };

/** The other side is gone (its worker ended), or did not answer within the watchdog bound. */
export class ChannelClosedError extends Error {
  override readonly name = 'ChannelClosedError';
}

export interface EndpointOptions {
  /** 0 for the kernel's side, 1 for the worker's. */
  readonly side: 0 | 1;
  /** How long to wait for the other side before giving up, in ms (the watchdog). Default: forever. */
  readonly timeoutMs?: number;
  /** Called when a wait ran past the timeout; the endpoint is closed after it. */
  readonly onTimeout?: () => void;
  /**
   * Makes an error thrown to this side's callers (e.g. a realm-made Error in the worker, which
   * keeps a stack of its own: the other side's stack is the host's). Without it the error is
   * a plain Error whose stack is the other side's (the plugin's, on the kernel's side).
   */
  readonly makeError?: (name: string, message: string, code: string | undefined) => Error;
  /**
   * Runs after a call from the other side returns and before its answer is sent, when that
   * call is the outermost one this side serves (not one nested in a call of its own): the
   * isolated worker runs the plugin's promise jobs there, while the kernel still waits and can
   * serve what they call.
   */
  readonly afterOuterCall?: () => void;
}

/** One side of a channel. */
export class Endpoint {
  private readonly ctrl: Int32Array;
  private readonly data: Uint8Array;
  private readonly mine: number;
  private readonly theirs: number;
  private seen = 0;
  private sent = 0;
  private readonly exported = new Map<number, unknown>();
  private readonly exportedIds = new WeakMap<object, number>();
  private nextId = 1;
  /** Calls from the other side being served, nested. */
  private serving = 0;
  private readonly stubs = new Map<number, unknown>();
  /** What each stub stands for, so that a stub sent back arrives as the original object. */
  private readonly stubRefs = new WeakMap<object, Ref>();
  closed = false;

  constructor(
    buffers: ChannelBuffers,
    private readonly opts: EndpointOptions,
  ) {
    this.ctrl = new Int32Array(buffers.sab, 0, 4);
    this.data = new Uint8Array(buffers.sab, CTRL_BYTES);
    this.mine = opts.side;
    this.theirs = 1 - opts.side;
  }

  /** Makes `value` callable from the other side as ref `id` (the root objects both sides agree on). */
  exportAs(id: number, value: unknown): void {
    this.exported.set(id, value);
  }

  /** The other side's ref `id` as a local stub. */
  remote<T>(id: number, fn: boolean): T {
    return this.stub({ $ref: id, fn }) as T;
  }

  /** Serves calls for ever: the isolated worker's main loop (the kernel terminates the worker). */
  serveForever(): never {
    for (;;) this.handle(this.receive());
  }

  // ---- calling ---------------------------------------------------------------------------

  private invoke(msg: Message, args: unknown[]): unknown {
    if (this.closed) throw new ChannelClosedError('the isolated plugin is gone');
    const outs = args.filter(isBytes);
    this.send(msg);
    for (;;) {
      const m = this.receive();
      if (m.t === 'return') {
        for (let i = 0; i < outs.length && i < m.outs.length; i++)
          outs[i]!.set(m.outs[i]!.subarray(0, outs[i]!.length));
        return this.decode(m.value);
      }
      if (m.t === 'throw') {
        const make = this.opts.makeError;
        if (make !== undefined) throw make(m.name, m.message, m.code);
        const e = Object.assign(new Error(m.message), { name: m.name, code: m.code });
        if (m.stack !== undefined) e.stack = m.stack;
        throw e;
      }
      this.handle(m);
    }
  }

  private handle(m: Message): void {
    this.serving++;
    try {
      if (m.t === 'get') {
        const target = this.exported.get(m.target) as Record<string, unknown>;
        this.send({ t: 'return', value: this.encode(target[m.prop]), outs: [] });
        return;
      }
      if (m.t !== 'call') throw new Error(`unexpected ${m.t}`);
      const target = this.exported.get(m.target) as ((...a: unknown[]) => unknown) &
        Record<string, (...a: unknown[]) => unknown>;
      const args = m.args.map((a) => this.decode(a));
      const value = m.prop === null ? target(...args) : target[m.prop]!(...args);
      if (this.serving === 1) this.opts.afterOuterCall?.();
      const outs = args.filter(isBytes);
      this.send({ t: 'return', value: this.encode(value), outs });
    } catch (e) {
      if (e instanceof ChannelClosedError) throw e;
      // What the failed call queued runs now too, not at some later call.
      if (this.serving === 1 && m.t === 'call') this.opts.afterOuterCall?.();
      const err = e as { name?: unknown; message?: unknown; code?: unknown; stack?: unknown };
      this.send({
        t: 'throw',
        name: typeof err?.name === 'string' ? err.name : 'Error',
        message: typeof err?.message === 'string' ? err.message : String(e),
        code: typeof err?.code === 'string' ? err.code : undefined,
        stack: typeof err?.stack === 'string' ? err.stack : undefined,
      });
    } finally {
      this.serving--;
    }
  }

  // ---- values ----------------------------------------------------------------------------

  private encode(v: unknown, depth = 0): unknown {
    if ((typeof v === 'object' && v !== null) || typeof v === 'function') {
      const back = this.stubRefs.get(v);
      if (back !== undefined) return back;
    }
    if (v === null || typeof v !== 'object') {
      if (typeof v === 'function') return this.ref(v, true);
      if (typeof v === 'symbol') throw new TypeError('a symbol cannot cross to an isolated plugin');
      return v;
    }
    if (depth > 32) throw new TypeError('a value nests too deeply to cross');
    if (ArrayBuffer.isView(v)) return v;
    if (Array.isArray(v)) return v.map((x) => this.encode(x, depth + 1));
    // Plain means "a direct child of some realm's Object.prototype": the plugin's locked realm
    // has its own, so `=== Object.prototype` would call every realm object a reference.
    const proto = Object.getPrototypeOf(v);
    const plain = (proto === null || Object.getPrototypeOf(proto) === null) && !hasAccessor(v);
    if (!plain) return this.ref(v, false);
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v))
      out[k] = this.encode((v as Record<string, unknown>)[k], depth + 1);
    return out;
  }

  private decode(v: unknown): unknown {
    if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v)) return v;
    if (Array.isArray(v)) return v.map((x) => this.decode(x));
    const r = v as Partial<Ref> & Record<string, unknown>;
    if (typeof r.$ref === 'number' && typeof r.fn === 'boolean' && Object.keys(r).length === 2) {
      // Our own object coming home, or one of theirs.
      return r.$ref % 2 === this.mine ? this.exported.get(r.$ref) : this.stub(r as Ref);
    }
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(r)) out[k] = this.decode(r[k]);
    return out;
  }

  private ref(v: object, fn: boolean): Ref {
    let id = this.exportedIds.get(v);
    if (id === undefined) {
      id = this.nextId++ * 2 + this.mine; // ids from the two sides never collide
      this.exportedIds.set(v, id);
      this.exported.set(id, v);
    }
    return { $ref: id, fn };
  }

  private stub(r: Ref): unknown {
    const known = this.stubs.get(r.$ref);
    if (known !== undefined) return known;
    const target = r.$ref;
    let s: unknown;
    if (r.fn) {
      s = (...args: unknown[]) =>
        this.invoke({ t: 'call', target, prop: null, args: args.map((a) => this.encode(a)) }, args);
    } else {
      const methods = new Map<string, unknown>();
      s = new Proxy(Object.create(null), {
        get: (_t, prop) => {
          if (typeof prop !== 'string') return undefined;
          const cached = methods.get(prop);
          if (cached !== undefined) return cached;
          const v = this.invoke({ t: 'get', target, prop }, []);
          // Methods are stable; call them directly from now on (one round trip per call).
          if (typeof v === 'function') {
            const m = (...args: unknown[]) =>
              this.invoke({ t: 'call', target, prop, args: args.map((a) => this.encode(a)) }, args);
            methods.set(prop, m);
            return m;
          }
          return v;
        },
      });
    }
    this.stubs.set(r.$ref, s);
    this.stubRefs.set(s as object, r);
    return s;
  }

  // ---- the wire --------------------------------------------------------------------------

  private send(m: Message): void {
    const bytes = serialize(m);
    if (bytes.length > this.data.length)
      throw new RangeError(`a message of ${bytes.length} bytes exceeds the channel`);
    this.data.set(bytes);
    Atomics.store(this.ctrl, 2, bytes.length);
    Atomics.store(this.ctrl, this.mine, ++this.sent);
    Atomics.notify(this.ctrl, this.mine);
  }

  private receive(): Message {
    const timeout = this.opts.timeoutMs;
    const started = timeout === undefined ? 0 : performance.now();
    while (Atomics.load(this.ctrl, this.theirs) === this.seen) {
      if (timeout === undefined) {
        Atomics.wait(this.ctrl, this.theirs, this.seen);
        continue;
      }
      const left = timeout - (performance.now() - started);
      if (left <= 0) {
        this.closed = true;
        this.opts.onTimeout?.();
        throw new ChannelClosedError(
          `the plugin did not return within ${timeout} ms (a runaway loop?): the isolated level's watchdog stopped its worker`,
        );
      }
      Atomics.wait(this.ctrl, this.theirs, this.seen, Math.min(left, 50));
    }
    this.seen = Atomics.load(this.ctrl, this.theirs);
    const len = Atomics.load(this.ctrl, 2);
    return deserialize(this.data.slice(0, len)) as Message;
  }
}

/** A byte array of any realm (the plugin's locked realm has its own Uint8Array). */
function isBytes(a: unknown): a is Uint8Array {
  return ArrayBuffer.isView(a) && Object.prototype.toString.call(a) === '[object Uint8Array]';
}

function hasAccessor(o: object): boolean {
  for (const d of Object.values(Object.getOwnPropertyDescriptors(o)))
    if (d.get !== undefined || d.set !== undefined) return true;
  return false;
}
