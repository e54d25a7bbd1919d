/**
 * The membrane: the code that stands between plugin code in a locked realm and the kernel's
 * handles in the host realm.
 *
 * `makeMembrane` is evaluated INSIDE the locked realm from its own source text (see
 * locked-realm.ts), so every object and function it makes is the realm's own and hardened.
 * One rule makes the boundary: **only membrane code touches plugin values.** It reads the
 * plugin's definition and hands the host a description copied as plain data; it calls the
 * plugin's functions (create, callbacks, model methods) itself; it copies what they return
 * (state, MMIO values, translations) field by field; it turns whatever they throw into a
 * plain realm Error whose fields are strings. The host never calls, coerces or reads a
 * property of anything the plugin made: a plugin Proxy called from host code receives an
 * arguments array made in the host realm, whose `constructor.constructor` is the host's
 * `Function`, and from there `process`.
 *
 * In the other direction, plugin code gets only realm-made wrappers whose closures hold the
 * host's functions; results and host errors are copied into realm values; region handles are
 * opaque realm tokens; byte arrays reach the kernel as fresh realm views.
 *
 * The function must be self-contained: it is serialized with `toString()`, so it may use only
 * its parameter and the realm's globals, never anything of this module.
 */
// biome-ignore-all lint/suspicious/noExplicitAny: the membrane handles values of every kind by design

export interface PluginDescriptionData {
  readonly kind: 'device' | 'iommu' | 'machine' | 'cpu';
  readonly pci?: Record<string, number>;
  /** A CPU plugin's architecture and interrupt inputs. */
  readonly arch?: string;
  readonly irqInputs?: readonly string[];
  /** A machine plugin's CPUs: their architecture and the default model. */
  readonly cpu?: { readonly arch: string; readonly default: string };
  readonly platform?: boolean;
  readonly options?: Record<
    string,
    {
      type: 'number' | 'string' | 'boolean';
      default?: string | number | boolean;
      description: string;
    }
  >;
  readonly stateVersion?: number;
  readonly migrates: boolean;
}

/** What the host holds of one plugin: its description, and calls into it made by realm code. */
export interface PluginHandle {
  readonly description: PluginDescriptionData;
  createDevice(ctx: unknown, state: unknown): unknown;
  createIommu(ctx: unknown, state: unknown): unknown;
  createMachine(ctx: unknown): unknown;
  createCpu(ctx: unknown, state: unknown): unknown;
  migrateState(from: number, data: unknown): unknown;
}

export interface Membrane {
  /**
   * A plugin module's exports (realm values) as the host may hold them. With `wrapHandles`
   * false (the trusted level, which is no boundary) handles and models pass through as they are.
   */
  plugin(exports: unknown, wrapHandles: boolean): PluginHandle;
  /**
   * Evaluates a CommonJS bundle in a compartment with `module`, `exports` and `require` as its
   * globals: no `(function (exports, require, module) {...})` wrapper for the bundle's own text
   * to close early and replace with something the host would call.
   */
  evaluateModule(compartment: unknown, code: string, filename: string, require: unknown): unknown;
}

