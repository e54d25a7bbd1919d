/**
 * The membrane: the code that stands between plugin code in a locked realm and the kernel's
 * handles in the host realm.
 *
 * `makeMembrane` is evaluated INSIDE the locked realm from its own source text (see
 * confined.ts), so every object and function it makes is the realm's own and hardened. It
 * receives the host's facades and hands plugin code only realm values: handles become
 * realm-made wrappers whose closures hold the host functions, results and errors are copied
 * into realm values, region handles become opaque realm tokens, and whatever plugin code
 * passes back (byte arrays, tokens, callbacks, state) is checked or copied before the host
 * sees it. A host object reaching plugin code would give it the host's `Function` through
 * `x.constructor.constructor`, and from there `process`.
 *
 * The function must be self-contained: it is serialized with `toString()`, so it may use
 * only its parameters and the realm's globals, never anything of this module.
 */
// biome-ignore-all lint/suspicious/noExplicitAny: the membrane handles values of every kind by design

export interface Membrane {
  deviceContext(host: unknown): unknown;
  iommuContext(host: unknown): unknown;
  /** Wraps what a plugin's `create` returned, for the host to call. */
  deviceModel(model: unknown): unknown;
  iommuModel(model: unknown): unknown;
  /** Copies host data (saved state, options) into realm values. */
  copyIn(data: unknown): unknown;
}