export function makeMembrane(harden: <T>(x: T) => T): Membrane {
  const U8 = Uint8Array;
  const apply = Reflect.apply;

  // The typed-array intrinsics, captured before any plugin code runs: plugin code can put an
  // own `set`, `buffer` or `length` on its arrays, so nothing is ever read through them.
  const taProto = Object.getPrototypeOf(U8.prototype);
  const getter = (k: PropertyKey) => Object.getOwnPropertyDescriptor(taProto, k)!.get!;
  const getTag = getter(Symbol.toStringTag);
  const getBuffer = getter('buffer');
  const getOffset = getter('byteOffset');
  const getLength = getter('byteLength');
  const getResizable = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'resizable')?.get;
  const isResizable = (b: unknown): boolean => {
    if (getResizable === undefined) return false;
    try {
      return apply(getResizable, b, []) === true;
    } catch {
      return true; // not an ArrayBuffer (a SharedArrayBuffer): never cached
    }
  };
  const TYPED: Record<string, any> = {
    Uint8Array,
    Int8Array,
    Uint8ClampedArray,
    Uint16Array,
    Int16Array,
    Uint32Array,
    Int32Array,
    Float32Array,
    Float64Array,
    BigUint64Array,
    BigInt64Array,
  };
  const typedCopy = (v: any): any => {
    const C = TYPED[apply(getTag, v, []) as string];
    if (C === undefined) throw new TypeError('only typed arrays (not DataViews) can cross');
    const src = new U8(apply(getBuffer, v, []), apply(getOffset, v, []), apply(getLength, v, []));
    const bytes = new U8(src.length);
    bytes.set(src);
    return new C(bytes.buffer);
  };

  // ---- errors ----------------------------------------------------------------------------

  /** A host error as a realm error, keeping its code and message only. */
  const realmError = (e: any): Error => {
    const err: any = new Error(typeof e?.message === 'string' ? e.message : String(e));
    err.name = 'EmuhostError';
    if (typeof e?.code === 'string') err.code = e.code;
    return err;
  };
  /**
   * Calls a host function; a host exception becomes a realm one. A realm TypeError is the
   * membrane's own argument check (made in this realm, so not a host object): it goes as is.
   */
  const call = (f: () => any): any => {
    try {
      return f();
    } catch (e) {
      if (e instanceof TypeError) throw e;
      throw realmError(e);
    }
  };
  /**
   * Whatever plugin code threw, as a plain realm Error whose fields are data strings: the
   * host reads `message` and `stack` of what reaches it, and those must not be plugin code.
   */
  const safeError = (e: any): Error => {
    const read = (f: () => unknown): string | undefined => {
      try {
        const v = f();
        return typeof v === 'string' ? v : v === undefined ? undefined : String(v);
      } catch {
        return undefined;
      }
    };
    let isError = false;
    try {
      isError = e instanceof Error;
    } catch {}
    const message =
      (isError ? read(() => e.message) : read(() => e)) ??
      'a plugin threw a value that cannot be shown';
    const err: any = new Error(message);
    err.name = (isError ? read(() => e.name) : undefined) ?? 'Error';
    err.stack = (isError ? read(() => e.stack) : undefined) ?? `${err.name}: ${message}`;
    const code = isError ? read(() => e.code) : undefined;
    if (code !== undefined) err.code = code;
    return err;
  };
  /** Runs plugin code; whatever it throws comes out as a safe realm Error. */
  const guarded = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      throw safeError(e);
    }
  };

  // ---- promises a callback returns ---------------------------------------------------------

  /**
   * Where a rejection of a promise a plugin callback returned goes (an async handler that
   * threw after an `await`): the device faults with that error, as if the callback had thrown.
   * Undefined when the host offers no way (an IOMMU, an in-process plugin).
   */
  type OnRejected = ((site: string, detail: string) => (e: any) => void) | undefined;
  const PromiseCtor = Promise;
  const promiseThen = Promise.prototype.then;
  /**
   * Watches `r`, what a plugin callback returned, when it is a promise. Called inside
   * `guarded` (a promise subclass runs plugin code in `then`); costs one typeof otherwise.
   */
  const watchAsync = (r: any, onRejected: ((e: any) => void) | undefined): void => {
    if (onRejected === undefined || typeof r !== 'object' || r === null) return;
    if (r instanceof PromiseCtor) apply(promiseThen, r, [undefined, onRejected]);
  };
  /** The device's `hostFault` (a host function, not in the SDK) as an `OnRejected`. */
  const rejectionsTo = (h: any): OnRejected => {
    const hFault = h.hostFault;
    if (typeof hFault !== 'function') return undefined;
    // Strings only cross: the host never holds a realm object.
    return (site, detail) => (e) => {
      const err: any = safeError(e);
      call(() =>
        hFault(
          site,
          String(err.name),
          String(err.message),
          String(err.stack),
          `${detail}: a promise it returned was rejected`,
        ),
      );
    };
  };

  // ---- data across -----------------------------------------------------------------------

  /**
   * Data re-made by realm code: primitives, arrays, plain objects and typed arrays, nothing
   * else (no getters, functions or proxies' traps survive). `out` is plugin data going to the
   * host, which must also be plain objects; host data coming in (saved state, options) only
   * needs copying.
   */
  const copyData = (v: any, out: boolean, depth: number): any => {
    if (depth > 64) throw new TypeError('state nests too deeply');
    const t = typeof v;
    if (
      v === null ||
      t === 'undefined' ||
      t === 'number' ||
      t === 'string' ||
      t === 'boolean' ||
      t === 'bigint'
    )
      return v;
    if (t !== 'object')
      throw new TypeError(
        out ? `a plugin's state may not hold a ${t}` : `cannot pass a ${t} into a plugin`,
      );
    if (ArrayBuffer.isView(v)) return typedCopy(v);
    if (Array.isArray(v)) {
      const arr: any[] = [];
      for (let i = 0; i < v.length; i++) arr.push(copyData(v[i], out, depth + 1));
      return arr;
    }
    if (out) {
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null)
        throw new TypeError('a plugin state holds plain objects, arrays and typed arrays only');
    }
    const obj: any = {};
    for (const k of Object.keys(v)) obj[k] = copyData(v[k], out, depth + 1);
    return obj;
  };
  /** Host data (saved state, options) into realm data. */
  const copyIn = (v: any): any => copyData(v, false, 0);
  /** Plugin data out to the host. */
  const copyOut = (v: any): any => copyData(v, true, 0);

  const num = (x: any, what: string): number => {
    if (typeof x !== 'number') throw new TypeError(`${what} must be a number`);
    return x;
  };
  const str = (x: any, what: string): string => {
    if (typeof x !== 'string') throw new TypeError(`${what} must be a string`);
    return x;
  };
  const big = (x: any, what: string): bigint => {
    if (typeof x !== 'bigint') throw new TypeError(`${what} must be a bigint`);
    return x;
  };
  const fn = (x: any, what: string): ((...a: any[]) => any) => {
    if (typeof x !== 'function') throw new TypeError(`${what} must be a function`);
    return x;
  };
  /**
   * A plugin's byte array as the kernel may use it: a fresh realm view over the same bytes,
   * with nothing of the plugin's on it. The intrinsic getters are also the brand check: a
   * proxy, a look-alike or another kind of array is refused.
   */
  // Devices reuse one buffer for transfer after transfer, so the last array's view is kept:
  // an identity check runs no plugin code, and a typed array's buffer, offset and length are
  // fixed once made (a length-tracking view is re-made each time, as it can change).
  let lastArray: unknown;
  let lastView: Uint8Array | undefined;
  const bytes = (x: any, what: string): Uint8Array => {
    if (x === lastArray) return lastView!;
    if (apply(getTag, x, []) !== 'Uint8Array') throw new TypeError(`${what} must be a Uint8Array`);
    const buffer = apply(getBuffer, x, []);
    const view = new U8(buffer, apply(getOffset, x, []), apply(getLength, x, []));
    if (!isResizable(buffer)) {
      lastArray = x;
      lastView = view;
    }
    return view;
  };

  const dmaError = (r: any): any =>
    harden({
      result: String(r.result),
      ...(r.reason !== undefined && { reason: String(r.reason) }),
      addr: Number(r.addr),
      completed: Number(r.completed),
    });
  const dmaResult = (r: any): any => (r === 'ok' ? 'ok' : dmaError(r));
  const loadResult = (r: any): any =>
    typeof r === 'number' || typeof r === 'bigint' ? r : dmaError(r);

  // The kernel passes the same few frozen attribute objects (the CPU's, one per requester):
  // remember the realm copy of the last one, and of each by identity.
  const attrsCache = new WeakMap<object, any>();
  let lastHostAttrs: any;
  let lastRealmAttrs: any;
  const attrsIn = (a: any): any => {
    if (a === lastHostAttrs) return lastRealmAttrs;
    let r = typeof a === 'object' && a !== null ? attrsCache.get(a) : undefined;
    if (r === undefined) {
      const rid = a?.requesterId;
      r = harden({
        ...(typeof rid === 'number' && { requesterId: rid }),
        ...(a?.unspecified === true && { unspecified: true }),
      });
      if (typeof a === 'object' && a !== null) attrsCache.set(a, r);
    }
    lastHostAttrs = a;
    lastRealmAttrs = r;
    return r;
  };

  // ---- handles ---------------------------------------------------------------------------

  /**
   * The mappings an instance holds, as realm copies. A view of guest RAM is a host object, so
   * the realm gets a copy, written back at release; a write mapping also keeps the bytes as
   * mapped, so that when the instance goes (hot reload) what it changed, and only that, is
   * stored into the kernel's mapping for the next instance to adopt.
   */
  interface RealmMapping {
    readonly host: any;
    readonly buf: Uint8Array;
    readonly orig: Uint8Array | undefined;
  }
  const dma = (h: any, live: Set<RealmMapping>): any => {
    const hRead = h.read;
    const hWrite = h.write;
    const realmMapping = (m: any): any => {
      const hostBytes = m.bytes;
      const buf = new U8(hostBytes.length);
      buf.set(hostBytes);
      const mAddr = Number(m.addr);
      const mAccess = String(m.access);
      const entry: RealmMapping = {
        host: m,
        buf,
        orig: mAccess === 'write' ? new U8(buf) : undefined,
      };
      live.add(entry);
      return harden({
        bytes: buf,
        addr: mAddr,
        access: mAccess,
        shortfall: Number(m.shortfall),
        direct: false,
        get valid() {
          return m.valid === true;
        },
        release: (written: any) => {
          const n = Math.max(0, Math.min(num(written, 'written'), buf.length));
          live.delete(entry);
          // The copy goes back through the context while the mapping still stands (the same
          // translation the map used), never through a live view of host memory.
          if (mAccess === 'write' && n > 0 && m.valid === true) {
            const r = call(() => hWrite(mAddr, buf.subarray(0, n)));
            if (r !== 'ok') {
              call(() => m.release(0));
              return dmaError(r);
            }
          }
          return dmaResult(call(() => m.release(0)));
        },
      });
    };
    const sg = (list: any, what: string): { addr: number; len: number }[] => {
      if (!Array.isArray(list)) throw new TypeError(`${what} must be an array`);
      // An index loop, not `list.map`: the plugin may have put its own `map` on the array.
      const out: { addr: number; len: number }[] = [];
      for (let i = 0; i < list.length; i++) {
        const e = list[i];
        out.push({
          addr: num(e?.addr, `${what}[${i}].addr`),
          len: num(e?.len, `${what}[${i}].len`),
        });
      }
      return out;
    };
    const sgResult = (r: any): any =>
      harden({
        result: dmaResult(r.result),
        transferred: Number(r.transferred),
        residual: Number(r.residual),
      });
    const o: any = {
      // The hot paths call the host directly (no closure per crossing).
      read: (a: any, into: any) => {
        const addr = num(a, 'addr');
        const buf = bytes(into, 'into');
        let r: any;
        try {
          r = hRead(addr, buf);
        } catch (e) {
          throw realmError(e);
        }
        return r === 'ok' ? 'ok' : dmaError(r);
      },
      write: (a: any, data: any) => {
        const addr = num(a, 'addr');
        const buf = bytes(data, 'data');
        let r: any;
        try {
          r = hWrite(addr, buf);
        } catch (e) {
          throw realmError(e);
        }
        return r === 'ok' ? 'ok' : dmaError(r);
      },
      fill: (a: any, b: any, len: any) =>
        dmaResult(call(() => h.fill(num(a, 'addr'), num(b, 'byte'), num(len, 'len')))),
      canAccess: (a: any, len: any, access: any) =>
        call(() => h.canAccess(num(a, 'addr'), num(len, 'len'), str(access, 'access'))) === true,
      map: (a: any, len: any, access: any, onInvalidate?: any) => {
        let realm: any;
        const cb = onInvalidate === undefined ? undefined : fn(onInvalidate, 'onInvalidate');
        const notify = cb === undefined ? undefined : () => guarded(() => cb(realm));
        const m = call(() => h.map(num(a, 'addr'), num(len, 'len'), str(access, 'access'), notify));
        if (typeof m?.release !== 'function') return dmaError(m);
        realm = realmMapping(m);
        return realm;
      },
      adoptMappings: (onInvalidate?: any) => {
        const cb = onInvalidate === undefined ? undefined : fn(onInvalidate, 'onInvalidate');
        if (typeof h.adoptMappings !== 'function') return harden([]);
        // One notifier for all of them: the host says which mapping, the realm copy is found.
        const byHost = new Map<any, any>();
        const notify =
          cb === undefined
            ? undefined
            : (hm: any) => {
                const r = byHost.get(hm);
                if (r !== undefined) guarded(() => cb(r));
              };
        const got = call(() => h.adoptMappings(notify));
        const out: any[] = [];
        for (let i = 0; i < got.length; i++) {
          const r = realmMapping(got[i]);
          byHost.set(got[i], r);
          out.push(r);
        }
        return harden(out);
      },
      ...(typeof h.bypassIommu === 'function' && {
        bypassIommu: (on: any) => call(() => h.bypassIommu(on === true)),
      }),
      readSg: (list: any, into: any) =>
        sgResult(call(() => h.readSg(sg(list, 'sg'), bytes(into, 'into')))),
      writeSg: (list: any, data: any) =>
        sgResult(call(() => h.writeSg(sg(list, 'sg'), bytes(data, 'data')))),
    };
    for (const k of [
      'readU8',
      'readU16LE',
      'readU16BE',
      'readU32LE',
      'readU32BE',
      'readU64LE',
      'readU64BE',
    ]) {
      const f = h[k];
      o[k] = (a: any) => {
        const addr = num(a, 'addr');
        let r: any;
        try {
          r = f(addr);
        } catch (e) {
          throw realmError(e);
        }
        return loadResult(r);
      };
    }
    for (const k of ['writeU8', 'writeU16LE', 'writeU16BE', 'writeU32LE', 'writeU32BE']) {
      const f = h[k];
      o[k] = (a: any, v: any) => dmaResult(call(() => f(num(a, 'addr'), num(v, 'value'))));
    }
    for (const k of ['writeU64LE', 'writeU64BE']) {
      const f = h[k];
      o[k] = (a: any, v: any) => dmaResult(call(() => f(num(a, 'addr'), big(v, 'value'))));
    }
    return harden(o);
  };

  const irq = (h: any): any =>
    harden({
      get level() {
        return h.level === 1 ? 1 : 0;
      },
      set: (l: any) => call(() => h.set(l ? 1 : 0)),
      raise: () => call(() => h.raise()),
      lower: () => call(() => h.lower()),
      pulse: () => call(() => h.pulse()),
    });

  const clock = (h: any, rejected: OnRejected): any =>
    harden({
      now: () => Number(call(() => h.now())),
      timer: (name: any, cb: any) => {
        const f = fn(cb, 'callback');
        const n = str(name, 'name');
        const r = rejected?.('timer', `timer '${n}'`);
        const t = call(() =>
          h.timer(
            n,
            () =>
              void guarded(() => {
                watchAsync(f(), r);
              }),
          ),
        );
        return harden({
          armAt: (ns: any) => call(() => t.armAt(num(ns, 'ns'))),
          armIn: (ns: any) => call(() => t.armIn(num(ns, 'ns'))),
          cancel: () => call(() => t.cancel()),
          get pending() {
            return t.pending === true;
          },
          get deadline() {
            return Number(t.deadline);
          },
        });
      },
    });

  const log = (h: any): any =>
    harden({
      debug: (m: any) => call(() => h.debug(String(m))),
      info: (m: any) => call(() => h.info(String(m))),
      warn: (m: any) => call(() => h.warn(String(m))),
      error: (m: any) => call(() => h.error(String(m))),
    });

  /** Region handles: realm tokens for host handles; only tokens this membrane issued are accepted. */
  const makeRegions = () => {
    const toHost = new WeakMap<object, any>();
    return {
      issue(host: any): any {
        const token = harden({ name: String(host.name), size: Number(host.size) });
        toHost.set(token, host);
        return token;
      },
      host(token: any, what: string): any {
        const h = typeof token === 'object' && token !== null ? toHost.get(token) : undefined;
        if (h === undefined)
          throw new TypeError(`${what}: not a region handle this plugin was given`);
        return h;
      },
    };
  };

  /** Plugin MMIO callbacks as the kernel calls them: realm attrs in, checked values out. */
  const mmioOps = (ops: any, name: string, rejected: OnRejected): any => {
    const read = fn(ops?.read, 'ops.read');
    const write = fn(ops?.write, 'ops.write');
    // The kernel gets a number, a bigint, or a result string, never a plugin object.
    const value = (r: any): any =>
      typeof r === 'number' || typeof r === 'bigint' || typeof r === 'string' ? r : 'access-error';
    const at = (o: number) => `region '${name}' offset 0x${o.toString(16)}`;
    return harden({
      read: (o: number, s: number, a: any) =>
        value(
          guarded(() => {
            const r = apply(read, ops, [o, s, attrsIn(a)]);
            if (typeof r === 'object') watchAsync(r, rejected?.('mmio-read', at(o)));
            return r;
          }),
        ),
      write: (o: number, s: number, v: number | bigint, a: any) => {
        const r = guarded(() => {
          const w = apply(write, ops, [o, s, v, attrsIn(a)]);
          if (typeof w === 'object') watchAsync(w, rejected?.('mmio-write', at(o)));
          return w;
        });
        return typeof r === 'string' ? r : undefined;
      },
    });
  };
  const rules = (r: any): any => {
    if (r === undefined) return undefined;
    const side = (x: any) =>
      x === undefined
        ? undefined
        : {
            ...(x.min !== undefined && { min: num(x.min, 'min') }),
            ...(x.max !== undefined && { max: num(x.max, 'max') }),
            ...(x.unaligned !== undefined && { unaligned: x.unaligned === true }),
          };
    const accepts =
      r.valid?.accepts === undefined ? undefined : fn(r.valid.accepts, 'valid.accepts');
    const valid = side(r.valid);
    const impl = side(r.impl);
    const check =
      accepts === undefined
        ? undefined
        : (o: number, s: number, w: boolean) => guarded(() => accepts(o, s, w)) === true;
    return {
      ...(valid !== undefined && {
        valid: { ...valid, ...(check !== undefined && { accepts: check }) },
      }),
      ...(impl !== undefined && { impl }),
      ...(r.endianness !== undefined && { endianness: str(r.endianness, 'endianness') }),
    };
  };
  const platform = (h: any, regions: ReturnType<typeof makeRegions>): any =>
    h === undefined
      ? undefined
      : harden({
          map: (t: any, addr: any, prio?: any) =>
            call(() =>
              h.map(
                regions.host(t, 'map'),
                num(addr, 'addr'),
                prio === undefined ? undefined : num(prio, 'priority'),
              ),
            ),
          mapIo: (t: any, port: any) =>
            call(() => h.mapIo(regions.host(t, 'mapIo'), num(port, 'port'))),
          irq: (name: any) => irq(call(() => h.irq(str(name, 'name')))),
          slot: (kind: any) => {
            const got = call(() => h.slot(str(kind, 'kind')));
            return got === undefined
              ? undefined
              : harden({ base: Number(got.base), size: Number(got.size), irq: irq(got.irq) });
          },
        });
  /** Block, entropy, network and character backends: wrapped like the other handles. */
  const blockBackend = (b: any): any =>
    harden({
      id: String(b.id),
      get size() {
        return Number(call(() => b.size));
      },
      readOnly: b.readOnly === true,
      discard: String(b.discard),
      read: (o: any, into: any) =>
        String(call(() => b.read(num(o, 'offset'), bytes(into, 'into')))),
      write: (o: any, data: any) =>
        String(call(() => b.write(num(o, 'offset'), bytes(data, 'data')))),
      flush: () => String(call(() => b.flush())),
      discardRange: (o: any, len: any) =>
        String(call(() => b.discardRange(num(o, 'offset'), num(len, 'len')))),
      onResize: (cb: any) => {
        const f = fn(cb, 'callback');
        call(() => b.onResize(() => void guarded(() => f())));
      },
    });
  const entropySource = (e: any): any =>
    harden({
      id: String(e.id),
      fill: (into: any) => Number(call(() => e.fill(bytes(into, 'into')))),
    });
  const netBackend = (n: any): any =>
    harden({
      id: String(n.id),
      send: (frame: any) => call(() => n.send(bytes(frame, 'frame'))),
      connect: (fe: any) => {
        const can = fn(fe?.canReceive, 'canReceive');
        const recv = fn(fe?.receive, 'receive');
        call(() =>
          n.connect({
            canReceive: () => guarded(() => can()) === true,
            receive: (frame: Uint8Array) => void guarded(() => recv(typedCopy(frame))),
          }),
        );
      },
      ready: () => call(() => n.ready()),
    });
  const charBackend = (c: any): any =>
    harden({
      write: (data: any) => call(() => c.write(bytes(data, 'bytes'))),
      connect: (fe: any) => {
        const can = fn(fe?.canReceive, 'canReceive');
        const recv = fn(fe?.receive, 'receive');
        call(() =>
          c.connect({
            canReceive: () => Number(guarded(() => can())) || 0,
            receive: (data: Uint8Array) => void guarded(() => recv(typedCopy(data))),
          }),
        );
      },
      ready: () => call(() => c.ready()),
    });
  const mmio =
    (h: any, regions: ReturnType<typeof makeRegions>, rejected: OnRejected) =>
    (name: any, size: any, ops: any, r?: any) => {
      const n = str(name, 'name');
      const sz = num(size, 'size');
      const wrapped = mmioOps(ops, n, rejected);
      const rr = rules(r);
      return regions.issue(call(() => h.mmio(n, sz, wrapped, rr)));
    };
  const lazy = (get: () => any) => {
    let v: any;
    let done = false;
    return () => {
      if (!done) {
        v = get();
        done = true;
      }
      return v;
    };
  };

  /** Stores what an instance changed in its write mappings' copies into the kernel's mappings. */
  const flush = (live: Set<RealmMapping>): void => {
    for (const e of live) {
      const { buf, orig, host } = e;
      if (orig === undefined || host.valid !== true) continue;
      for (let i = 0; i < buf.length; ) {
        if (buf[i] === orig[i]) {
          i++;
          continue;
        }
        let j = i + 1;
        while (j < buf.length && buf[j] !== orig[j]) j++;
        const at = i;
        call(() => host.store(at, buf.subarray(at, j)));
        i = j;
      }
    }
    live.clear();
  };

  const deviceContext = (h: any, live: Set<RealmMapping>): any => {
    const regions = makeRegions();
    const rejected = rejectionsTo(h);
    const pciH = h.pci;
    const pci =
      pciH === undefined
        ? undefined
        : harden({
            requesterId: Number(pciH.requesterId),
            bar: (i: any, spec: any, t: any) => {
              const s = {
                kind: str(spec?.kind, 'kind'),
                size: num(spec?.size, 'size'),
                ...(spec?.is64 !== undefined && { is64: spec.is64 === true }),
                ...(spec?.prefetchable !== undefined && {
                  prefetchable: spec.prefetchable === true,
                }),
              };
              const region = regions.host(t, 'bar');
              return call(() => pciH.bar(num(i, 'index'), s, region));
            },
            addMsi: (spec?: any) => {
              const sp = spec === undefined ? undefined : copyOut(spec);
              const m = call(() => pciH.addMsi(sp));
              return harden({
                get enabled() {
                  return m.enabled === true;
                },
                notify: (v?: any) => {
                  const vec = v === undefined ? undefined : num(v, 'vector');
                  const r = call(() => m.notify(vec));
                  return r === undefined ? undefined : dmaResult(r);
                },
              });
            },
            configRead: (o: any, s: any) =>
              Number(call(() => pciH.configRead(num(o, 'offset'), num(s, 'size')))),
            configSet: (o: any, s: any, v: any) =>
              call(() => pciH.configSet(num(o, 'offset'), num(s, 'size'), num(v, 'value'))),
            configSetWritable: (o: any, s: any, m: any) =>
              call(() => pciH.configSetWritable(num(o, 'offset'), num(s, 'size'), num(m, 'mask'))),
            onConfigWrite: (cb: any) => {
              const f = fn(cb, 'callback');
              call(() =>
                pciH.onConfigWrite(
                  (o: number, s: number, v: number) =>
                    void guarded(() => {
                      watchAsync(
                        f(o, s, v),
                        rejected?.('config-write', `config write at 0x${o.toString(16)}`),
                      );
                    }),
                ),
              );
            },
            addMsix: (spec: any) => {
              const sp = { vectors: num(spec?.vectors, 'vectors'), bar: num(spec?.bar, 'bar') };
              const m = call(() => pciH.addMsix(sp));
              if (m === undefined) return undefined;
              return harden({
                get enabled() {
                  return m.enabled === true;
                },
                vectors: Number(m.vectors),
                notify: (v: any) => {
                  const r = call(() => m.notify(num(v, 'vector')));
                  return r === undefined ? undefined : dmaResult(r);
                },
                masked: (v: any) => call(() => m.masked(num(v, 'vector'))) === true,
                save: () => {
                  const st = call(() => m.save());
                  return harden({ table: typedCopy(st.table), pba: typedCopy(st.pba) });
                },
                restore: (st: any) =>
                  call(() =>
                    m.restore({
                      table: typedCopy(bytes(st?.table, 'table')),
                      pba: typedCopy(bytes(st?.pba, 'pba')),
                    }),
                  ),
              });
            },
            addCapability: (spec: any) => {
              const sp = {
                id: num(spec?.id, 'id'),
                body: typedCopy(bytes(spec?.body, 'body')),
                ...(spec?.writable !== undefined && {
                  writable: typedCopy(bytes(spec.writable, 'writable')),
                }),
                ...(spec?.offset !== undefined && { offset: num(spec.offset, 'offset') }),
              };
              return Number(call(() => pciH.addCapability(sp)));
            },
            onConfigRead: (cb: any) => {
              const f = fn(cb, 'callback');
              call(() =>
                pciH.onConfigRead((o: number, s: number, v: number) => {
                  const r = guarded(() => f(o, s, v));
                  return typeof r === 'number' ? r : v;
                }),
              );
            },
          });
    const getIrq = lazy(() => irq(call(() => h.irq)));
    // Granted handles are plain data properties (plugins read `ctx.dma` per transfer); one
    // the manifest did not ask for stays a getter that throws the host's error.
    const granted = (get: () => any): PropertyDescriptor => {
      try {
        return { value: get(), enumerable: true };
      } catch {
        return { get, enumerable: true };
      }
    };
    return harden(
      Object.defineProperties(
        {
          id: String(h.id),
          options: harden(copyIn(h.options)),
          log: log(h.log),
          get irq() {
            return getIrq();
          },
          mmio: mmio(h, regions, rejected),
          pci,
          platform: platform(h.platform, regions),
          block: (id: any) => blockBackend(call(() => h.block(str(id, 'id')))),
          entropy: (id?: any) =>
            entropySource(call(() => h.entropy(id === undefined ? undefined : str(id, 'id')))),
          netdev: (id: any) => netBackend(call(() => h.netdev(str(id, 'id')))),
          chardev: (id: any) => charBackend(call(() => h.chardev(str(id, 'id')))),
        },
        {
          clock: granted(() =>
            clock(
              call(() => h.clock),
              rejected,
            ),
          ),
          dma: granted(() =>
            dma(
              call(() => h.dma),
              live,
            ),
          ),
        },
      ),
    );
  };

  const iommuContext = (h: any, live: Set<RealmMapping>): any => {
    const regions = makeRegions();
    const getClock = lazy(() =>
      clock(
        call(() => h.clock),
        undefined,
      ),
    );
    return harden({
      id: String(h.id),
      options: harden(copyIn(h.options)),
      log: log(h.log),
      get clock() {
        return getClock();
      },
      host: harden({
        invalidate: (scope?: any) => {
          const req =
            scope?.requesters === undefined ? undefined : fn(scope.requesters, 'requesters');
          const s =
            scope === undefined
              ? undefined
              : {
                  ...(scope.iova !== undefined && { iova: num(scope.iova, 'iova') }),
                  ...(scope.len !== undefined && { len: num(scope.len, 'len') }),
                  ...(req !== undefined && {
                    requesters: (rid: number) => guarded(() => req(rid)) === true,
                  }),
                };
          call(() => h.host.invalidate(s));
        },
      }),
      memory: dma(h.memory, live),
      mmio: mmio(h, regions, undefined),
      platform: platform(h.platform, regions),
    });
  };

  // ---- what the kernel calls ---------------------------------------------------------------

  /** A device model as the kernel calls it: realm code calls the plugin, results come out as copies. */
  const deviceModel = (m: any, live: Set<RealmMapping>): any => {
    if (m === null || typeof m !== 'object')
      throw new TypeError('create must return an object (the device model)');
    const reset = m.reset;
    const save = m.saveState;
    const dispose = m.dispose;
    return harden({
      ...(typeof reset === 'function' && { reset: () => void guarded(() => apply(reset, m, [])) }),
      ...(typeof save === 'function' && {
        saveState: () => guarded(() => copyOut(apply(save, m, []))),
      }),
      // Always there: what the instance wrote into its mapping copies must reach the kernel.
      dispose: () => {
        try {
          if (typeof dispose === 'function') guarded(() => apply(dispose, m, []));
        } finally {
          flush(live);
        }
      },
    });
  };

  // The kernel passes the same frozen request object per requester (one with probe set, one
  // without): the realm copy is found by identity, as attributes are (attrsIn). A request that
  // arrives fresh each time (over the isolated level's channel) is copied each time.
  const reqCopies = [new WeakMap<object, any>(), new WeakMap<object, any>()];
  let lastReqHost: unknown;
  let lastReqRealm: any;
  const iommuModel = (m: any, live: Set<RealmMapping>): any => {
    const base = deviceModel(m, live);
    const translate = fn(m?.translate, 'translate');
    const attach = typeof m.attach === 'function' ? m.attach : undefined;
    const detach = typeof m.detach === 'function' ? m.detach : undefined;
    const info = typeof m.info === 'function' ? m.info : undefined;
    const req = (r: any, withProbe: boolean) => {
      if (withProbe && r === lastReqHost) return lastReqRealm;
      const copies = reqCopies[withProbe ? 1 : 0]!;
      const keyed = typeof r === 'object' && r !== null;
      let v = keyed ? copies.get(r) : undefined;
      if (v === undefined) {
        v = harden({
          requesterId: Number(r.requesterId),
          device: String(r.device),
          ...(withProbe && { probe: r.probe === true }),
        });
        if (keyed) copies.set(r, v);
      }
      if (withProbe) {
        lastReqHost = r;
        lastReqRealm = v;
      }
      return v;
    };
    return harden({
      ...base,
      // Copied field by field in the realm, so the kernel never runs plugin getters.
      translate: (iova: number, access: string, r: any) =>
        guarded(() => {
          const e = apply(translate, m, [iova, access, req(r, true)]);
          return e?.kind === 'entry'
            ? {
                kind: 'entry',
                iova: Number(e.iova),
                translated: Number(e.translated),
                pageSize: Number(e.pageSize),
                perm: String(e.perm),
              }
            : {
                kind: 'fault',
                reason: String(e?.reason),
                ...(e?.detail !== undefined && { detail: String(e.detail) }),
              };
        }),
      ...(attach !== undefined && {
        attach: (r: any) => void guarded(() => apply(attach, m, [req(r, false)])),
      }),
      ...(detach !== undefined && {
        detach: (r: any) => void guarded(() => apply(detach, m, [req(r, false)])),
      }),
      // Lines for `info iommu`, copied out as strings.
      ...(info !== undefined && {
        info: () =>
          guarded(() => {
            const lines = apply(info, m, []);
            return Array.isArray(lines) ? lines.map((l) => String(l)) : [];
          }),
      }),
    });
  };

  // ---- plugins ---------------------------------------------------------------------------

  /** The description of a plugin definition, copied field by field as primitives. */
  const describe = (def: any): PluginDescriptionData => {
    if (def === null || typeof def !== 'object')
      throw new TypeError(
        'the bundle does not export a plugin (export default definePlugin({...}))',
      );
    const kind = def.kind;
    if (kind !== 'device' && kind !== 'iommu' && kind !== 'machine' && kind !== 'cpu')
      throw new TypeError(`unknown plugin kind '${String(kind)}'`);
    if (typeof def.create !== 'function') throw new TypeError('the plugin has no create function');
    const out: any = { kind, migrates: typeof def.migrateState === 'function' };
    const p = def.pci;
    if (p !== undefined) {
      const pci: Record<string, number> = {};
      for (const k of [
        'vendorId',
        'deviceId',
        'revision',
        'classCode',
        'subsystemVendorId',
        'subsystemId',
        'interruptPin',
      ]) {
        const v = p?.[k];
        if (v !== undefined) pci[k] = num(v, `pci.${k}`);
      }
      for (const k of ['vendorId', 'deviceId', 'classCode'])
        if (pci[k] === undefined) throw new TypeError(`pci.${k} is required`);
      out.pci = pci;
    }
    if (def.platform !== undefined) out.platform = def.platform === true;
    if (kind === 'cpu') {
      out.arch = str(def.arch, 'arch');
      const inputs = def.irqInputs;
      if (!Array.isArray(inputs)) throw new TypeError('irqInputs must be an array of names');
      out.irqInputs = inputs.map((n: unknown, i: number) => str(n, `irqInputs[${i}]`));
    }
    if (kind === 'machine' && def.cpu !== undefined)
      out.cpu = {
        arch: str(def.cpu?.arch, 'cpu.arch'),
        default: str(def.cpu?.default, 'cpu.default'),
      };
    if (def.stateVersion !== undefined) out.stateVersion = num(def.stateVersion, 'stateVersion');
    if (def.options !== undefined) {
      const opts: any = {};
      for (const k of Object.keys(def.options)) {
        const o = def.options[k];
        const type = o?.type;
        if (type !== 'number' && type !== 'string' && type !== 'boolean')
          throw new TypeError(`options.${k}.type must be number, string or boolean`);
        const d = o.default;
        if (d !== undefined && typeof d !== type)
          throw new TypeError(`options.${k}.default must be a ${type}`);
        opts[k] = {
          type,
          ...(d !== undefined && { default: d }),
          description: String(o.description ?? ''),
        };
      }
      out.options = opts;
    }
    return harden(out);
  };

  const plugin = (exports: any, wrapHandles: boolean): PluginHandle => {
    const def = guarded(() =>
      exports !== null && typeof exports === 'object' && 'default' in exports
        ? exports.default
        : exports,
    );
    const description = guarded(() => describe(def));
    const create = def.create;
    const migrate = def.migrateState;
    return harden({
      description,
      createDevice: (ctx: unknown, state: unknown) => {
        if (!wrapHandles) return apply(create, def, [ctx, state]);
        const live = new Set<RealmMapping>();
        return deviceModel(
          guarded(() => apply(create, def, [deviceContext(ctx, live), copyIn(state)])),
          live,
        );
      },
      createIommu: (ctx: unknown, state: unknown) => {
        if (!wrapHandles) return apply(create, def, [ctx, state]);
        const live = new Set<RealmMapping>();
        return iommuModel(
          guarded(() => apply(create, def, [iommuContext(ctx, live), copyIn(state)])),
          live,
        );
      },
      createMachine: (ctx: unknown) => {
        if (wrapHandles)
          throw new Error(
            'machine plugins build the whole machine and run only at the trusted level',
          );
        return apply(create, def, [ctx]);
      },
      createCpu: (ctx: unknown, state: unknown) => {
        if (wrapHandles)
          throw new Error(
            'CPU plugins reach guest RAM directly on every instruction and run only at the trusted level',
          );
        return apply(create, def, [ctx, state]);
      },
      migrateState: (from: number, data: unknown) => {
        if (typeof migrate !== 'function') return undefined;
        if (!wrapHandles) return apply(migrate, def, [from, data]);
        return guarded(() => copyOut(apply(migrate, def, [from, copyIn(data)])));
      },
    });
  };

  const evaluateModule = (
    compartment: any,
    code: string,
    filename: string,
    require: unknown,
  ): unknown =>
    guarded(() => {
      const module: any = { exports: {} };
      const g = compartment.globalThis;
      g.module = module;
      g.exports = module.exports;
      g.require = require;
      compartment.evaluate(`${code}\n//# sourceURL=${filename}`);
      return module.exports;
    });

  return harden({ plugin, evaluateModule });
}