export function makeMembrane(harden: <T>(x: T) => T): Membrane {
  const U8 = Uint8Array;

  /** Host data into realm data: primitives, arrays, plain objects and typed arrays. */
  const copyIn = (v: any, depth = 0): any => {
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
    if (t !== 'object') throw new TypeError(`cannot pass a ${t} into a plugin`);
    if (ArrayBuffer.isView(v)) {
      // A temporary realm view over the host buffer, never exposed: only the copy is.
      const out = new U8(v.byteLength);
      out.set(new U8(v.buffer as ArrayBuffer, v.byteOffset, v.byteLength));
      return out;
    }
    if (Array.isArray(v)) {
      const out: any[] = [];
      for (let i = 0; i < v.length; i++) out.push(copyIn(v[i], depth + 1));
      return out;
    }
    const out: any = {};
    for (const k of Object.keys(v)) out[k] = copyIn(v[k], depth + 1);
    return out;
  };

  /** A host error as a realm error, keeping its code and message only. */
  const realmError = (e: any): Error => {
    const err: any = new Error(typeof e?.message === 'string' ? e.message : String(e));
    err.name = 'EmuhostError';
    if (typeof e?.code === 'string') err.code = e.code;
    return err;
  };
  /** Calls a host function; a host exception becomes a realm one. */
  const call = (f: (...a: any[]) => any, ...args: any[]): any => {
    try {
      return f(...args);
    } catch (e) {
      throw realmError(e);
    }
  };

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
  // The typed-array intrinsics, captured before any plugin code runs. Plugin code can put an
  // own `set` (or `buffer`) on its arrays; the kernel must never call anything on them.
  const taProto = Object.getPrototypeOf(U8.prototype);
  const getter = (k: PropertyKey) => Object.getOwnPropertyDescriptor(taProto, k)!.get!;
  const getTag = getter(Symbol.toStringTag);
  const getBuffer = getter('buffer');
  const getOffset = getter('byteOffset');
  const getLength = getter('byteLength');
  const apply = Reflect.apply;
  /**
   * A plugin's byte array as the kernel may use it: a fresh realm view over the same bytes,
   * with nothing of the plugin's on it. The intrinsic getters are also the brand check: a
   * proxy, a look-alike or another kind of array is refused.
   */
  const bytes = (x: any, what: string): Uint8Array => {
    if (apply(getTag, x, []) !== 'Uint8Array') throw new TypeError(`${what} must be a Uint8Array`);
    return new U8(apply(getBuffer, x, []), apply(getOffset, x, []), apply(getLength, x, []));
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

  const dma = (h: any): any => {
    const sg = (list: any, what: string): any[] => {
      if (!Array.isArray(list)) throw new TypeError(`${what} must be an array`);
      return list.map((e: any) => ({
        addr: num(e?.addr, `${what}[].addr`),
        len: num(e?.len, `${what}[].len`),
      }));
    };
    const sgResult = (r: any): any =>
      harden({
        result: dmaResult(r.result),
        transferred: Number(r.transferred),
        residual: Number(r.residual),
      });
    const loads = [
      'readU8',
      'readU16LE',
      'readU16BE',
      'readU32LE',
      'readU32BE',
      'readU64LE',
      'readU64BE',
    ];
    const stores32 = ['writeU8', 'writeU16LE', 'writeU16BE', 'writeU32LE', 'writeU32BE'];
    const hRead = h.read;
    const hWrite = h.write;
    const o: any = {
      // The hot paths call the host directly (no rest/spread arrays per crossing).
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
        dmaResult(call(h.fill, num(a, 'addr'), num(b, 'byte'), num(len, 'len'))),
      canAccess: (a: any, len: any, access: any) =>
        call(h.canAccess, num(a, 'addr'), num(len, 'len'), str(access, 'access')) === true,
      map: (a: any, len: any, access: any, onInvalidate?: any) => {
        // A view of guest RAM is a host object: the realm gets a copy, written back at release.
        let realm: any;
        const cb = onInvalidate === undefined ? undefined : fn(onInvalidate, 'onInvalidate');
        const m = call(
          h.map,
          num(a, 'addr'),
          num(len, 'len'),
          str(access, 'access'),
          cb === undefined ? undefined : () => cb(realm),
        );
        if (typeof m?.release !== 'function') return dmaError(m);
        const hostBytes = m.bytes;
        const buf = new U8(hostBytes.length);
        buf.set(hostBytes);
        realm = harden({
          bytes: buf,
          addr: Number(m.addr),
          access: String(m.access),
          shortfall: Number(m.shortfall),
          direct: false,
          get valid() {
            return m.valid === true;
          },
          release: (written: any) => {
            const n = Math.max(0, Math.min(num(written, 'written'), buf.length));
            // The copy goes back through the context while the mapping still stands (the
            // same translation the map used), never through a live view of host memory.
            if (m.access === 'write' && n > 0 && m.valid === true) {
              const r = call(h.write, Number(m.addr), buf.subarray(0, n));
              if (r !== 'ok') {
                call(m.release, 0);
                return dmaError(r);
              }
            }
            return dmaResult(call(m.release, 0));
          },
        });
        return realm;
      },
      readSg: (list: any, into: any) =>
        sgResult(call(h.readSg, sg(list, 'sg'), bytes(into, 'into'))),
      writeSg: (list: any, data: any) =>
        sgResult(call(h.writeSg, sg(list, 'sg'), bytes(data, 'data'))),
    };
    for (const k of loads) {
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
    for (const k of stores32)
      o[k] = (a: any, v: any) => dmaResult(call(h[k], num(a, 'addr'), num(v, 'value')));
    for (const k of ['writeU64LE', 'writeU64BE'])
      o[k] = (a: any, v: any) => dmaResult(call(h[k], num(a, 'addr'), big(v, 'value')));
    return harden(o);
  };

  const irq = (h: any): any =>
    harden({
      get level() {
        return h.level === 1 ? 1 : 0;
      },
      set: (l: any) => call(h.set, l ? 1 : 0),
      raise: () => call(h.raise),
      lower: () => call(h.lower),
      pulse: () => call(h.pulse),
    });

  const clock = (h: any): any =>
    harden({
      now: () => Number(call(h.now)),
      timer: (name: any, cb: any) => {
        const f = fn(cb, 'callback');
        const t = call(h.timer, str(name, 'name'), () => {
          f();
        });
        return harden({
          armAt: (ns: any) => call(t.armAt, num(ns, 'ns')),
          armIn: (ns: any) => call(t.armIn, num(ns, 'ns')),
          cancel: () => call(t.cancel),
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
      debug: (m: any) => call(h.debug, String(m)),
      info: (m: any) => call(h.info, String(m)),
      warn: (m: any) => call(h.warn, String(m)),
      error: (m: any) => call(h.error, String(m)),
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

  /** Plugin MMIO callbacks as the kernel calls them: realm attrs in, values out. */
  const mmioOps = (ops: any): any => {
    const read = fn(ops?.read, 'ops.read');
    const write = fn(ops?.write, 'ops.write');
    return harden({
      read: (o: number, s: number, a: any) => read(o, s, attrsIn(a)),
      write: (o: number, s: number, v: number | bigint, a: any) => write(o, s, v, attrsIn(a)),
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
    return {
      ...(valid !== undefined && {
        valid: {
          ...valid,
          ...(accepts !== undefined && {
            accepts: (o: number, s: number, w: boolean) => accepts(o, s, w) === true,
          }),
        },
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
            call(
              h.map,
              regions.host(t, 'map'),
              num(addr, 'addr'),
              prio === undefined ? undefined : num(prio, 'priority'),
            ),
          mapIo: (t: any, port: any) => call(h.mapIo, regions.host(t, 'mapIo'), num(port, 'port')),
          irq: (name: any) => irq(call(h.irq, str(name, 'name'))),
        });
  const mmio =
    (h: any, regions: ReturnType<typeof makeRegions>) =>
    (name: any, size: any, ops: any, r?: any) =>
      regions.issue(call(h.mmio, str(name, 'name'), num(size, 'size'), mmioOps(ops), rules(r)));
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

  const deviceContext = (h: any): any => {
    const regions = makeRegions();
    const pciH = h.pci;
    const pci =
      pciH === undefined
        ? undefined
        : harden({
            requesterId: Number(pciH.requesterId),
            bar: (i: any, spec: any, t: any) =>
              call(
                pciH.bar,
                num(i, 'index'),
                {
                  kind: str(spec?.kind, 'kind'),
                  size: num(spec?.size, 'size'),
                  ...(spec?.is64 !== undefined && { is64: spec.is64 === true }),
                  ...(spec?.prefetchable !== undefined && {
                    prefetchable: spec.prefetchable === true,
                  }),
                },
                regions.host(t, 'bar'),
              ),
            addMsi: (spec?: any) => {
              const m = call(pciH.addMsi, spec === undefined ? undefined : copyIn(spec));
              return harden({
                get enabled() {
                  return m.enabled === true;
                },
                notify: (v?: any) => {
                  const r = call(m.notify, v === undefined ? undefined : num(v, 'vector'));
                  return r === undefined ? undefined : dmaResult(r);
                },
              });
            },
            configRead: (o: any, s: any) =>
              Number(call(pciH.configRead, num(o, 'offset'), num(s, 'size'))),
            configSet: (o: any, s: any, v: any) =>
              call(pciH.configSet, num(o, 'offset'), num(s, 'size'), num(v, 'value')),
            configSetWritable: (o: any, s: any, m: any) =>
              call(pciH.configSetWritable, num(o, 'offset'), num(s, 'size'), num(m, 'mask')),
            onConfigWrite: (cb: any) => {
              const f = fn(cb, 'callback');
              call(pciH.onConfigWrite, (o: number, s: number, v: number) => {
                f(o, s, v);
              });
            },
          });
    const getClock = lazy(() => clock(call(() => h.clock)));
    const getDma = lazy(() => dma(call(() => h.dma)));
    const getIrq = lazy(() => irq(call(() => h.irq)));
    return harden({
      id: String(h.id),
      options: harden(copyIn(h.options)),
      log: log(h.log),
      get clock() {
        return getClock();
      },
      get dma() {
        return getDma();
      },
      get irq() {
        return getIrq();
      },
      mmio: mmio(h, regions),
      pci,
      platform: platform(h.platform, regions),
    });
  };

  const iommuContext = (h: any): any => {
    const regions = makeRegions();
    const getClock = lazy(() => clock(call(() => h.clock)));
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
          call(
            h.host.invalidate,
            scope === undefined
              ? undefined
              : {
                  ...(scope.iova !== undefined && { iova: num(scope.iova, 'iova') }),
                  ...(scope.len !== undefined && { len: num(scope.len, 'len') }),
                  ...(req !== undefined && { requesters: (rid: number) => req(rid) === true }),
                },
          );
        },
      }),
      memory: dma(h.memory),
      mmio: mmio(h, regions),
      platform: platform(h.platform, regions),
    });
  };

  /** What the kernel calls on a device model; results come back as plain values. */
  const deviceModel = (m: any): any => {
    if (m === null || typeof m !== 'object')
      throw new TypeError('create must return an object (the device model)');
    return harden({
      ...(typeof m.reset === 'function' && { reset: () => void m.reset() }),
      ...(typeof m.saveState === 'function' && { saveState: () => m.saveState() }),
      ...(typeof m.dispose === 'function' && { dispose: () => void m.dispose() }),
    });
  };

  const reqCache = new Map<string, any>();
  const iommuModel = (m: any): any => {
    const base = deviceModel(m);
    const translate = fn(m?.translate, 'translate');
    const attach = typeof m.attach === 'function' ? m.attach : undefined;
    const detach = typeof m.detach === 'function' ? m.detach : undefined;
    const req = (r: any, withProbe: boolean) => {
      const key = `${r.requesterId}:${r.device}:${withProbe && r.probe === true}`;
      let v = reqCache.get(key);
      if (v === undefined) {
        v = harden({
          requesterId: Number(r.requesterId),
          device: String(r.device),
          ...(withProbe && { probe: r.probe === true }),
        });
        reqCache.set(key, v);
      }
      return v;
    };
    return harden({
      ...base,
      translate: (iova: number, access: string, r: any) => {
        const e = translate(iova, access, req(r, true));
        // Copied field by field, so the kernel never runs plugin getters.
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
      },
      ...(attach !== undefined && { attach: (r: any) => void attach(req(r, false)) }),
      ...(detach !== undefined && { detach: (r: any) => void detach(req(r, false)) }),
    });
  };

  return harden({
    deviceContext,
    iommuContext,
    deviceModel,
    iommuModel,
    copyIn: (d: unknown) => harden(copyIn(d)),
  });
}
